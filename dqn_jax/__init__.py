"""dqn-jax: Deep Q-Networks as pure, jit-compiled JAX functions."""

from dqn_jax import prioritized, replay, sum_tree, tracking
from dqn_jax.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dqn_jax.config import DQNConfig, HParams
from dqn_jax.divergence import DivergenceError, check
from dqn_jax.envs import EnvSpec, make_env, supported_envs
from dqn_jax.evaluation import evaluate
from dqn_jax.exploration import boltzmann, epsilon_greedy, linear_schedule
from dqn_jax.networks import QNetwork
from dqn_jax.policy import act
from dqn_jax.prioritized import PriorityState
from dqn_jax.progress import ProgressBar
from dqn_jax.replay import ReplayState, Transition
from dqn_jax.runs import load, save
from dqn_jax.sweep import SweepResult, bytes_per_agent, sweep, to_table
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
    "Checkpoint",
    "DQNConfig",
    "DivergenceError",
    "EnvSpec",
    "HParams",
    "LogAccumulator",
    "Metrics",
    "PriorityState",
    "ProgressBar",
    "QNetwork",
    "QParams",
    "ReplayState",
    "SweepResult",
    "TrainResult",
    "TrainState",
    "Transition",
    "UpdateInfo",
    "act",
    "batch_from_sequence",
    "boltzmann",
    "bytes_per_agent",
    "check",
    "crossings",
    "double_q_learning_target",
    "epsilon_greedy",
    "evaluate",
    "linear_schedule",
    "load",
    "load_checkpoint",
    "make_env",
    "make_optimizer",
    "make_train",
    "n_step_return",
    "prioritized",
    "q_learning_target",
    "replay",
    "save",
    "save_checkpoint",
    "sum_tree",
    "supported_envs",
    "sweep",
    "td_loss",
    "td_update",
    "to_table",
    "tracking",
    "update_target",
]
