"""A :class:`DQNConfig` as text: field values parsed from strings, JSON-ready dicts, config files.

Every field's type comes from the dataclass annotations, so a field added to ``DQNConfig`` is
settable from the command line and from a file without changes here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from dqn_jax.config import DQNConfig

_NONE_WORDS = ("none", "null")
_TRUE_WORDS = ("true", "yes", "on", "1")
_FALSE_WORDS = ("false", "no", "off", "0")


@functools.cache
def field_types() -> dict[str, Any]:
    """The resolved type annotation of every ``DQNConfig`` field, in declaration order."""
    hints = typing.get_type_hints(DQNConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(DQNConfig)}


def _optional(tp: Any) -> Any | None:
    """``X`` for ``X | None`` (or ``Optional[X]``), else ``None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _scalar(text: str) -> Any:
    """An env keyword value: int, float, bool or else the string itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text.strip()


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = float(text)  # accepts 5e4; raises ValueError on junk
        if not number.is_integer():
            raise ValueError(text) from None
        return int(number)


def _parse_typed(tp: Any, text: str) -> Any:
    inner = _optional(tp)
    if inner is not None:
        return None if text.strip().lower() in _NONE_WORDS else _parse_typed(inner, text)
    if tp is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE_WORDS:
            return True
        if lowered in _FALSE_WORDS:
            return False
        raise ValueError(text)
    if tp is int:
        return _parse_int(text)
    if tp is float:
        return float(text)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if typing.get_args(args[0]) == (int, int):  # extensions: S:T,S:T
            pairs = [item.split(":") for item in text.split(",") if item.strip()]
            if any(len(p) != 2 for p in pairs):
                raise ValueError(text)
            return tuple((_parse_int(a), _parse_int(b)) for a, b in pairs)
        if typing.get_origin(args[0]) is tuple:  # pairs: env_kwargs as k=v,k=v or JSON
            if text.strip().startswith("{"):
                return tuple(sorted(json.loads(text).items()))
            pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
            if any(len(p) != 2 for p in pairs):
                raise ValueError(text)
            return tuple(sorted((k.strip(), _scalar(v)) for k, v in pairs))
        return tuple(_parse_typed(args[0], item) for item in text.split(",") if item.strip())
    return text  # str and Literal: DQNConfig checks the allowed values


def describe_type(name: str) -> str:
    """A short description of what the text of field ``name`` must look like."""
    tp = field_types()[name]
    inner = _optional(tp)
    suffix = " or none" if inner is not None else ""
    tp = inner if inner is not None else tp
    if tp is bool:
        return "true or false" + suffix
    if tp in (int, float, str):
        return {int: "an integer", float: "a number", str: "a string"}[tp] + suffix
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return " or ".join(map(str, args)) + suffix
    if origin is tuple and typing.get_args(args[0]) == (int, int):
        return "comma-separated ENV_STEP:PLANNED_END pairs" + suffix
    if origin is tuple and typing.get_origin(args[0]) is tuple:
        return "comma-separated key=value pairs" + suffix
    if origin is tuple:
        return "comma-separated integers" + suffix
    return "a value" + suffix


def parse_field(name: str, text: str) -> Any:
    """The value of ``DQNConfig`` field ``name`` written as ``text`` (as on a command line).

    ``64,64`` is a tuple, ``true``/``false`` a bool, ``none`` is ``None`` where a field allows it
    and ``k=v,k2=v2`` (or a JSON object) gives ``env_kwargs``. Ranges are checked later by
    ``DQNConfig``.

    Raises:
        ValueError: naming the field, when ``text`` does not parse.
    """
    types_ = field_types()
    if name not in types_:
        raise ValueError(f"unknown DQNConfig field {name!r}")
    try:
        return _parse_typed(types_[name], text)
    except (ValueError, TypeError, AttributeError, json.JSONDecodeError):
        raise ValueError(f"{name}={text!r} is not {describe_type(name)}") from None


def _coerce(name: str, value: Any) -> Any:
    """A value read from a file (JSON, TOML, YAML) in the type the field stores."""
    tp = field_types()[name]
    if isinstance(value, str) and tp is not str and typing.get_origin(tp) is not typing.Literal:
        return parse_field(name, value)  # "none", "64,64", "true", ...
    if isinstance(value, list):
        if name == "env_kwargs":
            return tuple(sorted((str(k), v) for k, v in value))
        return tuple(value)
    if isinstance(value, dict) and name == "env_kwargs":
        return tuple(sorted(value.items()))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def config_to_dict(config: DQNConfig) -> dict[str, Any]:
    """The fields of ``config`` as JSON-ready values (tuples as lists, ``env_kwargs`` a dict)."""
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    values["env_kwargs"] = dict(config.env_kwargs)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def config_from_dict(values: dict[str, Any], *, source: str | None = None) -> DQNConfig:
    """The ``DQNConfig`` of ``values`` (missing fields keep their defaults).

    Raises:
        ValueError: for unknown fields or bad values, prefixed with ``source`` when given.
    """
    prefix = f"{source}: " if source else ""
    unknown = sorted(set(values) - set(field_types()))
    if unknown:
        raise ValueError(f"{prefix}unknown DQNConfig field(s) {unknown}")
    try:
        return DQNConfig(**{k: _coerce(k, v) for k, v in values.items()})
    except ValueError as error:
        raise ValueError(f"{prefix}{error}") from None


def config_diff(a: DQNConfig, b: DQNConfig) -> list[str]:
    """``"field: a_value != b_value"`` for every field where ``a`` and ``b`` differ."""
    return [
        f"{f.name}: {getattr(a, f.name)!r} != {getattr(b, f.name)!r}"
        for f in dataclasses.fields(DQNConfig)
        if getattr(a, f.name) != getattr(b, f.name)
    ]


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The field values in a TOML, YAML or JSON file (e.g. a saved run's ``config.json``).

    The fields may sit at the top level or under a ``config`` table. Values are returned as read;
    :func:`config_from_dict` checks and converts them.

    Raises:
        ValueError: naming the file, if it is missing, unreadable or not a table of fields.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        text = path.read_text()
    except OSError as error:
        raise ValueError(f"{path}: cannot read the config file ({error.strerror})") from None
    if suffix not in (".toml", ".yaml", ".yml", ".json"):
        raise ValueError(f"{path}: unknown config file type (use .toml, .yaml or .json)")
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ValueError(
                f"{path}: reading YAML needs PyYAML (pip install pyyaml), or use TOML"
            ) from None
    try:
        if suffix == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                import tomli as tomllib
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except Exception as error:  # the parsers' own error types
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}: cannot parse: {message}") from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict):
        data = data["config"]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table of DQNConfig fields")
    return data
