"""The static configuration (:class:`DQNConfig`) and the traced hyper-parameters (:class:`HParams`).

Sizes and switches live in the frozen, hashable :class:`DQNConfig`: changing one compiles a new
program. The numbers a user sweeps live in :class:`HParams`, a pytree of arrays that ``train``
takes as an argument, so ``jax.vmap`` can sweep them and a new value never recompiles.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from dqn_jax.blocks.envs import EnvSpec, make_env
from dqn_jax.blocks.networks import ACTIVATIONS, DUELING, NETWORKS, network_kind
from dqn_jax.tuned import tuned_settings

LOSSES = ("mse", "huber")
INT32_MAX = 2**31 - 1  # env-step counters are int32


@dataclasses.dataclass(frozen=True)
class _Range:
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: np.ndarray) -> np.ndarray:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above & below & ~np.isnan(value)

    def __str__(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{_bound(self.low)}, {_bound(self.high)}{right}"


def _bound(x: float) -> str:
    """``1`` and ``2147483647`` in full (not ``2.14748e+09``), other floats as ``%g``."""
    return str(int(x)) if math.isfinite(x) and float(x).is_integer() else f"{x:g}"


_POSITIVE = _Range(0.0, math.inf, low_open=True, high_open=True)
_UNIT = _Range(0.0, 1.0)

# Allowed range of every traced hyper-parameter, shared by DQNConfig and HParams.
HPARAM_RANGES: dict[str, _Range] = {
    "learning_rate": _POSITIVE,
    "gamma": _UNIT,
    "tau": _Range(0.0, 1.0, low_open=True),
    "target_update_period": _Range(1, INT32_MAX),
    "epsilon_start": _UNIT,
    "epsilon_end": _UNIT,
    "epsilon_decay_steps": _Range(0, math.inf, high_open=True),
    "max_grad_norm": _Range(0.0, math.inf, low_open=True),
    "huber_delta": _POSITIVE,
    "per_alpha": _UNIT,
    "per_beta": _UNIT,
    "per_eps": _POSITIVE,
    "temperature_start": _POSITIVE,
    "temperature_end": _POSITIVE,
    "temperature_decay_steps": _Range(0, math.inf, high_open=True),
}

PRIORITIZED = (None, "proportional", "rank")
EXPLORATION = ("epsilon_greedy", "boltzmann")


def _variant(
    double: bool = False,
    dueling: str | None = None,
    prioritized: str | None = None,
    n_step: int = 1,
) -> dict[str, Any]:
    return dict(double=double, dueling=dueling, prioritized=prioritized, n_step=n_step)


# Named combinations of the DQN family (every flag also works alone). Each preset sets every
# switch of the family, so it means the same whatever the defaults are.
PRESETS: dict[str, dict[str, Any]] = {
    "dqn": _variant(),
    "double": _variant(double=True),
    "dueling": _variant(dueling="mean"),
    "double_dueling": _variant(double=True, dueling="mean"),
    "per": _variant(prioritized="proportional"),
    "n_step": _variant(n_step=3),
    "double_dueling_per": _variant(double=True, dueling="mean", prioritized="proportional"),
    "rainbow_lite": _variant(double=True, dueling="mean", prioritized="proportional", n_step=3),
}


def _check_range(name: str, value: Any) -> None:
    try:
        if np.asarray(value).dtype.kind not in "iuf":  # not bool, str or None
            raise TypeError
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number in {HPARAM_RANGES[name]}") from None
    bad = ~HPARAM_RANGES[name].contains(values)
    if bad.any():
        shown = values[bad].reshape(-1)[0].item()
        if float(shown).is_integer():
            shown = int(shown)
        raise ValueError(f"{name}={shown!r} is outside the allowed range {HPARAM_RANGES[name]}")


def _check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> None:
    allowed = f"[{minimum}, inf)" if maximum is None else f"[{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if maximum is None:
            raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
        raise ValueError(f"{name}={value!r} must be an integer in {allowed}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name}={value!r} is outside the allowed range {allowed}")


def _check_integral(name: str, value: Any) -> None:
    """Every element of ``value`` (already range-checked) is a whole number."""
    values = np.asarray(value, dtype=np.float64)
    fractional = np.mod(values, 1) != 0
    if fractional.any():
        shown = values[fractional].reshape(-1)[0].item()
        raise ValueError(f"{name}={shown!r} must be an integer in {HPARAM_RANGES[name]}")


def _check_multiple(name: str, value: int, of_name: str, of: int) -> None:
    if value % of:
        lower, upper = value - value % of, value - value % of + of
        nearest = f"{lower} or {upper}" if lower > 0 else f"{upper}"
        raise ValueError(
            f"{name}={value} must be a multiple of {of_name}={of} (nearest valid: {nearest})"
        )


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """Everything static about a DQN run; validated on construction.

    The defaults solve CartPole-v1 in 50,000 env steps and 6,126 gradient steps: 58 of 60 seeds'
    final networks (``BENCHMARKS.md``, the sample-efficiency front). "Env steps" count
    transitions summed over the parallel environments, as in SB3 and CleanRL. The floats marked
    *traced* are only the defaults of :class:`HParams`; ``train(key, hparams)`` may override them.
    """

    # --- environment ---
    env_name: str = "CartPole-v1"
    """Registered gymnax environment id with a discrete action space. The other defaults are
    tuned for CartPole-v1: ``DQNConfig.for_env(env_name)`` gives the settings tuned for
    another environment."""
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    """Keyword arguments for ``gymnax.make``; a dict is accepted and stored as sorted pairs."""
    sticky_action_prob: float = 0.0
    """Probability, in [0, 1), that the env repeats its last action instead of the chosen one
    (gymnax's ``StickyActionWrapper``, in training and evaluation; the MinAtar paper used 0.1)."""

    # --- amount of experience ---
    total_timesteps: int = 50_000
    """Env steps to train for; a multiple of ``log_interval``."""
    num_envs: int = 8
    """Parallel environments stepped together (vmapped)."""

    # --- replay ---
    buffer_size: int = 50_000
    """Replay capacity in transitions; the oldest are overwritten when it is full."""
    batch_size: int = 128
    """Transitions per gradient step."""
    learning_starts: int = 1_000
    """Env steps collected before the first gradient step; at least ``batch_size``."""
    train_frequency: int = 8
    """Env steps between rounds of gradient steps; a multiple of ``num_envs``."""
    gradient_steps: int = 1
    """Gradient steps per round."""

    # --- target network ---
    target_update_period: int = 8
    """Env steps between target updates (traced). The update fires whenever the env-step count
    crosses a multiple of it, also when ``train_frequency`` does not divide it."""
    tau: float = 0.2
    """Target update step size (traced): 1.0 is a hard copy, below 1 a Polyak average
    ``target <- tau * online + (1 - tau) * target``."""

    # --- optimisation ---
    learning_rate: float = 4e-3
    """Adam learning rate (traced)."""
    lr_decay: bool = True
    """Decay the learning rate linearly to 0 over the run's gradient steps."""
    max_grad_norm: float = 10.0
    """Gradients are clipped to this global norm (traced); ``math.inf`` turns clipping off."""
    gamma: float = 0.995
    """Discount factor (traced), in [0, 1]."""
    loss: Literal["mse", "huber"] = "mse"
    """TD loss: ``"mse"`` is 0.5 * delta**2, ``"huber"`` is quadratic up to ``huber_delta``."""
    huber_delta: float = 1.0
    """Where the Huber loss turns from quadratic to linear (traced)."""
    double: bool = True
    """Double DQN: the online net picks the next action, the target net values it."""
    n_step: int = 3
    """Steps summed before bootstrapping (1 is one-step Q-learning); the sum stops at an
    episode's end, and a truncation still bootstraps. With the earlier defaults (2 gradient
    steps per round) 3 solved 58 of 60 CartPole seeds against 1's 24 of 30 (BENCHMARKS.md)."""

    # --- prioritized replay ---
    prioritized: str | None = None
    """Prioritized replay: ``None`` (uniform), ``"proportional"`` (``p = (|delta| + eps)^alpha``)
    or ``"rank"`` (``p = (1 / rank)^alpha``); see ``dqn_jax.prioritized``."""
    per_alpha: float = 0.6
    """Priority exponent alpha (traced), in [0, 1]; 0 is uniform sampling."""
    per_beta: float = 0.4
    """Initial importance-sampling exponent beta (traced), in [0, 1]; it rises linearly to 1 over
    the run."""
    per_eps: float = 1e-6
    """Added to |TD error| before the exponent (traced), so no slot's priority is 0."""
    rank_resort_interval: int = 1_000
    """Rank-based replay: env steps between exact re-sorts of all priorities; a multiple of
    ``train_frequency``."""

    # --- exploration ---
    exploration: str = "epsilon_greedy"
    """``"epsilon_greedy"`` or ``"boltzmann"`` (sample ``a`` with probability
    ``softmax(Q / temperature)``)."""
    epsilon_start: float = 1.0
    """Initial epsilon of epsilon-greedy (traced), in [0, 1]."""
    epsilon_end: float = 0.05
    """Final epsilon (traced), in [0, 1]."""
    epsilon_decay_steps: int = 10_000
    """Env steps over which epsilon decays linearly from start to end (traced)."""
    temperature_start: float = 1.0
    """Initial Boltzmann temperature (traced), > 0, in units of Q."""
    temperature_end: float = 0.01
    """Final Boltzmann temperature (traced), > 0."""
    temperature_decay_steps: int = 10_000
    """Env steps over which the temperature decays linearly from start to end (traced)."""

    # --- network ---
    network: str = "auto"
    """``"mlp"`` (``QNetwork`` on the flattened observation), ``"conv"`` (``ConvQNetwork``:
    convolutions, then the MLP head; image observations only) or ``"auto"``: conv for image
    observations ``(height, width, channels)``, mlp otherwise."""
    conv_channels: tuple[int, ...] = (16,)
    """Filters of each convolution of the conv network (stride 1, SAME padding); a list is
    accepted and stored as a tuple."""
    conv_kernel: int = 3
    """Side ``k`` of the conv network's ``k x k`` filters."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Widths of the hidden layers of the MLP (the conv network's head); a list is accepted and
    stored as a tuple."""
    activation: str = "relu"
    """Hidden activation, one of ``networks.ACTIVATIONS``."""
    layer_norm: bool = True
    """LayerNorm before each hidden activation."""
    dueling: str | None = None
    """Dueling head: ``None`` (plain), ``"mean"`` or ``"max"`` (the advantage baseline)."""

    # --- logging ---
    log_interval: int = 5_000
    """Env steps between logging points; a multiple of ``train_frequency``."""
    eval_episodes: int = 8
    """Greedy episodes run at every logging point (0 turns the in-training evaluation off)."""

    # --- extending a run ---
    extensions: tuple[tuple[int, int], ...] = ()
    """Set by extending a run (``DQNConfig.extend``, ``train --resume RUN --total-timesteps N``),
    empty for a run planned in one go: one ``(env_step, planned_end)`` pair per extension, the
    env step (a logging point) the run was extended at and the ``total_timesteps`` it had
    planned until then. From each, the learning-rate decay and PER's beta run on from the values
    they had reached to their ends at the new plan's end (``dqn_jax.blocks.schedules``)."""

    def __post_init__(self) -> None:
        # Normalise to hashable types: the config is a static jit argument.
        if isinstance(self.env_kwargs, Mapping):
            # sorted by the keys' text, so a non-string key reaches the check below
            items = sorted(self.env_kwargs.items(), key=lambda kv: str(kv[0]))
            object.__setattr__(self, "env_kwargs", tuple(items))
        for name in ("hidden_sizes", "conv_channels"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if isinstance(self.extensions, (list, tuple)) and all(
            isinstance(pair, (list, tuple)) for pair in self.extensions
        ):  # pairs read from JSON are lists
            object.__setattr__(self, "extensions", tuple(tuple(p) for p in self.extensions))
        # numpy scalars (e.g. from a sweep grid) become Python numbers, which JSON can write
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.integer):
                object.__setattr__(self, field.name, int(value))
            elif isinstance(value, np.floating):
                object.__setattr__(self, field.name, float(value))
        self._validate()

    def _validate(self) -> None:
        if not isinstance(self.env_name, str):
            raise ValueError(f"env_name={self.env_name!r} must be a string")
        if not isinstance(self.env_kwargs, tuple) or not all(
            isinstance(kv, tuple) and len(kv) == 2 and isinstance(kv[0], str)
            for kv in self.env_kwargs
        ):
            raise ValueError(
                f"env_kwargs={self.env_kwargs!r} must be a dict of keyword arguments "
                f"with string keys"
            )
        try:
            hash(self.env_kwargs)
        except TypeError:
            raise ValueError(
                f"env_kwargs={self.env_kwargs!r} must hold hashable values (numbers, strings)"
            ) from None

        for name in ("total_timesteps", "num_envs", "buffer_size", "batch_size"):
            _check_int(name, getattr(self, name), 1)
        for name in ("train_frequency", "gradient_steps", "log_interval"):
            _check_int(name, getattr(self, name), 1)
        _check_int("learning_starts", self.learning_starts, 0)
        _check_int("target_update_period", self.target_update_period, 1, INT32_MAX)
        _check_int("epsilon_decay_steps", self.epsilon_decay_steps, 0)
        _check_int("eval_episodes", self.eval_episodes, 0)
        _check_int("n_step", self.n_step, 1)
        _check_int("rank_resort_interval", self.rank_resort_interval, 1)
        _check_int("temperature_decay_steps", self.temperature_decay_steps, 0)

        if self.total_timesteps > INT32_MAX - self.train_frequency:
            raise ValueError(
                f"total_timesteps={self.total_timesteps} is outside the allowed range "
                f"[1, {INT32_MAX - self.train_frequency}] (env steps are counted in int32)"
            )
        _check_multiple("train_frequency", self.train_frequency, "num_envs", self.num_envs)
        _check_multiple("log_interval", self.log_interval, "train_frequency", self.train_frequency)
        if self.prioritized == "rank":
            _check_multiple(
                "rank_resort_interval",
                self.rank_resort_interval,
                "train_frequency",
                self.train_frequency,
            )
        _check_multiple("total_timesteps", self.total_timesteps, "log_interval", self.log_interval)
        if self.batch_size > self.buffer_size:
            raise ValueError(
                f"batch_size={self.batch_size} must not exceed buffer_size={self.buffer_size}"
            )
        if self.num_envs > self.buffer_size:
            raise ValueError(
                f"num_envs={self.num_envs} must not exceed buffer_size={self.buffer_size}"
            )
        if self.n_step > 1 and self.buffer_size % self.num_envs:
            raise ValueError(
                f"buffer_size={self.buffer_size} must be a multiple of num_envs={self.num_envs} "
                f"when n_step={self.n_step} > 1, so each env's steps stay in order in the buffer"
            )
        if (self.n_step - 1) * self.num_envs >= self.buffer_size:
            raise ValueError(
                f"n_step={self.n_step} is outside the allowed range [1, "
                f"{self.buffer_size // self.num_envs}]: the buffer must hold n_step steps "
                f"of every env"
            )
        least = self.batch_size + (self.n_step - 1) * self.num_envs
        if self.learning_starts < least:
            raise ValueError(
                f"learning_starts={self.learning_starts} must be at least "
                f"batch_size={self.batch_size} + (n_step - 1) * num_envs = {least}, so the first "
                f"batch is drawn from real transitions"
            )
        if self.learning_starts > self.total_timesteps:
            raise ValueError(
                f"learning_starts={self.learning_starts} leaves no gradient step: it must be at "
                f"most total_timesteps={self.total_timesteps}"
            )
        learning_rounds = self.num_rounds - self.first_learning_round
        if self.num_updates > INT32_MAX:
            raise ValueError(
                f"gradient_steps={self.gradient_steps} is outside the allowed range "
                f"[1, {INT32_MAX // learning_rounds}] for this run: {learning_rounds} rounds of "
                f"gradient steps would take {self.num_updates}, more than the int32 update "
                f"counter holds ({INT32_MAX})"
            )

        for name in HPARAM_RANGES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name}={value!r} must be a number in {HPARAM_RANGES[name]}")
            _check_range(name, value)

        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r} must be one of {LOSSES}")
        for name in ("double", "lr_decay", "layer_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r} must be True or False")
        if not isinstance(self.hidden_sizes, tuple) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden_sizes
        ):
            raise ValueError(f"hidden_sizes={self.hidden_sizes!r} must be a tuple of integers >= 1")
        if (
            not isinstance(self.conv_channels, tuple)
            or not self.conv_channels
            or not all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 1
                for c in self.conv_channels
            )
        ):
            raise ValueError(
                f"conv_channels={self.conv_channels!r} must be a non-empty tuple of integers >= 1"
            )
        _check_int("conv_kernel", self.conv_kernel, 1)
        if self.network not in NETWORKS:
            raise ValueError(f"network={self.network!r} must be one of {NETWORKS}")
        sticky = self.sticky_action_prob
        if isinstance(sticky, bool) or not isinstance(sticky, (int, float)):
            raise ValueError(f"sticky_action_prob={sticky!r} must be a number in [0, 1)")
        if not 0.0 <= sticky < 1.0:  # also False for NaN
            raise ValueError(f"sticky_action_prob={sticky!r} is outside the allowed range [0, 1)")
        if self.prioritized not in PRIORITIZED:
            raise ValueError(f"prioritized={self.prioritized!r} must be one of {PRIORITIZED}")
        if self.exploration not in EXPLORATION:
            raise ValueError(f"exploration={self.exploration!r} must be one of {EXPLORATION}")
        if self.dueling not in DUELING:
            raise ValueError(f"dueling={self.dueling!r} must be one of {DUELING}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r} must be one of {tuple(ACTIVATIONS)}")
        self._validate_extensions()
        spec = make_env(self.env_name, self.env_kwargs)  # raises ValueError naming env_name
        network_kind(self.network, spec.obs_shape)  # raises ValueError naming network

    @property
    def env_spec(self) -> EnvSpec:
        """The environment of ``env_name`` and ``env_kwargs``, wrapped for sticky actions when
        ``sticky_action_prob > 0`` (built once, then cached)."""
        return make_env(self.env_name, self.env_kwargs, float(self.sticky_action_prob))

    def _validate_extensions(self) -> None:
        pairs = self.extensions
        if not isinstance(pairs, tuple) or not all(
            len(pair) == 2
            and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in pair)
            for pair in pairs
        ):
            raise ValueError(
                f"extensions={pairs!r} must be a tuple of (env_step, planned_end) integer pairs"
            )
        ends = [end for _, end in pairs] + [self.total_timesteps]
        previous = 0
        for (at, end), new_end in zip(pairs, ends[1:], strict=True):
            where = f"extensions: ({at}, {end})"
            if not previous < at <= end:
                raise ValueError(
                    f"{where}: the env step must be in ({previous}, {end}], after the previous "
                    "extension and at most the end it had planned"
                )
            _check_multiple(f"{where}: env step", at, "log_interval", self.log_interval)
            if new_end <= end:
                raise ValueError(f"{where}: the next planned end, {new_end}, must be beyond {end}")
            if self.lr_decay and at == end:
                raise ValueError(
                    f"{where}: with lr_decay the learning rate has decayed to 0 at the planned "
                    "end and would stay 0: extend a run before its end"
                )
            previous = at

    def extend(self, at: int, total_timesteps: int) -> DQNConfig:
        """This config, extended at env step ``at`` to train until ``total_timesteps``.

        The learning-rate decay and PER's beta are re-targeted: from their values at ``at``
        they go linearly to 0 and to 1 at ``total_timesteps`` (``dqn_jax.blocks.schedules``).
        Epsilon and the Boltzmann temperature decay over absolute env steps and keep their
        schedules.

        Args:
            at: the env step reached, a logging point in ``[0, total_timesteps]`` (at the
                planned end only without ``lr_decay``: the rate is 0 there; at 0 the run is
                simply planned anew).
            total_timesteps: the new end, beyond the planned one.

        Raises:
            ValueError: naming the value and the allowed range.
        """
        if not isinstance(total_timesteps, (int, np.integer)) or isinstance(total_timesteps, bool):
            raise ValueError(f"total_timesteps={total_timesteps!r} must be an integer")
        if total_timesteps <= self.total_timesteps:
            raise ValueError(
                f"total_timesteps={total_timesteps} must be beyond the run's planned end, "
                f"{self.total_timesteps}, to extend it"
            )
        if self.lr_decay and at >= self.total_timesteps:
            raise ValueError(
                f"cannot extend a run at its planned end ({self.total_timesteps} env steps) with "
                "lr_decay=True: its learning rate has decayed to 0 there and would stay 0; extend "
                "it before its end (stop it earlier), or train it with lr_decay=False"
            )
        if at == 0 and not self.extensions:
            return self.replace(total_timesteps=int(total_timesteps))  # nothing trained yet
        if self.extensions and self.extensions[-1][0] == at:
            extensions = self.extensions  # extended again before training on: one extension
        else:
            extensions = (*self.extensions, (at, self.total_timesteps))
        return self.replace(total_timesteps=int(total_timesteps), extensions=extensions)

    @classmethod
    def for_env(cls, env_name: str, **overrides: Any) -> DQNConfig:
        """The settings tuned for ``env_name`` (``dqn_jax.tuned.TUNED``), with ``overrides``
        applied.

        ``for_env("CartPole-v1")`` is ``DQNConfig()``. The MinAtar games get a convolutional
        network and paper-like settings (``dqn_jax.tuned.MINATAR``). An environment without
        tuned settings gets the defaults (tuned for CartPole-v1) with ``env_name`` set: a start,
        not a tuned run.

        Raises:
            ValueError: for an unknown environment or a bad override, naming the field.
        """
        if not isinstance(env_name, str):
            raise ValueError(f"env_name={env_name!r} must be a string")
        return cls(**{**tuned_settings(env_name), "env_name": env_name, **overrides})

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> DQNConfig:
        """A named combination of the family (``PRESETS``), with ``overrides`` applied.

        ``"dqn"`` (no extension), ``"double"``, ``"dueling"``, ``"double_dueling"``,
        ``"per"``, ``"n_step"`` (3-step returns), ``"double_dueling_per"`` and
        ``"rainbow_lite"`` (Double + Dueling + proportional PER + 3-step returns). A preset
        sets all four switches (``double``, ``dueling``, ``prioritized``, ``n_step``); the
        other fields keep their defaults, and ``overrides`` apply last.
        """
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"preset={name!r} must be one of {tuple(PRESETS)}")
        try:
            return cls(**{**PRESETS[name], **overrides})
        except ValueError as error:
            switches = ", ".join(f"{k}={v!r}" for k, v in PRESETS[name].items())
            raise ValueError(f"preset={name!r} (sets {switches}): {error}") from None

    # --- derived sizes (static) ---
    @property
    def num_rounds(self) -> int:
        """Rounds of (``train_frequency`` env steps, then ``gradient_steps`` updates)."""
        return self.total_timesteps // self.train_frequency

    @property
    def first_learning_round(self) -> int:
        """Index of the first round whose gradient steps run (its env steps reach
        ``learning_starts``)."""
        return max(0, -(-self.learning_starts // self.train_frequency) - 1)

    @property
    def num_updates(self) -> int:
        """Gradient steps in the whole run."""
        return (self.num_rounds - self.first_learning_round) * self.gradient_steps

    def updates_by(self, env_steps: int) -> int:
        """Gradient steps taken by env step ``env_steps`` (a multiple of ``train_frequency``)."""
        rounds = env_steps // self.train_frequency
        return max(0, rounds - self.first_learning_round) * self.gradient_steps

    @property
    def num_logs(self) -> int:
        """Logging points (one at the end of every ``log_interval`` env steps)."""
        return self.total_timesteps // self.log_interval

    def replace(self, **changes: Any) -> DQNConfig:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown DQNConfig field(s): {sorted(unknown)}")
        return dataclasses.replace(self, **changes)


class HParams(eqx.Module):
    """The traced hyper-parameters of a run: a pytree of arrays that ``jax.vmap`` can sweep.

    Scalars for one run; give every field a leading axis (or use ``in_axes``) to sweep. Built from
    concrete values, every field is checked against its range (see ``HPARAM_RANGES``).
    """

    learning_rate: Float[Array, "*sweep"]
    gamma: Float[Array, "*sweep"]
    tau: Float[Array, "*sweep"]
    target_update_period: Int[Array, "*sweep"]
    epsilon_start: Float[Array, "*sweep"]
    epsilon_end: Float[Array, "*sweep"]
    epsilon_decay_steps: Float[Array, "*sweep"]
    max_grad_norm: Float[Array, "*sweep"]
    huber_delta: Float[Array, "*sweep"]
    per_alpha: Float[Array, "*sweep"]
    per_beta: Float[Array, "*sweep"]
    per_eps: Float[Array, "*sweep"]
    temperature_start: Float[Array, "*sweep"]
    temperature_end: Float[Array, "*sweep"]
    temperature_decay_steps: Float[Array, "*sweep"]

    def __init__(self, **values: Any) -> None:
        names = tuple(HPARAM_RANGES)
        missing, unknown = set(names) - set(values), set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown hyper-parameter(s) {sorted(unknown)}; allowed: {names}")
        if missing:
            raise ValueError(f"missing hyper-parameter(s) {sorted(missing)}")
        # every concrete value is checked before any is put on a device
        for name in names:
            value = values[name]
            if not isinstance(value, jax.core.Tracer):
                _check_range(name, value)
                if name == "target_update_period":
                    _check_integral(name, value)
        for name in names:
            dtype = np.int32 if name == "target_update_period" else np.float32
            value = values[name]
            # numbers become arrays on the host first: jnp.asarray would compile a conversion
            if not isinstance(value, jax.Array):
                value = np.asarray(value, dtype)
            setattr(self, name, jnp.asarray(value, dtype))

    @classmethod
    def from_config(cls, config: DQNConfig, **overrides: Any) -> HParams:
        """The config's values of the traced hyper-parameters, with ``overrides`` applied."""
        unknown = set(overrides) - set(HPARAM_RANGES)
        if unknown:
            raise ValueError(
                f"unknown hyper-parameter(s) {sorted(unknown)}; allowed: {tuple(HPARAM_RANGES)}"
            )
        values = {name: getattr(config, name) for name in HPARAM_RANGES}
        return cls(**{**values, **overrides})
