"""What every check shares: :class:`CheckFailed`, calling the student's function, comparing
and formatting arrays, and matching a wrong result against known mistakes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import jax
import numpy as np


class CheckFailed(AssertionError):  # noqa: N818 (the name students see)
    """Raised by a ``check_*`` function; the message says what went wrong and how to fix it."""


# --------------------------------------------------------------------------------------------
# Plumbing shared by the checks
# --------------------------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    __tracebackhide__ = True  # IPython and pytest hide this frame: the message is the point
    raise CheckFailed(message)


def _passed(name: str, what: str) -> None:
    print(f"Passed: {name} {what}")


def _hint_for(error: Exception) -> str:
    if isinstance(
        error, (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError)
    ):
        return (
            "\nHint: the function runs under jax.jit / jax.vmap / lax.scan, where its inputs are "
            "traced arrays without concrete values. Replace a Python `if` on an array by "
            "arithmetic (e.g. multiply by (1 - terminated)) or jnp.where."
        )
    if isinstance(error, jax.errors.TracerIntegerConversionError):
        return (
            "\nHint: an index or size was computed from a traced array; keep shapes static "
            "(e.g. pass batch_size as a Python int) and index with arrays."
        )
    if isinstance(error, TypeError) and "shape" in str(error).lower():
        return "\nHint: check the shapes and the axis of every reduction (max, mean, sum)."
    return ""


def _call(fn: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> Any:
    """Calls the student's function; turns a stub or a crash into a readable CheckFailed."""
    __tracebackhide__ = True
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        _fail(
            f"`{name}` is not implemented yet: fill in its body (replace the "
            f"`raise NotImplementedError`), run that cell, then run this check again."
        )
    except CheckFailed:
        raise
    except Exception as error:  # the student's code crashed: say how, not where in JAX
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _fail(f"calling `{name}` raised {type(error).__name__}: {message}{_hint_for(error)}")


def _array(value: Any, name: str, what: str, shape: tuple[int, ...]) -> np.ndarray:
    __tracebackhide__ = True
    try:
        out = np.asarray(value)
    except Exception:
        _fail(f"`{name}` should return {what} (an array of shape {shape}), got {type(value)}")
    if out.shape != shape:
        _fail(f"`{name}` should return {what} of shape {shape}, got shape {out.shape}")
    if out.dtype.kind == "f" and not np.all(np.isfinite(out)):
        _fail(f"`{name}` returned non-finite values (NaN or inf) for {what}: {_fmt(out)}")
    return out


def _close(a: Any, b: Any, tol: float = 1e-4) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=tol, atol=tol))


def _fmt(x: Any) -> str:
    x = np.asarray(x)
    if x.ndim == 0:
        return f"{float(x):.4g}"
    return np.array2string(np.asarray(x, np.float64), precision=4, suppress_small=True)


def _diagnose(got: Any, candidates: Sequence[tuple[Any, str]]) -> str:
    """The message of the first known mistake whose result matches ``got``, else ''."""
    for value, message in candidates:
        if _close(got, value):
            return "\n" + message
    return ""
