"""Errors keibi raises, each printable as one line a user can act on.

    KeibiError
    ├── InputError(path, line)    a log file or record that cannot be read; the run skips it
    ├── ConfigError(path, key)    a bad config file, flag, list or filter; the command stops
    ├── StoreError                the findings store cannot be opened or migrated
    └── PublishError(target)      a target or export destination refused what it was sent

The CLI prints ``str(err)`` and never a traceback for these.
"""

from __future__ import annotations


class KeibiError(Exception):
    """Base of every error keibi raises on purpose."""


class InputError(KeibiError):
    """A file or record that could not be read; ``str()`` gives ``path:line: reason``."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


class ConfigError(KeibiError):
    """A user mistake in configuration, flags or a list file."""

    def __init__(self, reason: str, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ":".join(p for p in (self.path, self.key) if p)
        return f"{where}: {self.reason}" if where else self.reason


class StoreError(KeibiError):
    """The store could not be opened, migrated or written."""


class PublishError(KeibiError):
    """A publish target failed; ``retryable`` tells the delivery loop whether trying again can help
    (a timeout or a 5xx can; a 4xx, a bad URL or a missing program cannot)."""

    def __init__(self, target: str, reason: str, *, retryable: bool = True) -> None:
        self.target = target
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"{target}: {reason}")
