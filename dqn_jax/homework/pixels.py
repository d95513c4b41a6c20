"""Checks for notebook 6, from pixels: ``conv3x3_same``, ``conv_q_values``,
``pack_observation`` and ``unpack_observation``.

The notebook calls ``conv3x3_same`` on one ``(10, 10, channels)`` MinAtar image inside
``conv_q_values``, which it runs under ``jax.jit(jax.vmap(..., in_axes=(None, 0)))`` on a batch
of observations with a 16-filter conv and 128 hidden units; ``pack_observation`` and
``unpack_observation`` under ``jax.jit(jax.vmap(...))`` on batches of observations, the shape
a static Python tuple, as a replay memory packs what it stores and unpacks what it samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from dqn_jax.homework._common import as_array, call, diagnose, fail, fmt, passed

# --------------------------------------------------------------------------------------------
# The convolution
# --------------------------------------------------------------------------------------------


def _shifted(x: np.ndarray, before: int, after: int) -> list[np.ndarray]:
    """The 9 shifted slices of ``x`` zero-padded by ``before`` / ``after`` per spatial axis,
    in the order (i, j) of the kernel's taps."""
    height, width = x.shape[:2]
    padded = np.pad(x, ((before, after), (before, after), (0, 0)))
    return [padded[i : i + height, j : j + width] for i in range(3) for j in range(3)]


def _conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, before: int = 1) -> np.ndarray:
    """A 3x3 cross-correlation with zero padding ``before`` each spatial axis (``2 - before``
    after), in float64: ``y[h, w, o] = bias[o] + sum_{i,j,c} x_pad[h+i, w+j, c] k[i, j, c, o]``."""
    patches = np.concatenate(_shifted(x, before, 2 - before), axis=-1)
    return patches @ kernel.reshape(-1, kernel.shape[-1]) + bias


