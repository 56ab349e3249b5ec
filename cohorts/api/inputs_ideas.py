"""What the routes of ideas, pilots and leader nudges accept (#16 parts 3, 4): declared
here, beside ``inputs.py`` whose base models and field types they share. Shapes only; the
services layer says what is missing or wrong in the community's words (a pilot without an
owner, a review date in the past)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from nbcohort.cohorts.api.inputs import Id, Short, _Body, _Query

__all__ = ["DeclineBody", "IdeasQuery", "NewPilot", "PilotUpdateBody", "PilotsQuery"]

_LONG = Annotated[str, Field(max_length=10_000)]  # the service's own limit is lower


class IdeasQuery(_Query):
    state: Literal["open", "escalated", "piloted", "declined"] | None = None
    anchor: Short | None = None


class DeclineBody(_Body):
    reason: Short = ""  # empty: the service says a reason is required


class NewPilot(_Body):
    owner_id: Id | None = None  # None: the service says a pilot needs an owner
    goal: _LONG = ""
    measure: _LONG = ""
    review_on: Annotated[str, Field(max_length=40)] = ""  # YYYY-MM-DD, checked by the service
    title: Short = ""


class PilotUpdateBody(_Body):
    note: _LONG = ""
    status: Literal["active", "done", "stopped"] = "active"
    outcome: _LONG = ""


class PilotsQuery(_Query):
    status: Literal["active", "done", "stopped"] | None = None
