"""Many agents at once: seeds x hyper-parameters as one vmapped program, and its results.

- ``result``: ``SweepResult`` (leaves lead with the axes ``("combo", "seed")``) and ``to_table``
- ``divergence``: ``check`` and ``DivergenceError``: non-finite training never passes as a result
- ``sweep``: ``sweep``: the grid laid out, sharded over devices, run in chunks; ``bytes_per_agent``
"""
