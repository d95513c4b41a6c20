"""dqn-jax: Deep Q-Networks as pure, jit-compiled JAX functions."""

from dqn_jax import replay
from dqn_jax.config import DQNConfig, HParams
from dqn_jax.envs import EnvSpec, make_env, supported_envs
from dqn_jax.evaluation import evaluate
from dqn_jax.exploration import epsilon_greedy, linear_schedule
from dqn_jax.networks import QNetwork
from dqn_jax.replay import ReplayState, Transition
from dqn_jax.target_network import crossings, update_target
from dqn_jax.train import LogAccumulator, Metrics, TrainResult, TrainState, make_train
from dqn_jax.update import (
    Batch,
    QParams,
    UpdateInfo,
    batch_from_sequence,
    make_optimizer,
    td_update,
)
from dqn_jax.value_learning import (
    double_q_learning_target,
    n_step_return,
    q_learning_target,
    td_loss,
)

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "DQNConfig",
    "EnvSpec",
    "HParams",
    "LogAccumulator",
    "Metrics",
    "QNetwork",
    "QParams",
    "ReplayState",
    "TrainResult",
    "TrainState",
    "Transition",
    "UpdateInfo",
    "batch_from_sequence",
    "crossings",
    "double_q_learning_target",
    "epsilon_greedy",
    "evaluate",
    "linear_schedule",
    "make_env",
    "make_optimizer",
    "make_train",
    "n_step_return",
    "q_learning_target",
    "replay",
    "supported_envs",
    "td_loss",
    "td_update",
    "update_target",
]
