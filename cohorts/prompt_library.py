"""The kit's own micro-prompts for the community phase (package data: library/*.toml)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

__all__ = ["community_prompts", "library_text"]


@cache
def community_prompts() -> tuple[tuple[str, str], ...]:
    """``(key, text)`` of every community prompt, in the order the cadence uses them."""
    raw = library_text("community_prompts.toml")
    return tuple((p["key"], p["text"]) for p in tomllib.loads(raw)["prompt"])


def library_text(name: str) -> str:
    """A file of the kit's library (prompts, the charter template)."""
    return resources.files("nbcohort.cohorts").joinpath("library", name).read_text("utf-8")
