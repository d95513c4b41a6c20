"""Observations as the replay memory stores them: no wider than they come, decoded exactly.

A replay of image observations is mostly observations (Seaquest-MinAtar's obs and next obs are
8,000 bytes a transition as float32). Each observation is stored in one of three ways:

- ``"bits"``: 0/1 channels packed 8 to a byte (``jnp.packbits`` of the flattened observation):
  Seaquest's 10x10x10 obs is 125 bytes instead of 4,000;
- ``"uint8"``: frames of integers 0..255, one byte per value;
- ``"float32"``: anything else, as the network sees it (stored and decoded as is).

The loop encodes an observation when it writes a transition and decodes the sampled batch
inside the TD update; ``decode(encode(obs)) == obs`` exactly for the observations each kind is
chosen for (``observation_storage``).
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, UInt8

STORAGE_KINDS = ("float32", "uint8", "bits")

# Environments whose float32 observations are exactly 0 or 1: gymnax's MinAtar games (checked on
# real observations of every game in tests/test_observations.py). Their space, Box(0, 1) of
# float32, cannot say so: a Box(0, 1) of floats may hold any value in between.
BINARY_OBSERVATIONS: frozenset[str] = frozenset(
    {
        "Asterix-MinAtar",
        "Breakout-MinAtar",
        "Freeway-MinAtar",
        "Seaquest-MinAtar",
        "SpaceInvaders-MinAtar",
    }
)


def observation_storage(dtype: Any, binary: bool) -> str:
    """The storage kind of observations that come as ``dtype``: ``"bits"`` for booleans and
    for observations known to be 0/1 (``binary``), ``"uint8"`` for uint8, else ``"float32"``."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_ or binary:
        return "bits"
    if dtype == np.uint8:
        return "uint8"
    return "float32"


def stored_shape(kind: str, obs_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one stored observation: ``obs_shape``, or ``(ceil(size / 8),)`` bytes for bits."""
    if kind == "bits":
        return (math.ceil(math.prod(obs_shape) / 8),)
    return tuple(obs_shape)


def encode(kind: str, obs: Float[Array, "*obs_shape"]) -> Array:
    """One observation as the network sees it (float32) -> its stored form.

    Args:
        kind: one of ``STORAGE_KINDS``.
        obs: the float32 observation, shape ``obs_shape``.

    Returns:
        ``"bits"``: uint8 of shape ``(ceil(size / 8),)``, bit ``i`` set iff element ``i`` (of the
        flattened ``obs``) is nonzero; ``"uint8"``: ``obs`` cast to uint8; ``"float32"``: ``obs``.
    """
    if kind == "bits":
        return jnp.packbits(obs.reshape(-1) != 0)
    if kind == "uint8":
        return obs.astype(jnp.uint8)
    return obs


def decode(
    kind: str, stored: UInt8[Array, " bytes"] | Array, obs_shape: tuple[int, ...]
) -> Float[Array, "*obs_shape"]:
    """The inverse of :func:`encode`: the float32 observation of shape ``obs_shape``."""
    if kind == "bits":
        bits = jnp.unpackbits(stored, count=math.prod(obs_shape))
        return bits.astype(jnp.float32).reshape(obs_shape)
    if kind == "uint8":
        return stored.astype(jnp.float32)
    return stored
