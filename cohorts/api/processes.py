"""Several service processes on one port, so the service can use more than one core.

One Python process runs on one core at a time (the GIL). With ``ServiceSettings.processes``
above 1, ``nbcohort serve`` binds one listening socket per worker (``SO_REUSEPORT``, so the
kernel spreads members' connections evenly over the workers), forks the workers and
supervises them: a worker that dies is replaced on the same socket (connections waiting in
its queue are kept), SIGTERM or SIGINT stops every worker gracefully, and a worker whose
supervisor is gone (killed with SIGKILL) stops by itself. Each worker opens its own store
after the fork; SQLite writers of all workers queue on one file lock (``store.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType

from tornado.netutil import bind_sockets

__all__ = ["Supervisor", "bind_worker_sockets"]

log = logging.getLogger("nbcohort.service")

Worker = Callable[[list[socket.socket], int], int]


def bind_worker_sockets(count: int, port: int, address: str) -> list[list[socket.socket]]:
    """One set of listening sockets per worker, all on one port (an ephemeral port if 0)."""
    groups: list[list[socket.socket]] = []
    try:
        for _ in range(count):
            group = bind_sockets(port, address, reuse_port=True)
            port = port or group[0].getsockname()[1]
            groups.append(group)
    except BaseException:
        for group in groups:
            for sock in group:
                sock.close()
        raise
    return groups


class Supervisor:
    """Forks one worker per socket group and keeps them running until told to stop.

    A worker that exits on its own is replaced; more than ``max_restarts`` replacements in a
    minute mean something is wrong with every worker (a broken database, say), so the
    supervisor stops them all and exits with an error instead of looping.
    """

    def __init__(
        self, groups: list[list[socket.socket]], worker: Worker, *, max_restarts: int = 5
    ) -> None:
        self.groups, self.worker, self.max_restarts = groups, worker, max_restarts
        self.children: dict[int, int] = {}  # pid -> slot
        self.stopping = False
        self._restarts: list[float] = []

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (0) or until workers keep dying (1)."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        status = 0
        try:
            for slot in range(len(self.groups)):
                self._spawn(slot)
            while self.children:
                try:
                    pid, wait_status = os.wait()
                except ChildProcessError:
                    break
                slot = self.children.pop(pid, -1)
                if slot < 0 or self.stopping:
                    continue
                code = os.waitstatus_to_exitcode(wait_status)
                if self._too_many_restarts():
                    log.error("service workers keep exiting (last: %s); stopping", code)
                    status = 1
                    self._stop(signal.SIGTERM, None)
                    continue
                log.warning(
                    "service worker %d (pid %d) exited with %s; starting another", slot, pid, code
                )
                self._spawn(slot)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for group in self.groups:
                for sock in group:
                    sock.close()
        return status

    def _too_many_restarts(self) -> bool:
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < 60] + [now]
        return len(self._restarts) > self.max_restarts

    def _spawn(self, slot: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the supervisor's code
            code = 1
            try:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                for other, group in enumerate(self.groups):
                    if other != slot:
                        for sock in group:
                            sock.close()
                code = self.worker(self.groups[slot], slot)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = slot
        if self.stopping:  # a stop signal arrived while this worker was being forked
            self._signal(pid, signal.SIGTERM)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        for pid in list(self.children):
            self._signal(pid, signal.SIGTERM)

    @staticmethod
    def _signal(pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # it has just exited
            os.kill(pid, sig)
