"""Many agents at once: seeds x hyper-parameters as one vmapped program, and its results.

- ``result``: ``SweepResult`` (leaves lead with the axes ``("combo", "seed")``) and ``to_table``
- ``divergence``: ``check`` and ``DivergenceError``: non-finite training never passes as a result
- ``distributed``: inputs placed per process and results gathered under ``jax.distributed``
- ``shards``: shards of a sweep's agent axis (``SweepPart``) and ``merge_sweeps``
- ``sweep``: ``sweep``: the grid laid out, sharded over devices, run in chunks; ``bytes_per_agent``
- ``parts``: shards saved in a run folder (``shards/I-of-N/``) and merged into one run
- ``ray_sweep``: ``sweep_on_ray``, the shards as Ray tasks, retried, saved as they finish
"""
