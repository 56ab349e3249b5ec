"""Live widgets: ONE background watcher per kernel keeps every displayed discussion and
notifications widget current, with one long-poll to the service at a time.

- It starts only when a widget is shown in a live front end: each live widget counts its
  views (ipywidgets' ``_view_count``, which a front end raises when it renders a view and
  lowers when the view goes). Headless runs (nbconvert, papermill, nbclient, nbgrader, the
  tests) render no view, so nothing starts there.
- It asks the service to answer when something a widget shows changed (``client.watch``, up
  to ``WAIT_SECONDS``), then tells those widgets, which re-read and redraw themselves. An idle
  notebook costs the service about two requests a minute.
- It runs in a daemon thread, so no cell ever waits for it; when the service is down it shows
  one calm line on the widgets and tries again later, backing off to ``MAX_BACKOFF_SECONDS``.
- It ends once no widget is shown (every view gone, or the widget closed).
- It pauses when no front end has shown a sign of life for ``LiveSettings.idle_minutes``: a
  tab or browser that goes away without removing its views never lowers ``_view_count``, and
  its kernel would watch forever. Signs of life are what a front end sends: a view rendered or
  removed, a cell run (IPython's ``pre_run_cell``; silent executions are tools, not a reader),
  any message to a widget (a click, a text typed: the kernel's ``comm_msg`` handler). A
  paused watcher shows one calm line and starts again at the next sign of life (the notebook
  opened again renders its views). A watch never waits past the idle limit, so it pauses on
  time. Each sign costs a cell a timestamp, never a wait.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any, Protocol

from nbcohort.cohorts.client import ClientError, CohortClient, ServiceUnavailable

__all__ = ["PAUSED", "WAIT_SECONDS", "LiveWidget", "follow_views", "watcher"]

log = logging.getLogger("nbcohort.widgets")

WAIT_SECONDS = 25.0  # what a watch asks the service to wait (it may cap it)
MIN_GAP_SECONDS = 1.0  # between two watches, however often the service says 'changed'
MAX_BACKOFF_SECONDS = 60.0
PAUSED = (
    "live updates paused: nothing happened in this notebook for a while; click anything here, "
    "run a cell or reopen it to resume"
)


class LiveWidget(Protocol):
    """What the watcher asks of a widget it keeps current."""

    def live_client(self) -> CohortClient: ...

    def live_marks(self) -> tuple[dict[str, int], str | None]:
        """The thread versions and the notifications mark the widget shows now."""
        ...

    def live_changed(self, threads: dict[str, int], notifications: str | None) -> None:
        """Something it shows changed: re-read and redraw (called on the watcher thread)."""
        ...

    def live_offline(self, message: str | None) -> None:
        """Show ``message`` as the calm offline line, or clear it (None)."""
        ...


class Watcher:
    """The kernel's one watcher (see the module's docstring)."""

    def __init__(self) -> None:
        self._widgets: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()  # ends a back-off sleep early (a widget came or went)
        self._client: CohortClient | None = None
        self.requests = 0  # watches sent (tests and the benchmark read it)
        self._last_sign = time.monotonic()  # a front end's last sign of life
        self._idle_seconds: float | None = None  # LiveSettings.idle_minutes, read once
        self.paused = False  # stopped for want of a sign of life, widgets still counted

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add(self, widget: LiveWidget) -> None:
        self._last_sign = time.monotonic()
        with self._lock:
            self._widgets.add(widget)
            self._start()
        self._wake.set()

    def alive(self) -> None:
        """A front end showed a sign of life: the idle clock starts again, and a paused watcher
        resumes (on its own thread: the caller, a cell, never waits)."""
        self._last_sign = time.monotonic()
        if self.paused:
            with self._lock:
                if self._widgets:
                    self._start()

    def _start(self) -> None:  # with the lock held
        if not self.running:
            self._thread = threading.Thread(target=self._run, name="nbcohort-live", daemon=True)
            self._thread.start()

    def remove(self, widget: LiveWidget) -> None:
        with self._lock:
            self._widgets.discard(widget)
        self._wake.set()

    def widgets(self) -> list[LiveWidget]:
        with self._lock:
            return list(self._widgets)

    def acted(self) -> None:
        """The member did something through a widget in this kernel that no watch sees (the
        charter acknowledged): shown widgets that follow their own progress (``live_acted``)
        re-read, on a thread of their own, so the click's handler never waits for them."""
        followers = [w for w in self.widgets() if hasattr(w, "live_acted")]
        if followers:
            threading.Thread(
                target=_each, args=(followers, "live_acted"), name="nbcohort-acted", daemon=True
            ).start()

    # -- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        backoff, offline = 0.0, False
        if self.paused:  # resumed: the paused line goes
            self.paused = False
            _each(self.widgets(), "live_offline", None)
        idle = self._idle_limit()
        while True:
            with self._lock:
                shown = list(self._widgets)
                if not shown:
                    self._thread = None
                    return
                left = idle - (time.monotonic() - self._last_sign) if idle else WAIT_SECONDS
                if left <= 0:
                    self._thread, self.paused = None, True
                    log.info("nbcohort live: paused, no sign of life from a front end")
                    _each(shown, "live_offline", PAUSED)
                    return
            self._wake.clear()
            started = time.monotonic()
            try:
                answer = self._ask(shown, max(1.0, min(WAIT_SECONDS, left)))
            except ClientError as exc:
                backoff = min(max(2.0, backoff * 2), MAX_BACKOFF_SECONDS)
                message = (
                    "live updates paused: community offline; trying again"
                    if isinstance(exc, ServiceUnavailable)
                    else f"live updates paused: {exc.message}"
                )
                log.info("nbcohort live: %s (next try in %.0f s)", message, backoff)
                offline = True
                _each(shown, "live_offline", message)
                self._wake.wait(backoff)
                continue
            except Exception:  # never a traceback in a notebook: log, and try again later
                log.warning("nbcohort live: watch failed", exc_info=True)
                backoff = min(max(2.0, backoff * 2), MAX_BACKOFF_SECONDS)
                self._wake.wait(backoff)
                continue
            backoff = 0.0
            if offline:
                offline = False
                _each(shown, "live_offline", None)
            if answer.get("changed"):
                threads, notes = answer.get("threads") or {}, answer.get("notifications")
                _each(shown, "live_changed", threads, notes)
            gap = MIN_GAP_SECONDS - (time.monotonic() - started)
            if gap > 0:
                time.sleep(gap)

    def _idle_limit(self) -> float:
        """``LiveSettings.idle_minutes`` in seconds (0: never pause), from the kernel's
        ``jupyter_config.py``, read once (on the watcher's thread: no cell waits for it)."""
        if self._idle_seconds is None:
            from nbcohort.cohorts.config import LiveSettings, load_config

            try:
                minutes = LiveSettings(config=load_config()).idle_minutes
            except Exception:  # a broken config file: the default, and a line in the log
                log.warning("nbcohort live: cannot read LiveSettings.idle_minutes", exc_info=True)
                minutes = LiveSettings().idle_minutes
            self._idle_seconds = max(0.0, minutes * 60.0)
        return self._idle_seconds

    def _ask(self, shown: list[LiveWidget], wait: float) -> dict[str, Any]:
        base = shown[0].live_client()
        client = self._client
        if client is None or (client.url, client.token) != (base.url, base.token):
            if client is not None:
                client.close()
            client = self._client = CohortClient(
                base.url, base.token, timeout=WAIT_SECONDS + 10, retries=0
            )
        threads: dict[str, int] = {}
        notes: str | None = None
        for widget in shown:
            versions, mark = widget.live_marks()
            for anchor, version in versions.items():
                threads[anchor] = min(version, threads.get(anchor, version))
            notes = mark if mark is not None else notes
        if not threads and notes is None:  # only followers (onboarding): nothing to ask
            self._wake.wait(wait)
            return {}
        self.requests += 1
        return client.watch(threads, notes, wait)


