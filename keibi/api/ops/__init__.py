"""The operations keibi answers, one module per area, each registering its handlers here.

A handler takes a ``Call`` and returns the response body in wire form; GuardDuty operations
without a handler are answered with a clear "not supported" error (``keibi.api.protocol``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keibi.api.call import Call

Handler = Callable[[Call], dict[str, Any]]

HANDLERS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of GuardDuty operation ``name``."""

    def register(fn: Handler) -> Handler:
        if name in HANDLERS:
            raise ValueError(f"operation {name} has two handlers")
        HANDLERS[name] = fn
        return fn

    return register


def load() -> dict[str, Handler]:
    """Every handler, after importing the modules that register them."""
    from keibi.api.ops import destinations, detectors, filters, findings, lists, members, tags, usage  # noqa: F401

    return HANDLERS
