"""Runs on disk.

- ``atomic_file``: crash-safe writes: a synced temporary file, then ``os.replace``
- ``config_file``: a ``DQNConfig`` from text: flag values and TOML / YAML / JSON files
- ``checkpoint``: checkpoint files: the full ``TrainState``, written crash-safely, checked on load
- ``compile_cache``: JAX's persistent compilation cache, on with ``use_compile_cache()``
- ``programs``: whole compiled programs on disk, loaded without tracing (the command line's)
- ``runs``: saved-run folders (``config.json``, ``metrics.csv``), ``save`` / ``load``, and
  training interval by interval
"""
