"""Pieces shared by every content model: the strict base and the slug type."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="lower-case letters, digits and dashes; starts with a letter or digit",
    ),
]


class Strict(BaseModel):
    """Content models refuse unknown fields, so a misspelt key never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
