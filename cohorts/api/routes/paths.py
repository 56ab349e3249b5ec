"""The patterns routes share, written once."""

from __future__ import annotations

__all__ = ["ID", "NAME", "PREFIX"]

PREFIX = "/api/v1"
ID = r"([0-9]{1,18})"  # digits only; parsing.path_id says which are real ids
NAME = r"([^/]{1,100})"  # an assignment or practice name, checked by the services layer