def _conv_channel_major(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The mistake of stacking the 9 slices on a new last axis before flattening: the patches
    are then ordered (c, i, j), the kernel's rows (i, j, c)."""
    height, width, _ = x.shape
    patches = np.stack(_shifted(x, 1, 1), axis=-1).reshape(height, width, -1)
    return patches @ kernel.reshape(-1, kernel.shape[-1]) + bias


def _lax_conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``jax.lax.conv_general_dilated`` with SAME padding, channels last: the reference."""
    y = jax.lax.conv_general_dilated(
        jnp.asarray(x, jnp.float32)[None],
        jnp.asarray(kernel, jnp.float32),
        (1, 1),
        "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )[0]
    return np.asarray(y, np.float64) + bias


def check_conv3x3_same(fn: Callable[..., Array]) -> None:
    """Checks ``conv3x3_same(x, kernel, bias) -> y`` on ONE image.

    ``x``: ``(height, width, c_in)``; ``kernel``: ``(3, 3, c_in, c_out)``; ``bias``:
    ``(c_out,)``. Expected: ``jax.lax.conv_general_dilated(x[None], kernel, (1, 1), "SAME",
    dimension_numbers=("NHWC", "HWIO", "NHWC"))[0] + bias``, shape ``(height, width, c_out)``.
    Run under ``jax.jit`` on a ``(10, 10, 4)`` image with 16 filters, then vmapped over a batch
    of ``(6, 5, 3)`` images of 0/1 (another size: nothing may assume 10 x 10 x 4).
    """
    __tracebackhide__ = True
    name = "conv3x3_same"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 10, 4))
    kernel = rng.normal(size=(3, 3, 4, 16))
    bias = rng.normal(size=(16,))
    shapes = (
        "Check the shapes: pad only the two spatial axes, jnp.pad(x, ((1, 1), (1, 1), "
        "(0, 0))); concatenate the 9 slices along the channel axis (axis=-1) into (height, "
        "width, 9 * c_in); reshape the kernel to (9 * c_in, c_out)."
    )
    args = (jnp.asarray(a, jnp.float32) for a in (x, kernel, bias))
    # an exact type: JAX's own errors (subclasses) keep their hints
    hints = [(lambda error: type(error) in (TypeError, ValueError, IndexError), shapes)]
    out = call(jax.jit(fn), name, *args, hints=hints)
    if np.shape(out) == (8, 8, 16):
        fail(
            f"`{name}` returned shape (8, 8, 16) for a (10, 10, 4) image: that is a VALID "
            f"convolution. SAME keeps the height and width: pad one zero row and column on "
            f"each side first, jnp.pad(x, ((1, 1), (1, 1), (0, 0)))."
        )
    got = as_array(out, name, "the feature map of one (10, 10, 4) image", (10, 10, 16))
    want = _lax_conv(x, kernel, bias)
    if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
        hint = diagnose(
            got,
            [
                (want - bias, "The bias is missing: add it to every position, + bias."),
                (
                    _lax_conv(x, kernel[::-1, ::-1], bias),
                    "You flipped the kernel (the convolution of signal processing). Deep "
                    "learning's conv is a cross-correlation: tap (i, j) of the kernel meets "
                    "x_pad[h + i, w + j], with no flip.",
                ),
                (
                    _lax_conv(x, kernel.transpose(1, 0, 2, 3), bias),
                    "Your patches are ordered (j, i): loop over the rows i outside and the "
                    "columns j inside, `for i in range(3) for j in range(3)`, the order of "
                    "kernel.reshape(9 * c_in, c_out).",
                ),
                (
                    _conv_channel_major(x, kernel, bias),
                    "Your patches are ordered (channel, tap) but the reshaped kernel's rows are "
                    "(tap, channel): concatenate the 9 slices along the channel axis, "
                    "jnp.concatenate(slices, axis=-1), rather than stacking them on a new axis.",
                ),
                (
                    _conv(x, kernel, bias, before=0),
                    "The image is padded on one side only: SAME pads one zero on each side, "
                    "jnp.pad(x, ((1, 1), (1, 1), (0, 0))).",
                ),
                (
                    _conv(x, kernel, bias, before=2),
                    "The image is padded on one side only: SAME pads one zero on each side, "
                    "jnp.pad(x, ((1, 1), (1, 1), (0, 0))).",
                ),
            ],
        )
        wrong = np.argwhere(~np.isclose(got, want, rtol=1e-4, atol=1e-4))[0]
        h, w, o = (int(i) for i in wrong)
        fail(
            f"the feature map differs from jax.lax.conv_general_dilated(..., 'SAME') + bias on "
            f"a (10, 10, 4) image with 16 filters: y[{h}, {w}, {o}] should be "
            f"{fmt(want[h, w, o])}, got {fmt(got[h, w, o])}.{hint}"
        )
    images = (rng.random((5, 6, 5, 3)) < 0.3).astype(np.float64)
    small_kernel, small_bias = rng.normal(size=(3, 3, 3, 2)), rng.normal(size=(2,))
    batched = jax.jit(jax.vmap(fn, in_axes=(0, None, None)))
    hints = [
        (
            lambda error: True,
            "It works on (10, 10, 4) but not on (6, 5, 3) images with 2 filters: take "
            "height, width and c_in from x.shape and c_out from the kernel.",
        )
    ]
    out = call(
        batched,
        name,
        *(jnp.asarray(a, jnp.float32) for a in (images, small_kernel, small_bias)),
        hints=hints,
    )
    got = as_array(out, name, "feature maps of 5 (6, 5, 3) images, vmapped", (5, 6, 5, 2))
    want = np.stack([_lax_conv(image, small_kernel, small_bias) for image in images])
    if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
        fail(
            f"right on a (10, 10, 4) image, wrong on (6, 5, 3) images with 2 filters (vmapped "
            f"over 5): take every size from x.shape and kernel.shape. First map, filter 0: "
            f"want\n{fmt(want[0, :, :, 0])}\ngot\n{fmt(got[0, :, :, 0])}"
        )
    passed(name, "matches jax.lax.conv_general_dilated with SAME padding, for any image size.")


# --------------------------------------------------------------------------------------------
# The Q-network
# --------------------------------------------------------------------------------------------


class _Params(NamedTuple):
    """The fields of the notebook's ``ConvParams``."""

    kernel: Array  # (3, 3, channels, filters)
    bias: Array  # (filters,)
    w1: Array  # (height * width * filters, hidden)
    b1: Array  # (hidden,)
    w2: Array  # (hidden, num_actions)
    b2: Array  # (num_actions,)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _q_reference(
    p: _Params, obs: np.ndarray, conv_relu: bool = True, hidden_relu: bool = True
) -> np.ndarray:
    features = _lax_conv(obs, p.kernel, p.bias)
    features = _relu(features) if conv_relu else features
    hidden = features.reshape(-1) @ p.w1 + p.b1
    hidden = _relu(hidden) if hidden_relu else hidden
    return hidden @ p.w2 + p.b2


def _q_channels_first(p: _Params, obs: np.ndarray) -> np.ndarray:
    features = _relu(_lax_conv(obs, p.kernel, p.bias)).transpose(2, 0, 1)
    return _relu(features.reshape(-1) @ p.w1 + p.b1) @ p.w2 + p.b2


