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

# Registered gymnax envs whose constructor downloads data; they cannot run offline.
NEEDS_DOWNLOAD: frozenset[str] = frozenset({"MNISTBandit-bsuite"})

# Importing gymnax imports every environment module, and some import these at the top for their
# render functions only: about 1.5 s of a 2 s import, for plots DQN never asks gymnax for.
DEFERRED_BY_GYMNAX = ("seaborn", "matplotlib.pyplot")


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
        obs_dim: length of the flattened float32 observation the network sees.
        num_actions: number of discrete actions.
        one_hot: for an environment with a scalar integer (``Discrete``) observation, the number of
            states it is one-hot encoded into; ``None`` when observations are arrays.
        max_steps_in_episode: the episode time limit, which bounds an evaluation episode.
    """

    env: Any
    env_params: Any
    obs_dim: int
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

    def preprocess(self, obs: Array) -> Float[Array, " obs_dim"]:
        """Maps one raw observation to a flat float32 vector of shape ``(obs_dim,)``."""
        if self.one_hot is not None:
            return jax.nn.one_hot(obs, self.one_hot, dtype=jnp.float32).reshape(-1)
        return jnp.asarray(obs, jnp.float32).reshape(-1)


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


def spec_from_env(env: Any, env_params: Any = None, *, name: str | None = None) -> EnvSpec:
    """Builds an :class:`EnvSpec` from a gymnax environment instance and its parameters.

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
    obs_space = env.observation_space(env_params)
    if isinstance(obs_space, spaces.Discrete):
        one_hot, obs_dim = int(obs_space.n), int(obs_space.n)
    elif isinstance(obs_space, spaces.Box):
        one_hot = None
        obs_dim = 1
        for size in obs_space.shape:
            obs_dim *= int(size)
    else:
        raise _unsupported(
            name, f"observation space {type(obs_space).__name__} is not Box or Discrete"
        )
    return EnvSpec(
        env=env,
        env_params=env_params,
        obs_dim=obs_dim,
        num_actions=int(action_space.n),
        one_hot=one_hot,
        max_steps_in_episode=int(env_params.max_steps_in_episode),
    )


@functools.cache
def make_env(name: str, env_kwargs: tuple[tuple[str, Any], ...] = ()) -> EnvSpec:
    """Builds (once per name and kwargs) the :class:`EnvSpec` of a registered gymnax environment.

    Raises:
        ValueError: for an unknown name, an environment that needs a download, bad kwargs or a
            continuous-action environment; the message lists the supported environments.
    """
    gymnax = import_gymnax()

    if name not in gymnax.registered_envs:
        raise _unsupported(name, "unknown gymnax environment")
    if name in NEEDS_DOWNLOAD:
        raise _unsupported(name, "this environment downloads a data set and cannot run offline")
    try:
        env, env_params = gymnax.make(name, **dict(env_kwargs))
    except TypeError as error:
        raise ValueError(f"env_kwargs={dict(env_kwargs)!r} rejected by {name}: {error}") from None
    return spec_from_env(env, env_params, name=name)
