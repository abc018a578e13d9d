"""The base of every service's domain models, and the text fields they share.

Domain models are frozen and refuse unknown fields, so a request field the model
does not know is an error rather than silently dropped. Aggregates are ``Versioned``:
each change returns a copy with the version incremented, which their events carry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, StringConstraints

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
RequiredText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=5000)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Versioned(Model):
    updated_at: datetime
    version: int = 1

    def _changed(self, now: datetime, **changes: object) -> Self:
        return self.model_copy(update={**changes, "updated_at": now, "version": self.version + 1})