def check_conv_q_values(fn: Callable[..., Array]) -> None:
    """Checks ``conv_q_values(params, obs) -> q`` on ONE observation.

    ``params``: the notebook's ``ConvParams`` (fields ``kernel (3, 3, 4, 16)``, ``bias (16,)``,
    ``w1 (1600, 128)``, ``b1 (128,)``, ``w2 (128, 3)``, ``b2 (3,)``); ``obs``: ``(10, 10, 4)``
    of 0/1. Expected: ``relu(conv3x3_same(obs))`` flattened as it is (``reshape(-1)``), a ReLU
    hidden layer ``h @ w1 + b1`` and the linear output ``h @ w2 + b2``, shape ``(3,)``. Run as
    the notebook runs it, ``jax.jit(jax.vmap(fn, in_axes=(None, 0)))`` on 8 observations.
    """
    __tracebackhide__ = True
    name = "conv_q_values"
    rng = np.random.default_rng(1)
    params = _Params(
        kernel=rng.normal(size=(3, 3, 4, 16)) / 6,
        bias=rng.normal(size=(16,)) / 2,
        w1=rng.normal(size=(1600, 128)) / 40,
        b1=rng.normal(size=(128,)) / 2,
        w2=rng.normal(size=(128, 3)) / 11,
        b2=rng.normal(size=(3,)),
    )
    obs = (rng.random((8, 10, 10, 4)) < 0.3).astype(np.float64)
    batched = jax.jit(jax.vmap(fn, in_axes=(None, 0)))
    traced = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params)
    out = call(
        batched,
        name,
        traced,
        jnp.asarray(obs, jnp.float32),
        shapes=(
            "for ONE observation: conv3x3_same(obs, params.kernel, params.bias) is "
            "(10, 10, 16); flatten it with .reshape(-1) to (1600,), then @ params.w1 "
            "(1600, 128) and @ params.w2 (128, 3)."
        ),
    )
    got = as_array(out, name, "Q-values of 8 observations under jax.vmap", (8, 3))
    want = np.stack([_q_reference(params, o) for o in obs])
    if np.allclose(got, want, rtol=1e-3, atol=1e-4):
        passed(name, "maps one image to its Q-values: conv, ReLU, dense, ReLU, dense.")
        return
    reference = [
        (np.stack([_q_reference(params, o, conv_relu=False) for o in obs]), "no conv ReLU"),
        (np.stack([_q_reference(params, o, hidden_relu=False) for o in obs]), "no hidden"),
        (_relu(want), "relu out"),
        (np.stack([_q_channels_first(params, o) for o in obs]), "channels first"),
    ]
    messages = {
        "no conv ReLU": "The ReLU after the convolution is missing: "
        "jax.nn.relu(conv3x3_same(obs, params.kernel, params.bias)).",
        "no hidden": "The ReLU of the hidden layer is missing: "
        "jax.nn.relu(h @ params.w1 + params.b1).",
        "relu out": "The output has a ReLU: Q-values may be negative, the last layer is linear.",
        "channels first": "You flattened the map channels first; w1 expects it as the conv "
        "returns it, (height, width, filters): .reshape(-1) with no transpose.",
    }
    hint = diagnose(got, [(value, messages[key]) for value, key in reference], tol=1e-3)
    fail(
        f"for the first observation Q should be {fmt(want[0])}, got {fmt(got[0])} (conv with "
        f"SAME padding, ReLU, flatten, dense 128 + ReLU, dense 3).{hint}"
    )


# --------------------------------------------------------------------------------------------
# Packing observations
# --------------------------------------------------------------------------------------------


def _binary_images(shape: tuple[int, ...], seed: int, batch: int = 6) -> np.ndarray:
    return (np.random.default_rng(seed).random((batch, *shape)) < 0.3).astype(np.float32)


def _pack(obs: np.ndarray, bitorder: str = "big") -> np.ndarray:
    """Each observation of the batch ``obs`` flattened and packed 8 bits to a byte."""
    return np.packbits(obs.reshape(len(obs), -1) != 0, axis=-1, bitorder=bitorder)


