"""The community service's application: what every handler shares, and the routes."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session
from tornado.web import Application, GZipContentEncoding

from nbcohort.cohorts.api.access_log import log_request
from nbcohort.cohorts.api.group_commit import WriteBatcher
from nbcohort.cohorts.api.handler import NotFoundHandler
from nbcohort.cohorts.api.live import LiveWatches
from nbcohort.cohorts.api.page_watch import PageWatch
from nbcohort.cohorts.api.routes import PAGES, ROUTES
from nbcohort.cohorts.api.seen import SeenMembers
from nbcohort.cohorts.api.throttle import FailedAttempts, HubLane
from nbcohort.cohorts.api.throttle_known import KnownTokens
from nbcohort.cohorts.api.tokens import Authenticator, LocalTokenAuth
from nbcohort.cohorts.api.units import Units
from nbcohort.cohorts.config import (
    CommunitySettings,
    ExchangeSettings,
    HubSettings,
    LiveSettings,
    ServiceSettings,
)
from nbcohort.cohorts.mail.mailer import Mailer
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.errors import NotFound
from nbcohort.cohorts.services.exchange_blobs import BlobStore, blob_store
from nbcohort.cohorts.services.exchange_quota import SubmissionLimits
from nbcohort.cohorts.services.pages import PageCache
from nbcohort.cohorts.store import Store

__all__ = ["ServiceContext", "make_app"]


@dataclass
class ServiceContext:
    """What every handler needs: settings, rules, who is calling, where units of work run."""

    store: Store
    settings: ServiceSettings
    rules: CommunitySettings
    auth: Authenticator
    units: Units
    failed_attempts: FailedAttempts
    known_tokens: KnownTokens | None = None  # tokens valid lately, for every process; None: off
    hub_lane: HubLane = field(default_factory=HubLane)  # hub tokens from a refused address
    pages: PageCache | None = None
    watch: PageWatch | None = None  # PostgreSQL: tells ``pages`` which threads changed
    owns_store: bool = False  # opened by make_app (``Store.for_service``): closed on shutdown
    signing_key: bytes | None = None  # signs links that need no token (signing.py); None: off
    seen: SeenMembers | None = None  # members' last visits (``seen.py``)
    mail: Mailer | None = None  # unsubscribe links: None where mail is not set up
    live: LiveWatches = field(default=None)  # type: ignore[assignment]  # set by make_app
    exchange_root: Path | None = None  # the exchange's folder (uploads in flight); None: none
    exchange_blobs: BlobStore | None = None  # where its archives are (ExchangeSettings.store)
    exchange_limit: int = 0  # largest exchange upload, bytes (ExchangeSettings)
    exchange_quota: SubmissionLimits | None = None  # what one learner may keep (ditto)
    _cohorts: dict[int, tuple[float, Cohort]] = field(default_factory=dict)

    def cohort(self, session: Session, cohort_id: int | None) -> Cohort:
        """The actor's cohort, kept for a few seconds (read on every request, rarely changed)."""
        now = time.monotonic()
        hit = self._cohorts.get(cohort_id or 0)
        if hit is not None and hit[0] > now:
            return hit[1]
        cohort = session.get(Cohort, cohort_id)
        if cohort is None:
            raise NotFound("your cohort no longer exists")
        session.expunge(cohort)
        self._cohorts[cohort.id] = (now + self.settings.auth_cache_seconds, cohort)
        return cohort


def make_app(
    store: Store,
    settings: ServiceSettings | None = None,
    rules: CommunitySettings | None = None,
    auth: Authenticator | None = None,
    signing_key: bytes | None = None,
    *,
    mail: Mailer | None = None,
    live: LiveSettings | None = None,
    hub: HubSettings | None = None,
    exchange: ExchangeSettings | None = None,
    data_dir: str = "",
) -> Application:
    settings = settings or ServiceSettings()
    service_store = store.for_service()
    executor = (
        ThreadPoolExecutor(settings.workers, thread_name_prefix="nbcohort-unit")
        if settings.workers > 0
        else None
    )
    # Group commit needs a database that says at once whether a write would wait (SQLite).
    batcher = WriteBatcher(store) if store.is_sqlite and executor is not None else None
    pages = PageCache(settings.page_cache) if settings.page_cache > 0 else None
    watch = (
        PageWatch.for_engine(service_store.engine, pages)
        if pages is not None and settings.listen_for_changes
        else None
    )
    ctx = ServiceContext(
        store=service_store,
        settings=settings,
        rules=rules or CommunitySettings(),
        auth=auth or _authenticator(service_store, settings, hub),
        units=(units := Units(service_store, executor, batcher, watch)),
        failed_attempts=FailedAttempts(
            units, settings.failed_auth_limit, settings.failed_auth_window
        ),
        pages=pages,
        watch=watch,
        owns_store=service_store is not store,
        signing_key=signing_key,
        seen=SeenMembers(settings.seen_every_seconds),
        mail=mail,
    )
    if exchange is not None and data_dir:
        ctx.exchange_root = Path(exchange.folder(data_dir))
        ctx.exchange_blobs = blob_store(exchange, data_dir)
        ctx.exchange_limit = exchange.max_upload_bytes
        quota = exchange.learner_quota_bytes
        ctx.exchange_quota = SubmissionLimits(exchange.max_submissions, quota)
    if settings.failed_auth_limit > 0:
        ctx.known_tokens = KnownTokens(ctx.units)
    ctx.live = LiveWatches(ctx.units, live or LiveSettings())
    ctx.units.on_write = ctx.live.poke
    if watch is not None:
        watch.on_thread = lambda _thread_id: ctx.live.poke()
    prefix = _prefix(settings, hub)
    return Application(
        [(prefix + pattern, handler) for pattern, handler in [*ROUTES, *PAGES]],
        nbcohort=ctx,
        transforms=[_FastGzip],
        default_handler_class=NotFoundHandler,
        log_function=log_request,  # signed links' secrets stay out of the log
    )


def _authenticator(
    store: Store, settings: ServiceSettings, hub: HubSettings | None
) -> Authenticator:
    if settings.auth == "hub":
        from nbcohort.cohorts.api.hub_auth import HubTokenAuth  # needs the 'hub' extra

        return HubTokenAuth(store, hub or HubSettings(), settings.auth_cache_seconds)
    return LocalTokenAuth(store, settings.auth_cache_seconds)


def _prefix(settings: ServiceSettings, hub: HubSettings | None) -> str:
    """Behind the hub's proxy, which keeps the path, routes live under the service's prefix."""
    if settings.auth != "hub":
        return ""
    path = (hub or HubSettings()).prefix.strip("/")
    return re.escape("/" + path) if path else ""


class _FastGzip(GZipContentEncoding):
    """gzip at level 1 for clients that accept it: most of level 6's saving on JSON for much
    less of the service's one event loop (tests/bench/README.md)."""

    GZIP_LEVEL = 1
