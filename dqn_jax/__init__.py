"""dqn-jax: Deep Q-Networks as pure, jit-compiled JAX functions."""

from dqn_jax.blocks import prioritized, replay, sum_tree
from dqn_jax.blocks.conv_network import ConvQNetwork
from dqn_jax.blocks.envs import EnvSpec, make_env, supported_envs
from dqn_jax.blocks.exploration import boltzmann, epsilon_greedy, linear_schedule
from dqn_jax.blocks.networks import QNetwork
from dqn_jax.blocks.prioritized import PriorityState
from dqn_jax.blocks.replay import ReplayState, Transition
from dqn_jax.blocks.target_network import crossings, update_target
from dqn_jax.blocks.update import (
    Batch,
    QParams,
    UpdateInfo,
    batch_from_sequence,
    make_optimizer,
    td_update,
)
from dqn_jax.blocks.value_learning import (
    double_q_learning_target,
    n_step_return,
    q_learning_target,
    td_loss,
)
from dqn_jax.config import DQNConfig, HParams
from dqn_jax.loop import tracking
from dqn_jax.loop.evaluation import evaluate
from dqn_jax.loop.policy import act
from dqn_jax.loop.progress import ProgressBar
from dqn_jax.loop.train import LogAccumulator, Metrics, TrainResult, TrainState, make_train
from dqn_jax.scale.divergence import DivergenceError, check
from dqn_jax.scale.result import SweepResult, to_table
from dqn_jax.scale.shards import SweepPart, merge_sweeps
from dqn_jax.scale.sweep import bytes_per_agent, sweep
from dqn_jax.storage.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dqn_jax.storage.compile_cache import use_compile_cache
from dqn_jax.storage.runs import load, save

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "Checkpoint",
    "ConvQNetwork",
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
    "SweepPart",
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
    "merge_sweeps",
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
    "use_compile_cache",
]