def check_pack_observation(fn: Callable[[Array], Array]) -> None:
    """Checks ``pack_observation(obs) -> packed`` for ONE observation of 0/1.

    Expected: ``jnp.packbits`` of the flattened observation (as booleans, the default "big" bit
    order: element 0 is the highest bit of byte 0), uint8 of shape ``(ceil(size / 8),)``. Run
    under ``jax.jit(jax.vmap(fn))`` on 6 observations of shape ``(10, 10, 4)`` (50 bytes each)
    and ``(10, 10, 7)`` (88 bytes, the last 4 bits zero).
    """
    __tracebackhide__ = True
    name = "pack_observation"
    hints = [
        (
            lambda error: "integer or boolean" in str(error),
            "jnp.packbits packs integers or booleans, not float32: pack obs != 0 (or "
            "obs.astype(jnp.uint8)).",
        )
    ]
    for shape, seed in (((10, 10, 4), 2), ((10, 10, 7), 3)):
        obs = _binary_images(shape, seed)
        nbytes = math.ceil(math.prod(shape) / 8)
        out = call(jax.jit(jax.vmap(fn)), name, jnp.asarray(obs), hints=hints)
        got_shape = np.shape(out)[1:]
        if got_shape == (*shape[:-1], math.ceil(shape[-1] / 8)):
            fail(
                f"`{name}` returned shape {got_shape} for an observation of shape {shape}: "
                f"it packed along the last axis only. Pack the whole observation, flattened: "
                f"jnp.packbits(obs.reshape(-1) != 0), {nbytes} bytes."
            )
        if got_shape == (math.prod(shape),):
            fail(
                f"`{name}` returned {math.prod(shape)} values for an observation of shape "
                f"{shape}: one per element. Pack them 8 to a byte with jnp.packbits: {nbytes} "
                f"bytes."
            )
        got = as_array(out, name, f"the packed bytes of {shape} observations", (6, nbytes), "iu")
        if got.dtype != np.uint8:
            fail(f"`{name}` should return uint8 bytes (jnp.packbits does), got {got.dtype}.")
        want = _pack(obs)
        if not np.array_equal(got, want):
            hint = diagnose(
                got,
                [
                    (
                        _pack(obs, "little"),
                        "The bits are in little-endian order; keep jnp.packbits' default "
                        "(big): element 0 is the highest bit of byte 0, as jnp.unpackbits "
                        "reads it back.",
                    )
                ],
            )
            fail(
                f"for an observation of shape {shape} the first bytes should be "
                f"{want[0, :8].tolist()}, got {got[0, :8].tolist()}.{hint}"
            )
    passed(name, "packs 8 elements to a byte: 50 bytes for (10, 10, 4) instead of 1,600.")


def check_unpack_observation(fn: Callable[..., Array]) -> None:
    """Checks ``unpack_observation(packed, obs_shape) -> obs``, the inverse of
    ``pack_observation``.

    ``packed``: uint8 ``(ceil(size / 8),)``; ``obs_shape``: a Python tuple (static). Expected:
    the float32 observation of shape ``obs_shape`` exactly. Run under ``jax.jit(jax.vmap(...))``
    on 6 observations of shape ``(10, 10, 4)`` and of ``(10, 10, 7)``, whose 700 bits come in 88
    bytes: the last 4 bits are padding.
    """
    __tracebackhide__ = True
    name = "unpack_observation"
    hints = [
        (
            lambda error: "reshape" in str(error),
            "jnp.unpackbits returns 8 bits for every byte, 704 for the 88 bytes of a (10, 10, 7) "
            "observation of 700 elements: keep only the first math.prod(obs_shape), "
            "jnp.unpackbits(packed, count=math.prod(obs_shape)), then reshape.",
        )
    ]
    for shape, seed in (((10, 10, 4), 4), ((10, 10, 7), 5)):
        obs = _binary_images(shape, seed)
        packed = jnp.asarray(_pack(obs))

        def unpack(packed, shape=shape):
            return fn(packed, shape)

        out = call(jax.jit(jax.vmap(unpack)), name, packed, hints=hints)
        if np.shape(out)[1:] == (math.prod(shape),):
            fail(
                f"`{name}` returned the flat bits, shape {np.shape(out)[1:]}: reshape them to "
                f"obs_shape {shape}."
            )
        raw = np.asarray(out)
        if raw.shape == (6, *shape) and raw.dtype.kind != "f":
            fail(
                f"`{name}` returned dtype {raw.dtype}; the network sees float32 observations: "
                f"convert the bits, .astype(jnp.float32)."
            )
        got = as_array(out, name, f"observations of shape {shape}", (6, *shape))
        if not np.array_equal(got, obs):
            little = np.unpackbits(
                np.asarray(packed), axis=-1, count=math.prod(shape), bitorder="little"
            )
            hint = diagnose(
                got,
                [
                    (
                        little.reshape(obs.shape),
                        "The bits are read in little-endian order; keep jnp.unpackbits' "
                        "default (big), the order jnp.packbits wrote them in.",
                    ),
                ],
            )
            wrong = int(np.argmax((got != obs).reshape(6, -1).any(axis=0)))
            fail(
                f"unpacking does not give back the observation of shape {shape}: element "
                f"{wrong} of the flattened first observation should be "
                f"{obs[0].reshape(-1)[wrong]:.0f}, got {fmt(got[0].reshape(-1)[wrong])}.{hint}"
            )
    passed(name, "recovers every observation exactly, padding bits dropped.")
