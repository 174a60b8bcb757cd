"""The application layer: what turns the textbook updaters into runs a user starts and trusts.

``agent`` (``Agent``: learn, act, evaluate, save, load), ``cli`` (the ``npg`` command),
``checkpoint`` / ``agent_checkpoint`` / ``agent_run`` / ``run_dir`` (run directories and
checkpoints read as data, never as code), ``logger``, ``progress``, ``tensorboard``,
``plotting``, ``presets``, ``provenance``, ``interrupt``, ``evaluation``, ``sde_noise`` (the
gSDE exploration noise an agent owns between updates) and ``sweep`` (multi-seed and
hyperparameter sweeps with aggregate statistics). Nothing here derives a gradient.
"""
