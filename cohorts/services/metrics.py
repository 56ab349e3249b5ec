"""The cohort's metrics as a viewer may see them: the one decision about who sees which.

- staff (facilitators, instructors, the local administrator): every metric, with its
  breakdowns (per practice, onboarding step);
- learners, champions and alumni: every metric at the cohort's level, without breakdowns;
- sponsors: the leader set (``MetricsSettings.leader_metrics``), cohort level only.

No view holds anything about one person: reads are counts, and every number about fewer
than ``MetricsSettings.min_group`` members is withheld with the reason
(``nbcohort.cohorts.metrics``).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from nbcohort.cohorts.config import MetricsSettings
from nbcohort.cohorts.models import Cohort, utcnow
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Invalid

__all__ = ["MetricsCache", "View", "cohort_metrics", "view_of"]

View = Literal["staff", "cohort", "leader"]


class MetricsCache:
    """Metrics computed lately, each kept for ``MetricsSettings.cache_seconds``: a cohort's
    numbers change slowly, and computing them over a long log takes the service's event
    loop for a while (tests/bench/README.md). Safe to share between threads."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            hit = self._kept.get(key)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, key: tuple[Any, ...], seconds: float, value: dict[str, Any]) -> None:
        with self._lock:
            now = time.monotonic()
            self._kept = {k: v for k, v in self._kept.items() if v[0] > now}  # drop the old
            self._kept[key] = (now + seconds, value)


def view_of(actor: Actor) -> View:
    """Which metrics ``actor`` sees: those who run the cohort's roster see all of them."""
    if actor.can("roster.manage"):
        return "staff"
    return "leader" if actor.role == "sponsor" else "cohort"


def cohort_metrics(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    *,
    window_days: int | None = None,
    settings: MetricsSettings | None = None,
    now: datetime | None = None,
    cache: MetricsCache | None = None,
) -> dict[str, Any]:
    """Every metric of ``cohort`` that ``actor`` may see, over the ``window_days`` before
    ``now`` (default: the setting, and the store's clock). With a ``cache`` (the service's),
    the same view computed in the last ``cache_seconds`` is answered again; ``computed_at``
    says when it was computed."""
    require(actor, "cohort.read", cohort.id)
    settings = settings or MetricsSettings()
    days = window_days if window_days is not None else settings.window_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise Invalid("window must be a whole number of days from 1 to 366", field="window")
    view = view_of(actor)
    key = (
        session.get_bind().engine.url.render_as_string(),  # a process may serve several
        cohort.id,
        view,
        days,
        tuple(settings.roles),
        settings.min_group,
        tuple(settings.leader_metrics),
    )
    kept = cache.get(key) if cache is not None and now is None else None
    if kept is not None:
        return kept
    # pandas is loaded by the first metrics request, not by every service process at start
    from nbcohort.cohorts.metrics import compute_metrics, load_frames

    at = now or utcnow()
    frames = load_frames(session, cohort, now=at.timestamp(), days=days)
    metrics = compute_metrics(
        frames,
        days=days,
        now=at.timestamp(),
        roles=tuple(settings.roles),
        min_group=settings.min_group,
    )
    if view == "leader":
        metrics = [m for m in metrics if m.id in settings.leader_metrics]
    out = {
        "cohort": cohort.slug,
        "view": view,
        "timezone": frames.tz,
        "window_days": days,
        "computed_at": at.isoformat(timespec="seconds"),
        "roles": list(settings.roles),
        "min_group": settings.min_group,
        "leader_metrics": list(settings.leader_metrics),  # the leader one-pager's set
        "metrics": [m.as_dict(breakdown=view == "staff") for m in metrics],
    }
    if cache is not None and now is None and settings.cache_seconds > 0:
        cache.put(key, settings.cache_seconds, out)
    return out
