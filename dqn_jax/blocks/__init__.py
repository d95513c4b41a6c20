"""The building blocks: pure functions over pytrees, each a small module of one concept.

- ``envs``: gymnax environments checked for DQN; observations preprocessed for the network
- ``observations``: observations as the replay stores them (bit-packed, uint8 or float32)
- ``networks``: ``QNetwork``, an Equinox Q-network called on one observation
- ``conv_network``: ``ConvQNetwork``, a convolutional torso under the same head, for images
- ``replay``: ``ReplayState``, a ring buffer with pure ``init`` / ``add`` / ``sample``
- ``sum_tree``: the float32-exact sum-tree behind prioritized sampling
- ``prioritized``: prioritized replay's ``PriorityState``: ``init`` / ``add`` / ``sample`` /
  ``update``
- ``value_learning``: per-sample TD math: (Double) Q-learning targets, n-step returns, TD losses
- ``exploration``: ``linear_schedule``, ``epsilon_greedy``, ``boltzmann``
- ``schedules``: the run-length schedules (learning-rate decay, PER's beta), re-targeted when a
  run is extended
- ``target_network``: target updates on the env-step clock (``crossings``, ``update_target``)
- ``update``: the optimiser and the jitted ``td_update`` of the online parameters

Blocks import only each other (and ``dqn_jax.config`` for type hints): never the loop above them.
"""
