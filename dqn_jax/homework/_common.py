"""What every check shares: :class:`CheckFailed`, calling the student's function the way the
notebook does, comparing and formatting arrays, and matching a wrong result against the results
of known mistakes.

A check runs the student's function under ``jax.jit`` (and ``jax.vmap`` where the notebook
vmaps it) on inputs of the shapes and dtypes its notebook uses, so passing a check means the
training cells that call the function compile and run. A hint is given only when the evidence
singles out one mistake: the result equals that mistake's result on inputs chosen so that the
usual mistakes all give different results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import jax
import numpy as np


class CheckFailed(AssertionError):  # noqa: N818 (the name students see)
    """Raised by a ``check_*`` function; the message says what went wrong and how to fix it.

    In a notebook only the message is shown: ``_render_traceback_`` (IPython's hook) replaces
    the traceback, which would lead into this library rather than to the student's code.
    """

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return [f"{type(self).__name__}: {lines[0]}", *lines[1:]]


def fail(message: str) -> NoReturn:
    """Raises :class:`CheckFailed`, without the exception being handled as its context."""
    __tracebackhide__ = True  # pytest hides this frame: the message is the point
    raise CheckFailed(message) from None


def passed(name: str, what: str) -> None:
    print(f"Passed: {name} {what}")


def _under_jit(name: str) -> str:
    return (
        f"\nHint: `{name}` runs under jax.jit here, as the notebook runs it, so its array inputs "
        f"are traced: they have shapes and dtypes but no values while it compiles. "
    )


# An error class, or a test of the error (e.g. of its message).
Matcher = type[Exception] | Callable[[Exception], bool]

# Hints for errors that mean one thing whatever the function: (matcher, hint) pairs, the first
# match wins. A check puts its own pairs first (e.g. to name the mask it expects).
_DEFAULT_HINTS: tuple[tuple[Matcher, str], ...] = (
    (
        jax.errors.TracerBoolConversionError,
        "A Python `if` (or `and`, `or`, the built-in min/max) needs a concrete True or False; "
        "choose with jnp.where(condition, x, y) instead.",
    ),
    (
        jax.errors.NonConcreteBooleanIndexError,
        "Boolean indexing (x[mask]) makes an array whose length depends on the data, which "
        "cannot be compiled. Keep every shape fixed: weight by the mask (x * mask) or use "
        "jnp.where.",
    ),
    (
        jax.errors.TracerArrayConversionError,
        "NumPy (np.*) was called on a traced array. Inside compiled code use jax.numpy (jnp.*).",
    ),
    (
        jax.errors.TracerIntegerConversionError,
        "A Python int was taken of a traced array (int(x), range(x), x used as a list index). "
        "Index with the arrays themselves, and take sizes from shapes (x.shape[0]).",
    ),
    (
        jax.errors.ConcretizationTypeError,
        "A value that must be known when compiling (a size, a shape, a Python number from "
        "float() or .item()) was computed from a traced array. Sizes must come from shapes "
        "(x.shape[0]) or Python ints, not from array values.",
    ),
)


def call(
    fn: Callable[..., Any],
    name: str,
    *args: Any,
    hints: Sequence[tuple[Matcher, str]] = (),
    shapes: str = "check the shapes, and the axis of every reduction (max, mean, sum).",
) -> Any:
    """Calls ``fn(*args)``; turns a stub or a crash into a readable :class:`CheckFailed`.

    ``hints`` are (matcher, hint) pairs tried before the defaults; ``shapes`` is the hint for
    a shape or broadcasting error.
    """
    __tracebackhide__ = True
    try:
        return fn(*args)
    except NotImplementedError:
        message = (
            f"`{name}` is not implemented yet: fill in its body (replace the "
            f"`raise NotImplementedError`), run that cell, then run this check again."
        )
    except CheckFailed:
        raise
    except Exception as error:  # the student's code crashed: say how, not where in JAX
        lines = str(error).strip().splitlines()
        message = f"calling `{name}` raised {type(error).__name__}: {lines[0] if lines else ''}"
        jax_error = isinstance(error, (jax.errors.JAXTypeError, jax.errors.JAXIndexError))
        for matcher, hint in (*hints, *_DEFAULT_HINTS):
            if isinstance(error, matcher) if isinstance(matcher, type) else matcher(error):
                message += (_under_jit(name) if jax_error else "\nHint: ") + hint
                break
        else:
            text = str(error).lower()
            if isinstance(error, (TypeError, ValueError, IndexError)) and any(
                word in text for word in ("shape", "broadcast", "axis", "dimension")
            ):
                message += f"\nHint: {shapes}"
    fail(message)


def as_array(
    value: Any, name: str, what: str, shape: tuple[int, ...], kind: str = "f"
) -> np.ndarray:
    """``value`` as a NumPy array, after checking its shape, dtype kind and finiteness.

    ``kind``: the allowed NumPy dtype kinds, ``"f"`` (float) or ``"iu"`` (integer).
    """
    __tracebackhide__ = True
    try:
        out = np.asarray(value)
    except Exception:
        fail(f"`{name}` should return {what} (an array of shape {shape}), got {type(value)}")
    if out.shape != shape:
        fail(f"`{name}` should return {what} of shape {shape}, got shape {out.shape}")
    if out.dtype.kind not in kind:
        wanted = "an integer" if kind == "iu" else "a float"
        fail(f"`{name}` should return {what} with {wanted} dtype, got dtype {out.dtype}")
    if out.dtype.kind == "f" and not np.all(np.isfinite(out)):
        fail(f"`{name}` returned non-finite values (NaN or inf) for {what}: {fmt(out)}")
    return out


def same_types(got: Any, like: Any, name: str, what: str) -> None:
    """``got`` must be a pytree of the structure, shapes and dtypes of ``like``: the notebook
    carries it through ``lax.scan``, which requires exactly that."""
    __tracebackhide__ = True
    got_leaves, got_tree = jax.tree.flatten(got)
    like_leaves, like_tree = jax.tree.flatten(like)
    if got_tree != like_tree:
        fail(
            f"`{name}` should return {what} of the same structure as its input "
            f"({type(like).__name__}), got {type(got).__name__} with structure {got_tree}"
        )
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(like)[0]]
    for path, a, b in zip(paths, got_leaves, like_leaves, strict=True):
        a_shape, a_dtype, b_dtype = np.shape(a), _dtype(a), _dtype(b)
        if a_shape != np.shape(b) or a_dtype != b_dtype:
            fail(
                f"`{name}` changed the type of {what}{path}: shape {a_shape} and dtype "
                f"{a_dtype}, where the input had shape {np.shape(b)} and dtype "
                f"{b_dtype}. The notebook carries it through lax.scan, which needs "
                f"every shape and dtype to stay the same."
            )


def _dtype(x: Any) -> np.dtype:
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


def close(a: Any, b: Any, tol: float = 1e-4) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=tol, atol=tol))


def fmt(x: Any) -> str:
    x = np.asarray(x)
    if x.ndim == 0:
        return f"{float(x):.4g}"
    return np.array2string(np.asarray(x, np.float64), precision=4, suppress_small=True)


def diagnose(got: Any, candidates: Sequence[tuple[Any, str]], tol: float = 1e-4) -> str:
    """The message of the known mistake whose result matches ``got``, else ''.

    The candidates' results must differ from each other and from the right answer on the
    check's inputs (see the checks' tests); a tie gives no hint rather than a wrong one.
    """
    matches = [message for value, message in candidates if close(got, value, tol)]
    return "\n" + matches[0] if len(set(matches)) == 1 else ""
