"""Serving the application: until a signal (``nbcohort serve``), or on a background thread
(the demo's --check and in-process tools), with the process's heap frozen first."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import threading

from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.web import Application

from nbcohort.cohorts.config import ServiceSettings

__all__ = ["BackgroundService", "CannotListen", "freeze_heap", "serve"]

log = logging.getLogger("nbcohort.service")


def _http_server(app: Application, settings: ServiceSettings) -> HTTPServer:
    # The handlers refuse an oversized body themselves, in the API's JSON (handler.py).
    return HTTPServer(app, max_body_size=settings.max_body_bytes + 65536, xheaders=False)


class CannotListen(Exception):
    """The address is taken, or not this machine's: the service cannot start there."""


async def serve(
    app: Application,
    settings: ServiceSettings,
    ready: asyncio.Event | None = None,
    *,
    sockets: list[socket.socket] | None = None,
    supervisor: int | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then finish in-flight requests and stop.

    A worker of a supervisor (``processes.py``) serves the ``sockets`` it was given and also
    stops when its ``supervisor`` process is gone, so no worker outlives a killed service.
    """
    server = _http_server(app, settings)
    if sockets is None:
        try:
            server.listen(settings.port, address=settings.ip)
        except OSError as exc:
            raise CannotListen(f"cannot listen on {settings.ip}:{settings.port}: {exc}") from None
        log.info("nbcohort service listening on http://%s:%s", settings.ip, settings.port)
    else:
        server.add_sockets(sockets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    orphan_check = None
    if supervisor is not None:
        orphan_check = PeriodicCallback(
            lambda: stop.set() if os.getppid() != supervisor else None, 500
        )
        orphan_check.start()
    watch = app.settings["nbcohort"].watch
    if watch is not None:
        watch.start()
    if ready is not None:
        ready.set()
    await stop.wait()
    if orphan_check is not None:
        orphan_check.stop()
    app.settings["nbcohort"].live.stop()  # parked watches answer 'nothing new' at once
    server.stop()
    await server.close_all_connections()
    if watch is not None:
        await watch.stop()
    _shutdown(app)
    log.info("nbcohort service stopped")


def freeze_heap(young_threshold: int = 0) -> None:
    """Keep what start-up built (modules, config, the app) out of every later collection,
    and collect the youngest generation only after ``young_threshold`` objects (0: Python's
    default; ``ServiceSettings.gc_young_threshold`` says why).

    For a process that only serves (``nbcohort serve``): its heap starts large (traitlets,
    SQLAlchemy, tornado), and a full collection walked all of it, a long stop that
    every waiting request shares. Frozen before a fork, those objects also stay shared with
    the workers: a collection in a worker no longer writes to their pages.
    """
    gc.collect()
    gc.freeze()
    if young_threshold > 0:
        gc.set_threshold(young_threshold, *gc.get_threshold()[1:])


def _shutdown(app: Application) -> None:
    """Let writes on the writer thread finish; close the connections the service opened."""
    ctx = app.settings["nbcohort"]
    ctx.units.close()
    if ctx.owns_store:
        ctx.store.close()


class BackgroundService:
    """The service on its own thread and event loop (the demo's --check and in-process tools)."""

    def __init__(self, app: Application, settings: ServiceSettings) -> None:
        self._app, self._settings = app, settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: HTTPServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="nbcohort-service", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._settings.ip}:{self._settings.port}"

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._server = _http_server(self._app, self._settings)
            self._server.listen(self._settings.port, address=self._settings.ip)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        watch = self._app.settings["nbcohort"].watch
        if watch is not None:
            self._loop.call_soon(watch.start)
        self._ready.set()
        self._loop.run_forever()
        if watch is not None:
            self._loop.run_until_complete(watch.stop())
        self._loop.close()

    def start(self) -> BackgroundService:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is None or self._server is None:
            return
        server, loop = self._server, self._loop
        loop.call_soon_threadsafe(self._app.settings["nbcohort"].live.stop)
        loop.call_soon_threadsafe(server.stop)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        _shutdown(self._app)
