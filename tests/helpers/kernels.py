"""Run code in a user's own kernel on their single-user server, through the hub's proxy, as
JupyterLab does: the jupyter_server kernels API starts the kernel and its websocket carries
Jupyter messages (execute_request in, stream / error / execute_reply out). The user's hub
token is the only credential, in the header."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

__all__ = ["Kernel", "KernelError"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in IPython's tracebacks


class KernelError(AssertionError):
    """Code run in the kernel raised: the kernel's own traceback, for the test's report."""


class Kernel:
    """A kernel on ``server`` (e.g. http://127.0.0.1:8000/user/ana), started with ``token``."""

    def __init__(self, server: str, token: str) -> None:
        self.server, self.headers = server, {"Authorization": f"token {token}"}
        resp = requests.post(f"{server}/api/kernels", headers=self.headers, json={}, timeout=60)
        resp.raise_for_status()
        self.id = resp.json()["id"]

    def run(self, code: str, timeout: float = 120) -> str:
        """Execute ``code``; return what it printed. Raise KernelError if it raised."""
        return asyncio.run(asyncio.wait_for(self._run(code), timeout))

    async def _run(self, code: str) -> str:
        url = f"{self.server.replace('http', 'ws', 1)}/api/kernels/{self.id}/channels"
        ws = await websocket_connect(HTTPRequest(url, headers=self.headers))
        try:
            msg_id = uuid.uuid4().hex
            await ws.write_message(json.dumps(_execute(msg_id, code)))
            out: list[str] = []
            replied = idle = False  # the reply (shell) may come before the output (iopub)
            while not (replied and idle):
                raw = await ws.read_message()
                if raw is None:
                    raise KernelError("the kernel's websocket closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    trace = _ANSI.sub("", "\n".join(content["traceback"]))
                    raise KernelError(trace + "".join(out))
                elif kind == "execute_reply":
                    replied = True
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
            return "".join(out)
        finally:
            ws.close()

    def shutdown(self) -> None:
        requests.delete(f"{self.server}/api/kernels/{self.id}", headers=self.headers, timeout=30)


def _execute(msg_id: str, code: str) -> dict[str, Any]:
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "", "session": msg_id,
              "version": "5.3"}  # fmt: skip
    return {
        "header": header,
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }  # fmt: skip
