"""Checks for the course notebooks in ``notebooks/``: ``check_<name>(fn)`` tests a student's
``fn`` against a small reference implementation and explains what is wrong.

Every check either prints one line starting with ``"Passed"`` or raises :class:`CheckFailed`
(an ``AssertionError``) whose message names the case that failed, the value expected and the
value got, and where it can, the likely mistake (a missing terminal mask, a gradient through the
target, a max over the wrong axis, ...). A stub that still raises ``NotImplementedError`` gets
a "not implemented yet" message.

One module per notebook:

- ``tabular`` (1 · Tabular Q-learning): :func:`check_td0_update`, :func:`check_epsilon_greedy`
- ``from_tables`` (2 · From tables to networks): :func:`check_monte_carlo_returns`,
  :func:`check_semi_gradient_td_update`, :func:`check_fqi_iteration`
- ``dqn`` (3 · DQN from scratch): :func:`check_replay_add`, :func:`check_replay_sample`,
  :func:`check_epsilon_greedy` (again), :func:`check_q_learning_target`,
  :func:`check_td_loss`, :func:`check_td_update`, :func:`check_sync_target`
- ``beyond`` (4 · Beyond DQN): :func:`check_double_q_target`, :func:`check_dueling_aggregate`,
  :func:`check_per_probabilities`, :func:`check_importance_weights`
- ``sweeps`` (5 · Seed sweeps): :func:`check_confidence_band`, :func:`check_stack_hparams`
  (and :func:`t_critical`, which the notebook imports from here)
- ``pixels`` (6 · From pixels): :func:`check_conv3x3_same`, :func:`check_conv_q_values`,
  :func:`check_pack_observation`, :func:`check_unpack_observation`

``_common`` holds what they share. The references are deliberately plain: one equation each,
written for readability.
"""

from dqn_jax.homework._common import CheckFailed
from dqn_jax.homework.beyond import (
    check_double_q_target,
    check_dueling_aggregate,
    check_importance_weights,
    check_per_probabilities,
)
from dqn_jax.homework.dqn import (
    check_q_learning_target,
    check_replay_add,
    check_replay_sample,
    check_sync_target,
    check_td_loss,
    check_td_update,
)
from dqn_jax.homework.from_tables import (
    check_fqi_iteration,
    check_monte_carlo_returns,
    check_semi_gradient_td_update,
)
from dqn_jax.homework.pixels import (
    check_conv3x3_same,
    check_conv_q_values,
    check_pack_observation,
    check_unpack_observation,
)
from dqn_jax.homework.sweeps import check_confidence_band, check_stack_hparams, t_critical
from dqn_jax.homework.tabular import check_epsilon_greedy, check_td0_update

__all__ = [
    "CheckFailed",
    "check_confidence_band",
    "check_conv3x3_same",
    "check_conv_q_values",
    "check_double_q_target",
    "check_dueling_aggregate",
    "check_epsilon_greedy",
    "check_fqi_iteration",
    "check_importance_weights",
    "check_monte_carlo_returns",
    "check_pack_observation",
    "check_per_probabilities",
    "check_q_learning_target",
    "check_replay_add",
    "check_replay_sample",
    "check_semi_gradient_td_update",
    "check_stack_hparams",
    "check_sync_target",
    "check_td0_update",
    "check_td_loss",
    "check_td_update",
    "check_unpack_observation",
    "t_critical",
]
