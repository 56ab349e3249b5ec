"""The browser leg: Debian's Chromium through Playwright, and JupyterLab started as a
learner's single-user server would be (the demo's learner config first on its config path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from nbcohort.cohorts.cli.demo import learner_jupyter_config
from tests.helpers.processes import REPO, free_port, isolated_env

CHROMIUM = os.environ.get("NBCOHORT_CHROMIUM") or shutil.which("chromium") or ""
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Every browser test module: ``pytestmark = BROWSER``.
BROWSER = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="browser leg: Debian's chromium is not installed"),
]


def write_notebook(path: Path, *cells: str) -> Path:
    """A Python 3 notebook of code ``cells`` at ``path`` (its folder made), as a learner would
    write one to show the widgets."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}  # fmt: skip
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


class JupyterServer:
    """``jupyter lab`` started as a learner's single-user server would be, with their token
    and the learner's config the demo uses; ``learner=False``: as an instructor's."""

    def __init__(
        self,
        tmp_path: Path,
        workspace: Path,
        service_url: str,
        member_token: str,
        learner: bool = True,
    ):
        self.port, self.token = free_port(), "browser-test-token"
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"jupyter-{self.port}.log"
        config_path = [str(REPO)]
        if learner:
            config_path.insert(0, str(learner_jupyter_config(tmp_path / "learner-config")))
        env = isolated_env(
            tmp_path,
            NBCOHORT_URL=service_url,
            NBCOHORT_TOKEN=member_token,
            JUPYTER_CONFIG_PATH=os.pathsep.join(config_path),
        )
        args = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={workspace}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.open_browser=False",
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")
        self.proc = subprocess.Popen(
            args, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )

    def wait(self, timeout: float = 180) -> JupyterServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text())
            try:
                r = requests.get(f"{self.url}/api/status?token={self.token}", timeout=2)
                if r.status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _one_database_leg(request):
    """The browser checks the front end; the PostgreSQL leg adds nothing there but minutes."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("db_url") == "postgresql":
        pytest.skip("browser tests run on the SQLite leg")
