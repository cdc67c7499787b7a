"""Consent: for which purposes a client's members may be used beyond ingestion.

``clients/<id>.yaml``::

    consent:
      purposes: [care, research, marketing]   # the purposes exports may name
      default: deny                           # no record, no column value: deny (or grant)
      column: consent                         # optional: a column of the file listing the
      separator: "|"                          #   purposes granted ("care|research")
      erase_on_withdrawal: [care]             # withdrawing these erases the member

Consent recorded with ``lakehouse consent record|import`` (``<lake>/consent/events``) wins
over the column; the latest record per member and purpose counts.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from lakehouse.config.problems import one_or_many

__all__ = ["ConsentSettings"]

_PURPOSE = re.compile(r"^[a-z][a-z0-9_]*$")


class ConsentSettings(BaseModel):
    """The purposes a member can consent to, and where consent is read from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    purposes: Annotated[tuple[str, ...], BeforeValidator(one_or_many)] = Field(
        min_length=1, description="Purposes, snake_case."
    )
    default: Literal["deny", "grant"] = Field(
        "deny", description="Consent of a member with no record and no column value."
    )
    column: str | None = Field(
        None, description="A string column of the client's file listing granted purposes."
    )
    separator: str = Field("|", min_length=1, max_length=1)
    erase_on_withdrawal: Annotated[tuple[str, ...], BeforeValidator(one_or_many)] = Field(
        (), description="Purposes whose withdrawal erases the member (as `lakehouse forget`)."
    )

    @field_validator("purposes")
    @classmethod
    def _snake_case(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for purpose in value:
            if not _PURPOSE.match(purpose):
                raise ValueError(f"purpose '{purpose}' must be snake_case")
        if len(set(value)) != len(value):
            raise ValueError("purposes must be unique")
        return value

    @model_validator(mode="after")
    def _known_purposes(self) -> ConsentSettings:
        unknown = sorted(set(self.erase_on_withdrawal) - set(self.purposes))
        if unknown:
            raise ValueError(
                f"erase_on_withdrawal names unknown purpose(s) {', '.join(unknown)}; "
                f"declared: {', '.join(self.purposes)}"
            )
        return self

    def check_purpose(self, purpose: str) -> str:
        """Raises: ValueError: ``purpose`` is not declared."""
        if purpose not in self.purposes:
            raise ValueError(f"unknown purpose '{purpose}'; declared: {', '.join(self.purposes)}")
        return purpose
