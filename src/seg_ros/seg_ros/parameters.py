"""Parameter values as the nodes declare them (pure logic, no ROS): what a given value becomes.

A parameter file or `-p name:=value` says `rate: 15` where the node means 15.0, or `bitrate: 1.5e6`
where it means 1500000. Such values are taken as meant; anything else is one ValueError naming the
parameter, the value and what was expected.
"""
from __future__ import annotations

from typing import Any

_KIND = {bool: "a boolean (true/false)", int: "an integer", float: "a number", str: "a string"}


def _given(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def coerce(name: str, default: Any, value: Any) -> Any:
    """The value of parameter `name`, declared with `default`, when `value` is given for it.

    - a float parameter takes integers (15 -> 15.0);
    - an integer parameter takes floats with no fractional part (1.5e6 -> 1500000);
    - a string parameter takes integers (a device index such as 0 -> "0");
    - a boolean parameter takes only booleans.
    """
    kind = type(default)
    if kind not in _KIND:
        raise TypeError(f"parameter '{name}': no rule for defaults of type {kind.__name__}")
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"parameter '{name}' must be {_KIND[kind]}, got {_given(value)}")


def require_positive(params: dict[str, Any], *names: str) -> None:
    """ValueError naming the first of `names` whose value in `params` is not > 0."""
    for name in names:
        if not params[name] > 0:
            raise ValueError(f"{name} {params[name]} must be > 0")
