"""Settings that routes read beyond the service's own, from the configuration the service
was started with (the community rules' parent: the ``nbcohort serve`` application)."""

from __future__ import annotations

from typing import TypeVar
from weakref import WeakKeyDictionary

from traitlets.config import Configurable

from nbcohort.cohorts.config import CommunitySettings

__all__ = ["configured"]

C = TypeVar("C", bound=Configurable)
_made: WeakKeyDictionary[CommunitySettings, dict[type, Configurable]] = WeakKeyDictionary()


def configured(cls: type[C], rules: CommunitySettings) -> C:
    """``cls`` configured as ``rules`` is, made once per service."""
    made = _made.setdefault(rules, {})
    if cls not in made:
        made[cls] = cls(parent=rules)
    found = made[cls]
    assert isinstance(found, cls)
    return found
