"""The training loop: the blocks composed into one jit-compiled program.

- ``train``: ``make_train``: ``init`` + a scan of logging intervals of rounds; ``abstract_state``
- ``finite``: the in-run finiteness checks that stop a diverging agent (``NEVER``, ``all_finite``)
- ``evaluation``: ``evaluate``: greedy episodes in parallel, one jitted scan
- ``policy``: ``act``: the (epsilon-)greedy action of one observation
- ``tracking``: the per-logging-point host hook of the interval loops, with TensorBoard and
  W&B writers
- ``progress``: ``ProgressBar``, fed from the host or by the in-jit progress report

The loop imports the blocks and ``dqn_jax.config``; never sweeps, storage or the faces.
"""