def _each(widgets: list[LiveWidget], method: str, *args: Any) -> None:
    for widget in widgets:
        try:
            getattr(widget, method)(*args)
        except Exception:  # one widget's trouble never stops the others
            log.warning("nbcohort live: %s failed", method, exc_info=True)


_watcher = Watcher()


def watcher() -> Watcher:
    """The kernel's watcher."""
    return _watcher


def follow_views(widget: Any) -> None:
    """Keep ``widget`` current while a front end shows it: count its views (ipywidgets'
    ``_view_count``) and join or leave the kernel's watcher as they come and go."""

    def views_changed(change: dict[str, Any]) -> None:
        if (change["new"] or 0) > 0:
            _watcher.add(widget)
        else:
            _watcher.remove(widget)
        _watcher.alive()

    _follow_cells()
    widget.observe(views_changed, "_view_count")
    widget._view_count = 0  # from now on, a front end counts the views it renders


_cells_followed = False


def _follow_cells() -> None:
    """Count a cell the reader runs, and any message a front end sends a widget (a click, a
    text typed), as a sign of life (once per kernel; none without IPython's kernel)."""
    global _cells_followed
    if _cells_followed:
        return
    _cells_followed = True
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipywidgets depends on IPython
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.events.register("pre_run_cell", lambda _info: _watcher.alive())
    handlers = getattr(getattr(shell, "kernel", None), "shell_handlers", None)
    if isinstance(handlers, dict) and callable(handlers.get("comm_msg")):
        handle = handlers["comm_msg"]

        def comm_msg(*args: Any) -> Any:  # the kernel awaits what the original returns
            _watcher.alive()
            return handle(*args)

        handlers["comm_msg"] = comm_msg
