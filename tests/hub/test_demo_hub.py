"""``nbcohort demo --hub`` (what ``python3 dev.py demo --hub`` runs) started as a user starts
it: a subprocess with CI=true and no stdin. The learner and the instructor it prints log in
through the hub's REST API with the printed password, start their servers and run code in
their own kernels; only the instructor's server has nbgrader's formgrader. nbgrader's exchange
is the service exchange: the review round's submissions, the packets and a learner's
``nbgrader list`` go through the service, and nbgrader's filesystem exchange stays empty.
Ctrl-C (SIGINT) stops it all: no process of it is left and its ports are free."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.helpers.hub import find_proxy, spawn
from tests.helpers.kernels import Kernel
from tests.helpers.processes import REPO, free_port, isolated_env

pytestmark = pytest.mark.slow

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed (the hub extra)")


def fresh_clone(tmp_path: Path) -> Path:
    """What a clone holds that the demo reads (as tests/cohorts/test_demo.py makes it)."""
    clone = tmp_path / "clone"
    (clone / "course").mkdir(parents=True)
    shutil.copy(REPO / "jupyter_config.py", clone)
    shutil.copy(REPO / "course" / "course.toml", clone / "course")
    for folder in ("source", "cohorts"):
        shutil.copytree(REPO / "course" / folder, clone / "course" / folder)
    return clone


def three_free_ports() -> int:
    """A port whose next two are free too (the hub's API and its proxy's API use them)."""
    for _ in range(50):
        port = free_port()
        if port < 65000 and all(_free(port + i) for i in (1, 2)):
            return port
    raise RuntimeError("no three free ports in a row")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Demo:
    """The demo's process and what it printed, line by line as it comes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.lines = proc, queue.Queue[str]()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str, timeout: float = 300) -> list[str]:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self.lines.empty()):
                raise AssertionError(f"no {text!r} in the demo's output:\n" + "\n".join(self.seen))
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.lines.get(timeout=min(left, 1.0)))
        return self.seen


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, Path, int, int]]:
    if find_proxy(Path.home() / ".cache" / "nbcohort" / "chp") is None:
        pytest.skip("configurable-http-proxy is not on PATH and npm could not install it")
    tmp = tmp_path_factory.mktemp("demo-hub")
    clone = fresh_clone(tmp)
    hub_port, service_port = three_free_ports(), free_port()
    env = isolated_env(
        tmp, JUPYTER_CONFIG_PATH=str(clone), NBCOHORT_PORT=str(service_port), CI="true"
    )
    nbcohort = Path(sys.executable).with_name("nbcohort")  # the command dev.py runs
    proc = subprocess.Popen(
        [str(nbcohort), "demo", "--hub", f"--hub-port={hub_port}"],
        cwd=clone,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Demo(proc)
    try:
        yield running, clone, hub_port, service_port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def exchange_kinds(data: Path) -> Iterator[dict[str, int]]:
    """How many exchange files of each kind the demo's service keeps (its SQLite store)."""
    import sqlite3

    (found,) = data.glob("*.sqlite")
    with contextlib.closing(sqlite3.connect(found)) as db:
        kinds = dict(db.execute("SELECT kind, count(*) FROM exchange_file GROUP BY kind"))
        # ... all in the database (ExchangeSettings.store = "database"), every archive whole
        kinds["archives in rows"] = db.execute(
            "SELECT count(*) FROM exchange_file f WHERE f.size = "
            "(SELECT sum(length(c.data)) FROM exchange_blob_chunk c WHERE c.blob = f.blob)"
        ).fetchone()[0]
        yield kinds


def printed(lines: list[str], label: str) -> str:
    found = [line.split(":", 1)[1].strip() for line in lines if line.startswith(label)]
    assert found, f"no {label!r} line in:\n" + "\n".join(lines)
    return found[-1]


def test_three_logins_the_service_for_all_and_formgrader_for_the_instructor_only(demo):
    running, clone, hub_port, _service_port = demo
    lines = running.until("stop with Ctrl-C")
    base = f"http://127.0.0.1:{hub_port}"
    calm = re.compile(r"CRITICAL|ERROR|WARNING|Traceback|Exception")
    assert [line for line in lines if calm.search(line)] == [], "\n".join(lines)
    assert printed(lines, "JupyterHub") == f"{base}/hub/login"
    password = printed(lines, "password").split()[0]
    learner = printed(lines, "a learner").split()[0]
    reviewer = printed(lines, "a reviewer").split()[0]
    instructor = printed(lines, "the instructor").split()[0]
    assert len({learner, reviewer, instructor}) == 3

    def login(name: str, secret: str) -> requests.Response:
        return requests.post(
            f"{base}/hub/api/users/{name}/tokens",
            json={"auth": {"username": name, "password": secret}, "note": "test"},
            timeout=30,
        )

    assert login(learner, "wrong-" + password).status_code == 403
    assert login("not-on-the-roster", password).status_code == 403
    tokens = {name: login(name, password).json()["token"] for name in (learner, instructor)}
    assert any(
        line.startswith("opened the review round of project-1: 5 submissions") for line in lines
    )
    reviewer_token = login(reviewer, password).json()["token"]
    inbox = requests.get(  # the reviewer has anonymous packets to review, through the proxy
        f"{base}/services/nbcohort/api/v1/reviews/project-1",
        headers={"Authorization": f"token {reviewer_token}"},
        timeout=30,
    )
    assert inbox.status_code == 200, inbox.text
    items = inbox.json()["inbox"]
    assert len(items) == 2 and all(item["author"] is None for item in items), items
    urls = spawn(base, tokens)
    for name, url in urls.items():
        kernel = Kernel(url, tokens[name])
        try:
            me = kernel.run(
                "import json\nfrom nbcohort.cohorts.client import CohortClient\n"
                "print(json.dumps(CohortClient().me()['member']))"
            )
        finally:
            kernel.shutdown()
        member = json.loads(me.strip().splitlines()[-1])
        assert member["username"] == name
        assert member["role"] == ("instructor" if name == instructor else "learner")
        home = clone / ".nbcohort" / "demo" / "hub" / "home" / name
        assert (home / "module-1" / "01-loading-data.ipynb").is_file()  # the released course
    listed = Kernel(urls[learner], tokens[learner])
    try:  # nbgrader's own `list` in the learner's server: released through the service
        shown = listed.run(
            "import json, os, subprocess, sys\n"
            "done = subprocess.run([sys.executable, '-m', 'nbgrader', 'list'], text=True,"
            " capture_output=True, cwd=os.environ['HOME'])\n"
            "print(json.dumps(done.stdout + done.stderr))"
        )
    finally:
        listed.shutdown()
    assert re.search(r"demo\s+project-1", json.loads(shown.strip().splitlines()[-1])), shown
    data = clone / ".nbcohort"
    with exchange_kinds(data) as rows:  # the round's packets are the service's, uploaded
        assert rows == {"packet": 10, "release": 1, "submission": 5, "archives in rows": 16}, rows
    assert not list((data / "exchange").glob("*/outbound")), "the filesystem exchange was used"
    assert not list(data.glob("demo/hub/exchange/blobs/*")), "archives left in a folder"

    def formgrader(name: str) -> int:
        headers = {"Authorization": f"token {tokens[name]}"}
        got = requests.get(f"{urls[name]}/formgrader", headers=headers, timeout=60)
        return got.status_code

    assert formgrader(instructor) == 200
    assert formgrader(learner) == 404

    def lab_disables(name: str) -> bool:
        """Whether JupyterLab's page config turns off nbgrader's Create Assignment."""
        headers = {"Authorization": f"token {tokens[name]}"}
        page = requests.get(f"{urls[name]}/lab", headers=headers, timeout=60).text
        found = re.search(r'<script id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)
        assert found, page[:500]
        disabled = json.loads(found.group(1)).get("disabledExtensions", [])
        return "@jupyter/nbgrader:create-assignment" in disabled

    assert lab_disables(learner) and not lab_disables(instructor)


def test_ctrl_c_stops_the_hub_its_servers_and_the_service(demo):
    running, clone, hub_port, service_port = demo
    running.until("stop with Ctrl-C")
    ours = [
        p
        for p in psutil.process_iter(["cmdline", "cwd"])
        if str(clone) in " ".join(p.info["cmdline"] or ()) + (p.info["cwd"] or "")
    ]
    assert ours, "the hub's processes were not found"
    proxy_pid = int((clone / ".nbcohort" / "demo" / "hub" / "jupyterhub-proxy.pid").read_text())
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(90) == 0
    lines = running.until("stopping the hub")
    assert not [line for line in lines if "Traceback" in line], "\n".join(lines)
    if psutil.pid_exists(proxy_pid):
        ours.append(psutil.Process(proxy_pid))
    _gone, alive = psutil.wait_procs(ours, timeout=30)
    assert alive == [], [p.info for p in alive]
    for port in (hub_port, hub_port + 1, hub_port + 2, service_port):
        assert not _listening(port), f"something still listens on port {port}"
    assert os.path.isdir(clone / ".nbcohort")  # the data stays for the next run
