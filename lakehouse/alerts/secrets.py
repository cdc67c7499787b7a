"""Sink secrets: named in YAML, resolved from the environment, then from the key file.

A ``Secret`` never shows its value in ``repr``/``str``, so it cannot reach a log line or an
exception message by accident; ``reveal()`` is called where the value goes on the wire.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.errors import ConfigError, KeyMissingError
from lakehouse.pii.keys import KEY_FILE_ENV, key_file_secrets

__all__ = ["Secret", "SecretSource"]

_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,127}$")
_CONF = "conf/lakehouse.yaml"


@dataclass(frozen=True)
class Secret:
    """A secret value and the name it was found under; only the name is ever shown."""

    name: str
    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return f"<secret {self.name}>"


class SecretSource:
    """Looks secrets up by name: the environment first, then the key file (read once)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._file: dict[str, str] | None = None

    def _from_file(self) -> dict[str, str]:
        if self._file is None:
            path = self._environ.get(KEY_FILE_ENV)
            try:
                self._file = key_file_secrets(Path(path)) if path else {}
            except KeyMissingError as exc:
                raise ConfigError(
                    exc.message, path=path or KEY_FILE_ENV, key="secrets", fix=exc.fix
                ) from exc
        return self._file

    def get(self, name: str, *, sink: str, key: str) -> Secret:
        """The secret named ``name`` for ``sink``'s ``key``.

        Raises:
            ConfigError: ``name`` is not a variable name (a pasted value is withheld), or no
                value is set; names the sink, the key and the variable.
        """
        where = f"alerts.sinks.{sink}.{key}"
        if not _NAME.match(name):
            raise ConfigError(
                f"alert sink '{sink}': {key} must name an environment variable, not hold the "
                "secret",
                path=_CONF,
                key=where,
                expected="an upper-case variable name such as LAKEHOUSE_SLACK_WEBHOOK_URL",
                found="a value that is not a name (withheld: it may be the secret itself)",
                fix="put the secret in the environment or the key file and name it here",
            )
        value = self._environ.get(name) or self._from_file().get(name)
        if not value:
            raise ConfigError(
                f"alert sink '{sink}' needs secret {name}, which is not set",
                path=_CONF,
                key=where,
                fix=f'export {name}=... or add "secrets": {{"{name}": "..."}} to the key '
                f"file named by {KEY_FILE_ENV}; or remove the sink from conf/lakehouse.yaml",
            )
        return Secret(name, value)
