"""Settings tuned per environment: what ``DQNConfig.for_env(env_name)`` starts from.

Each entry lists the ``DQNConfig`` fields that differ from the defaults (which are tuned for
CartPole-v1). An environment without an entry trains with the defaults.
"""

from __future__ import annotations

from typing import Any

# The MinAtar games (Young & Tian, 2019), 10x10 images of 0/1 channels. These are a first,
# paper-like setting, the starting point for tuning by long runs (BENCHMARKS.md): the paper's
# network (one 16-filter 3x3 conv, 128 dense), Huber loss, replay 100k, batch 32, hard target
# updates every 1,000 env steps, epsilon 1 -> 0.1 over 100k steps, gamma 0.99, a constant
# learning rate (Adam in place of the paper's centred RMSProp 2.5e-4). Unlike the paper: one
# gradient step per 4 env steps (the paper took one per step; Atari DQN one per 4), Double DQN
# (the library's default), LayerNorm in the dense head, no sticky actions (gymnax's MinAtar as
# shipped; the paper used 0.1: ``sticky_action_prob``). One-step targets, as the paper: the
# library's default 3-step returns held Asterix and Freeway on an early plateau (BENCHMARKS.md,
# "MinAtar"; Asterix stays on it with epsilon ending at 0.01 too). Breakout keeps 3-step returns,
# which did better there in the same 1M-step runs. Asterix and Freeway end epsilon at 0.01 in
# place of the paper's 0.1 (as Dopamine's MinAtar DQN does): the same 1M-step runs scored
# higher both greedily and at epsilon 0.05 (Freeway 51.8 against 47.6, Asterix 14.5 against
# 12.0). Breakout keeps 0.1: at 0.01 it scored higher greedily but lower at epsilon 0.05 (15.9
# against 22.3); SpaceInvaders keeps 0.1 until measured. Asterix and Breakout train on the
# squared TD error in place of Huber's (as the Revisiting Rainbow study found best with Adam on
# MinAtar): at epsilon 0.05 Asterix scored 25.5 against 14.5 and Breakout 30.8 against 22.3
# (probably as Huber's gradient, capped at 1, slows values that grow by tens); on Freeway it
# was level (52.2 against 51.8), so Freeway keeps Huber's. On Asterix a learning rate of 1e-4
# or 5e-4, batch 64, twice the gradient steps or a dueling head were none of them clearly
# better under Huber.
MINATAR: dict[str, Any] = {
    "total_timesteps": 1_000_000,
    "num_envs": 8,
    "train_frequency": 8,
    "gradient_steps": 2,
    "buffer_size": 100_000,
    "batch_size": 32,
    "learning_starts": 5_000,
    "target_update_period": 1_000,
    "tau": 1.0,
    "learning_rate": 2.5e-4,
    "lr_decay": False,
    "gamma": 0.99,
    "loss": "huber",
    "double": True,
    "n_step": 1,
    "epsilon_start": 1.0,
    "epsilon_end": 0.1,
    "epsilon_decay_steps": 100_000,
    "network": "conv",
    "conv_channels": (16,),
    "conv_kernel": 3,
    "hidden_sizes": (128,),
    "activation": "relu",
    "layer_norm": True,
    "dueling": None,
    "log_interval": 20_000,
}

TUNED: dict[str, dict[str, Any]] = {
    "CartPole-v1": {},  # the DQNConfig defaults are tuned for it
    "Asterix-MinAtar": {**MINATAR, "epsilon_end": 0.01, "loss": "mse"},
    "Breakout-MinAtar": {**MINATAR, "n_step": 3, "loss": "mse"},
    "Freeway-MinAtar": {**MINATAR, "epsilon_end": 0.01},
    "Seaquest-MinAtar": MINATAR,
    "SpaceInvaders-MinAtar": MINATAR,
}


def tuned_settings(env_name: Any) -> dict[str, Any]:
    """The fields tuned for ``env_name`` (a copy; empty for an environment without tuned
    settings, which then trains with the ``DQNConfig`` defaults)."""
    if not isinstance(env_name, str):
        return {}
    return dict(TUNED.get(env_name, {}))


def has_tuned_settings(env_name: Any) -> bool:
    """Whether ``env_name`` has an entry in ``TUNED``."""
    return isinstance(env_name, str) and env_name in TUNED
