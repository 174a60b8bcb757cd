"""npg's version, one place: ``npg.__version__`` and the application (``npg --version``, run.json,
checkpoint manifests) read it from here."""

VERSION = "0.1.0"
