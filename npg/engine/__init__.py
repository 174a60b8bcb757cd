"""The engine: code that exists only for speed, each piece tested equal to the textbook.

The updaters in ``npg.algos`` are the reference; where an update or an acting step has a
compiled path, it lives here and agrees with the reference to floating-point rounding.
PPO calls one surface, ``ppo`` (applies / ready / update / act / value / act_value / fused);
behind it:

``ppo_loop``   PPO's whole inner loop compiled (epochs, minibatches, clipping, Adam)
``ppo_losses`` PPO's loss layer for categorical, Gaussian and gSDE actors, and the value loss
``mlp``        an MLP's forward and backward inside the flat parameter vector
``records``    the named records passed to the kernels (``Hyper``, ``STEP_STATS``, ``LAYER``)
``acting``, ``acting_continuous``   one compiled call per environment step
``kernels``    fused Numba kernels (bias + activation, narrow heads, Adam, small MLPs)
``gemm``       BLAS GEMM called from compiled code;  ``blas``  BLAS thread control
``tanh``       the engine's float64 tanh (tested against ``np.tanh``; float32's is in ``kernels``)
``flat``       one flat parameter vector (and Adam state) for a tree of networks
``threads``    how the update's two threads wait (set before the first parallel call)

Importing it compiles nothing.
"""
