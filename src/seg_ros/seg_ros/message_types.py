"""Installed ROS message classes by type name, for nodes that carry messages of any type."""
from __future__ import annotations

import importlib


def load_message_class(type_name: str):
    """The Python class of 'pkg/msg/Name'; ValueError saying what is missing when it is not installed."""
    pkg, _, name = (type_name.split("/") + ["", ""])[:3]
    try:
        module = importlib.import_module(f"{pkg}.msg")
    except (ImportError, ValueError):
        raise ValueError(f"unknown message type '{type_name}': no Python package '{pkg}' "
                         "(is it built and the workspace sourced?)") from None
    cls = getattr(module, name, None)
    if cls is None or getattr(type(cls), "__import_type_support__", None) is None:
        raise ValueError(f"unknown message type '{type_name}': package '{pkg}' has no message '{name}'")
    return cls
