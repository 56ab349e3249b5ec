"""A real JupyterHub for tests: DummyAuthenticator, configurable-http-proxy from npm, the
example ``cohorts/hub/jupyterhub_config.py`` for roles and scopes, and nbcohort registered as
an external service whose address the test chooses. Users, groups and tokens are made through
the hub's REST API with an admin service's token, as an administrator's script would."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from nbcohort.cohorts.cli.demo_hub import stop_hub
from tests.helpers.processes import REPO, ServiceProcess, free_port, wait_until_serving

__all__ = ["HubProcess", "find_proxy", "hub_service", "spawn"]

EXAMPLE = REPO / "cohorts" / "hub" / "jupyterhub_config.py"
_PROXY = "configurable-http-proxy"


def find_proxy(cache: Path) -> str | None:
    """configurable-http-proxy on PATH, or installed from npm into ``cache`` (None: no npm, or
    npm failed; the caller skips with the reason)."""
    found = shutil.which(_PROXY)
    if found:
        return found
    local = cache / "node_modules" / ".bin" / _PROXY
    if local.exists():
        return str(local)
    npm = shutil.which("npm")
    if npm is None:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), _PROXY],
        capture_output=True,
        timeout=300,
    )
    return str(local) if done.returncode == 0 and local.exists() else None


class HubProcess:
    """``jupyterhub`` in its own folder and process, with nbcohort at ``service_url``."""

    def __init__(
        self,
        folder: Path,
        proxy: str,
        service_port: int,
        *,
        managed: Path | None = None,
        extra: str = "",
    ) -> None:
        """``managed``: the hub starts the service itself, as the example's entry says (with
        ``managed`` as its config folder); otherwise the service is external. ``extra``: more
        lines of jupyterhub_config.py (a spawner, say), after the rest."""
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hub_port, self.proxy_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.hub_port}/hub/api"
        self.service_url = f"http://127.0.0.1:{service_port}"
        self.service_token = secrets.token_hex(16)  # the nbcohort service's own hub token
        self.admin_token = secrets.token_hex(16)
        self.log = folder / "hub.log"
        self.env: dict[str, str] = {}
        if managed is not None:  # read by the example's service entry
            self.env.update(NBCOHORT_CONFIG_DIR=str(managed), NBCOHORT_PORT=str(service_port))
        self.proc: subprocess.Popen[bytes] | None = None
        (folder / "jupyterhub_config.py").write_text(
            f"""c = get_config()
load_subconfig({str(EXAMPLE)!r})  # the shipped example's roles, scopes and groups
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {self.proxy_port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {self.hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{folder / "hub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(folder / "cookie_secret")!r}
c.JupyterHub.pid_file = {str(folder / "hub.pid")!r}
{self._services(managed)}
c.JupyterHub.services = c.JupyterHub.services + [
    {{"name": "admin-bot", "api_token": {self.admin_token!r}}},
]
c.JupyterHub.load_roles = c.JupyterHub.load_roles + [{{"name": "admin", "services": ["admin-bot"]}}]
{extra}
"""
        )

    def _services(self, managed: Path | None) -> str:
        if managed is not None:
            return "# Hub-managed: the example's own entry starts nbcohort serve."
        return (
            "# External: the test starts and stops the service (and may stop the hub under it).\n"
            f'c.JupyterHub.services = [{{"name": "nbcohort", "url": {self.service_url!r}, '
            f'"api_token": {self.service_token!r}}}]'
        )

    def start(self, timeout: float = 60) -> HubProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NBCOHORT_"))}
        env.update(self.env)
        cmd = [sys.executable, "-m", "jupyterhub", "-f", "jupyterhub_config.py"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=self.folder, env=env, stdout=out, stderr=out, start_new_session=True
            )
        wait_until_serving(self.api_url + "/", self.proc, self.log, timeout)
        return self

    def wait_until_running(self, timeout: float = 60) -> None:
        """Until the hub has added its proxy's routes (its API answers before that; while an
        external service is not up yet, the hub waits for it before adding them)."""
        deadline = time.monotonic() + timeout
        while "JupyterHub is now running" not in self.log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not finish starting: {self.log}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the hub, and the proxy it started if the hub left it behind."""
        stop_hub(self.proc, self.folder, grace=20)

    # -- the hub's REST API, as an administrator --------------------------------------------
    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"token {self.admin_token}"}
        resp = requests.request(method, self.api_url + path, headers=headers, timeout=10, **kwargs)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def add_user(self, name: str) -> None:
        resp = requests.post(
            f"{self.api_url}/users/{name}",
            headers={"Authorization": f"token {self.admin_token}"},
            timeout=10,
        )
        if resp.status_code != 409:  # 409: the user is there already
            resp.raise_for_status()

    def token_for(self, name: str, scopes: list[str] | None = None) -> tuple[str, str]:
        """A new token of hub user ``name`` (created if missing): (token, its id)."""
        self.add_user(name)
        body: dict[str, Any] = {"note": "nbcohort test"}
        if scopes is not None:
            body["scopes"] = scopes
        got = self.api("POST", f"/users/{name}/tokens", json=body)
        return got["token"], got["id"]

    def revoke(self, name: str, token_id: str) -> None:
        self.api("DELETE", f"/users/{name}/tokens/{token_id}")

    def set_group(self, group: str, users: list[str]) -> None:
        """Make ``users`` exactly the members of hub ``group``."""
        for name in users:
            self.add_user(name)
        now = self.api("GET", f"/groups/{group}")["users"]
        if now:
            self.api("DELETE", f"/groups/{group}/users", json={"users": now})
        if users:
            self.api("POST", f"/groups/{group}/users", json={"users": users})


def spawn(base: str, tokens: dict[str, str], timeout: float = 180) -> dict[str, str]:
    """Start the single-user servers of the users in ``tokens`` (name -> their own token) at
    once, each with its own token, through the hub at ``base`` (the proxy's address), and wait
    until each answers: readiness, not the spawn API's answer (6.1.1 answers 500 to a spawn
    slower than slow_spawn_timeout while the spawn goes on). Returns name -> server URL."""
    for name, token in tokens.items():
        requests.post(
            f"{base}/hub/api/users/{name}/server",
            headers={"Authorization": f"token {token}"},
            timeout=30,
        )  # 201, 202 or the 500 above: readiness is what counts
    urls = {name: f"{base}/user/{name}" for name in tokens}
    waiting, deadline = dict(urls), time.monotonic() + timeout
    while waiting:
        for name, url in list(waiting.items()):
            with contextlib.suppress(requests.RequestException, ValueError):
                resp = requests.get(
                    url + "/api/status",
                    headers={"Authorization": f"token {tokens[name]}"},
                    allow_redirects=False,
                    timeout=5,
                )
                if resp.status_code == 200 and "started" in resp.json():
                    del waiting[name]
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"the servers of {', '.join(waiting)} did not start")
        time.sleep(0.3)
    return urls


def hub_service(
    tmp_path: Path, db_url: str, hub: HubProcess, port: int, cache_seconds: float = 1.0
) -> ServiceProcess:
    """``nbcohort serve`` as the hub's external nbcohort service (not yet started), serving
    under /services/nbcohort as the proxy forwards it."""
    svc = ServiceProcess(tmp_path, db_url, port)
    svc.env.update(JUPYTERHUB_API_URL=hub.api_url, JUPYTERHUB_API_TOKEN=hub.service_token)
    svc.args += [
        "--ServiceSettings.auth=hub",
        f"--ServiceSettings.auth_cache_seconds={cache_seconds}",
    ]
    svc.url += "/services/nbcohort"
    return svc
