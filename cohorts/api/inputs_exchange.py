"""What the exchange's routes accept in their query strings (#18 part 3), beside
``inputs.py`` whose base models they share. Bodies are archives, streamed to disk and
vetted by the services layer (``services/exchange_archive.py``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from nbcohort.cohorts.api.inputs import _Query

__all__ = ["ReleaseQuery", "SubmissionsQuery"]

_Name = Annotated[str, Field(max_length=100)]


class ReleaseQuery(_Query):
    force: bool = False  # replace an earlier release (nbgrader's --force)


class SubmissionsQuery(_Query):
    assignment: _Name | None = None
    student: _Name | None = None
