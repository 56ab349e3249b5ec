"""Processes as a user starts them: free ports, an environment no user config leaks into,
and ``nbcohort serve`` in its own process. The benchmarks use the same helpers (standard
library only at import, so a benchmark's load generator can use them too)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for a child process: no user or repo Jupyter config, no NBCOHORT_* leaks in."""
    conf = tmp_path / "jupyter-config"
    conf.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NBCOHORT_"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(conf),
        JUPYTER_CONFIG_PATH=str(conf),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def wait_until_serving(
    url: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    timeout: float = 30,
) -> None:
    """Wait until ``url`` answers 200 (the service's health route); fail at once if ``proc``
    exits, with the end of its ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited: {_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except (OSError, http.client.HTTPException):  # not up yet, or not ours on that port
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s: {_tail(log)}")


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""


class ServiceProcess:
    """``nbcohort serve`` started as a user starts it, in its own process."""

    def __init__(self, tmp_path: Path, db_url: str, port: int | None = None) -> None:
        self.db_url, self.port = db_url, port or free_port()
        self._own_port = port is None  # ours to choose again if another process takes it
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"service-{self.port}.log"
        self.env = isolated_env(tmp_path)
        self.args = [sys.executable, "-m", "nbcohort.cohorts.cli", "serve",
                     f"--db-url={db_url}", f"--port={self.port}",
                     f"--data-dir={tmp_path / 'data'}"]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> ServiceProcess:
        """Start it and wait until it answers. A free port can be taken by another process
        of the test run before the service binds it: then a port of our choosing is chosen
        again (a few times), as a user would pick another."""
        for _attempt in range(3):
            with self.log.open("ab") as out:
                self.proc = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=out)
            try:
                wait_until_serving(self.url + "/api/v1/health", self.proc, self.log, timeout)
                return self
            except RuntimeError:
                taken = f"cannot listen on 127.0.0.1:{self.port}" in _tail(self.log)
                if not (self._own_port and taken and self.proc.poll() is not None):
                    raise
            self._move_to(free_port())
        raise RuntimeError(f"no free port stayed free for the service: {_tail(self.log)}")

    def _move_to(self, port: int) -> None:
        old = f"--port={self.port}"
        self.args = [f"--port={port}" if a == old else a for a in self.args]
        self.url = self.url.replace(f":{self.port}", f":{port}", 1)
        self.port = port

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
