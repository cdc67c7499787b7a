"""The validator error that names a key below the validated model (``ConfigError.key``)."""

from __future__ import annotations

__all__ = ["KeyedValueError"]


class KeyedValueError(ValueError):
    """A validator error about a key below the validated model (for ``ConfigError.key``)."""

    def __init__(
        self, message: str, *, key: tuple[str | int, ...], expected: str, found: str
    ) -> None:
        super().__init__(message)
        self.key = key
        self.expected = expected
        self.found = found
