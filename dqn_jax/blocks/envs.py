"""Environments: gymnax envs checked for DQN and a flat float32 view of their observations.

gymnax is imported on first use, not with this module: importing it initialises JAX's backend,
and ``jax.distributed.initialize`` must run before that (so ``import dqn_jax`` may come first).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import sys
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from dqn_jax.blocks import observations

# Registered gymnax envs whose constructor downloads data; they cannot run offline.
NEEDS_DOWNLOAD: frozenset[str] = frozenset({"MNISTBandit-bsuite"})

# Importing gymnax imports every environment module, and some import these at the top for their
# render functions only (and flax, whose dataclasses the env states are, rich for its tables):
# about 1.5 s of a 2 s import, for plots and tables DQN never asks gymnax for.
DEFERRED_BY_GYMNAX = ("seaborn", "matplotlib.pyplot", "rich.console", "rich.table", "rich.text")


def import_gymnax() -> ModuleType:
    """``import gymnax``, with each module of ``DEFERRED_BY_GYMNAX`` that is not imported yet
    replaced by a stand-in that imports it at the first attribute asked of it."""
    if "gymnax" not in sys.modules:
        for name in DEFERRED_BY_GYMNAX:
            _defer(name)
    import gymnax

    return gymnax


class _Deferred(ModuleType):
    """Stands in for the module of its name until an attribute is asked of it. (``LazyLoader``
    would not do: the import statement reads ``__spec__``, which executes a lazy module.)"""

    def __getattr__(self, attr: str) -> Any:
        return getattr(_load(self.__name__), attr)


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    try:
        found = importlib.util.find_spec(name)  # imports the parent package of a submodule
    except (ImportError, ValueError):
        return
    if found is None:
        return
    sys.modules[name] = stand_in = _Deferred(name)
    parent, _, child = name.rpartition(".")
    if parent:  # as the import system does: ``matplotlib.pyplot`` is an attribute of matplotlib
        setattr(sys.modules[parent], child, stand_in)


def _load(name: str) -> ModuleType:
    """The real module ``name``, imported in place of its stand-in."""
    if isinstance(sys.modules.get(name), _Deferred):
        del sys.modules[name]
        parent, _, child = name.rpartition(".")
        if parent and isinstance(getattr(sys.modules[parent], child, None), _Deferred):
            delattr(sys.modules[parent], child)
    return importlib.import_module(name)


@dataclasses.dataclass(frozen=True, eq=False)
class EnvSpec:
    """A gymnax environment with what the agent needs to know about it.

    Attributes:
        env: the gymnax environment.
        env_params: its parameters (a pytree).
        obs_dim: number of elements of the float32 observation the network sees.
        obs_shape: its shape: ``(height, width, channels)`` for an image (a rank-3 ``Box``),
            ``(obs_dim,)`` for anything else (flattened).
        num_actions: number of discrete actions.
        one_hot: for an environment with a scalar integer (``Discrete``) observation, the number of
            states it is one-hot encoded into; ``None`` when observations are arrays.
        max_steps_in_episode: the episode time limit, which bounds an evaluation episode.
    """

    env: Any
    env_params: Any
    obs_dim: int
    obs_shape: tuple[int, ...]
    num_actions: int
    one_hot: int | None
    max_steps_in_episode: int

    # Specs are static jit arguments: two specs of the same env instance and equal params must
    # compare equal, or every evaluate(..., env=env) call would compile again.
    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, EnvSpec)
            and self.env is other.env
            and _same_params(self.env_params, other.env_params)
        )

    def __hash__(self) -> int:
        try:
            params_hash = hash(self.env_params)
        except TypeError:  # params holding arrays: equality decides
            params_hash = 0
        return hash((id(self.env), params_hash))

    def preprocess(self, obs: Array) -> Float[Array, "*obs_shape"]:
        """Maps one raw observation to the float32 array the network sees, shape ``obs_shape``:
        an image keeps its ``(height, width, channels)``, anything else is flattened."""
        if self.one_hot is not None:
            return jax.nn.one_hot(obs, self.one_hot, dtype=jnp.float32).reshape(-1)
        return jnp.asarray(obs, jnp.float32).reshape(self.obs_shape)

    @functools.cached_property
    def obs_storage(self) -> str:
        """How the replay memory stores an observation, one of ``observations.STORAGE_KINDS``
        (see :meth:`encode`): decided from the dtype observations really come in (a space's
        dtype may differ from it) and ``observations.BINARY_OBSERVATIONS``. Found on first use
        (it traces ``env.reset``), so building a spec stays cheap."""
        if self.one_hot is not None:
            return "float32"
        raw = jax.eval_shape(self.env.reset, jax.random.key(0), self.env_params)[0]
        return observations.observation_storage(raw.dtype, _binary(self.env))

    def encode(self, obs: Float[Array, "*obs_shape"]) -> Array:
        """One preprocessed observation -> its stored form (``observations.encode``): bit-packed
        uint8 of shape ``(ceil(obs_dim / 8),)`` for 0/1 observations, uint8 for uint8 frames,
        else the float32 observation itself."""
        return observations.encode(self.obs_storage, obs)

    def decode(self, stored: Array) -> Float[Array, "*obs_shape"]:
        """The inverse of :meth:`encode`: exactly the preprocessed observation."""
        return observations.decode(self.obs_storage, stored, self.obs_shape)


def _same_params(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # e.g. array-valued fields with an ambiguous truth value
        return False


@functools.cache
def supported_envs() -> tuple[str, ...]:
    """Names of the registered gymnax environments that DQN can train: discrete actions, offline."""
    gymnax = import_gymnax()
    from gymnax.environments import spaces

    names = []
    for name in gymnax.registered_envs:
        if name in NEEDS_DOWNLOAD:
            continue
        try:
            env, params = gymnax.make(name)
        except Exception:
            continue
        if isinstance(env.action_space(params), spaces.Discrete):
            names.append(name)
    return tuple(names)


def _unsupported(name: str, why: str) -> ValueError:
    return ValueError(
        f"env_name={name!r}: {why}. Supported environments: {', '.join(supported_envs())}"
    )


def spec_from_env(
    env: Any, env_params: Any = None, *, name: str | None = None, sticky_action_prob: float = 0.0
) -> EnvSpec:
    """Builds an :class:`EnvSpec` from a gymnax environment instance and its parameters, the
    environment wrapped by :func:`with_sticky_actions` when ``sticky_action_prob > 0``.

    Raises:
        ValueError: if the action space is not discrete or the observation space is not a
            ``Box`` or ``Discrete`` space.
    """
    import_gymnax()
    from gymnax.environments import spaces

    name = name or type(env).__name__
    if env_params is None:
        env_params = env.default_params
    action_space = env.action_space(env_params)
    if not isinstance(action_space, spaces.Discrete):
        raise _unsupported(
            name, f"DQN needs a discrete action space, got {type(action_space).__name__}"
        )
    if sticky_action_prob > 0:
        env = with_sticky_actions(env, float(sticky_action_prob))
    obs_space = env.observation_space(env_params)
    if isinstance(obs_space, spaces.Discrete):
        one_hot, obs_dim = int(obs_space.n), int(obs_space.n)
        obs_shape = (obs_dim,)
    elif isinstance(obs_space, spaces.Box):
        one_hot = None
        obs_dim = 1
        for size in obs_space.shape:
            obs_dim *= int(size)
        image = len(obs_space.shape) == 3
        obs_shape = tuple(int(size) for size in obs_space.shape) if image else (obs_dim,)
    else:
        raise _unsupported(
            name, f"observation space {type(obs_space).__name__} is not Box or Discrete"
        )
    return EnvSpec(
        env=env,
        env_params=env_params,
        obs_dim=obs_dim,
        obs_shape=obs_shape,
        num_actions=int(action_space.n),
        one_hot=one_hot,
        max_steps_in_episode=int(env_params.max_steps_in_episode),
    )


def _binary(env: Any) -> bool:
    """Whether ``env`` is one of gymnax's environments whose observations are known to be 0/1
    (``observations.BINARY_OBSERVATIONS``), as gymnax builds it or with sticky actions (which
    leave observations alone); any other wrapper may change them."""
    from gymnax.wrappers import StickyActionWrapper

    base = env._env if isinstance(env, StickyActionWrapper) else env
    return (
        type(base).__module__.startswith("gymnax.environments.")
        and getattr(base, "name", None) in observations.BINARY_OBSERVATIONS
    )


def make_env(
    name: str, env_kwargs: tuple[tuple[str, Any], ...] = (), sticky_action_prob: float = 0.0
) -> EnvSpec:
    """Builds (once per name, kwargs and sticky-action probability) the :class:`EnvSpec` of a
    registered gymnax environment; with ``sticky_action_prob > 0`` it is wrapped in
    :func:`with_sticky_actions`.

    Raises:
        ValueError: for an unknown name, an environment that needs a download, bad kwargs or a
            continuous-action environment; the message lists the supported environments.
    """
    return _make_env(name, env_kwargs, float(sticky_action_prob))


@functools.cache
def _make_env(
    name: str, env_kwargs: tuple[tuple[str, Any], ...], sticky_action_prob: float
) -> EnvSpec:
    gymnax = import_gymnax()

    if name not in gymnax.registered_envs:
        raise _unsupported(name, "unknown gymnax environment")
    if name in NEEDS_DOWNLOAD:
        raise _unsupported(name, "this environment downloads a data set and cannot run offline")
    try:
        env, env_params = gymnax.make(name, **dict(env_kwargs))
    except TypeError as error:
        raise ValueError(f"env_kwargs={dict(env_kwargs)!r} rejected by {name}: {error}") from None
    return spec_from_env(env, env_params, name=name, sticky_action_prob=sticky_action_prob)


@functools.cache
def with_sticky_actions(env: Any, sticky_action_prob: float) -> Any:
    """``env`` wrapped in gymnax's ``StickyActionWrapper`` (Machado et al., 2018): at every step,
    with probability ``sticky_action_prob`` the env repeats the action it executed last instead
    of the one asked for (0 before the first step; the last action carries over an automatic
    reset into the next episode). The MinAtar paper used 0.1.

    One wrapper per (env, probability), so the specs built from it compare equal and a jitted
    function taking one compiles once.
    """
    if not 0.0 <= sticky_action_prob < 1.0:
        raise ValueError(
            f"sticky_action_prob={sticky_action_prob!r} is outside the allowed range [0, 1)"
        )
    import_gymnax()
    from gymnax.wrappers import StickyActionWrapper

    return StickyActionWrapper(env, sticky_action_prob)
