"""Pieces shared by every content model: the strict base and the slug type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="lower-case letters, digits and dashes; starts with a letter or digit",
    ),
]


class Strict(BaseModel):
    """Content models refuse unknown fields, so a misspelt key never passes silently."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False
    )


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=_HasId)


def unique_ids(what: str) -> Any:
    """A validator for a list of items whose ``id`` must be unique: ``Annotated[list[X], unique_ids("x")]``."""

    def check(values: Sequence[ItemT]) -> Sequence[ItemT]:
        ids = [v.id for v in values]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"{what} ids are used twice: {', '.join(twice)}")
        return values

    return AfterValidator(check)
