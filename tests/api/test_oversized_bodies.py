"""Bodies over ``ServiceSettings.max_body_bytes`` against ``nbcohort serve``, from a member
with a valid token: refused in the API's JSON while the client is still sending, whether the
length is announced or the body comes chunked, without the service's memory growing."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow


def _rss(pid: int) -> int:
    """The process's resident memory in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _send(port: int, head: str, chunks, seconds: float = 30) -> str:
    """Send ``head`` then ``chunks`` until the service answers or closes; its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        deadline, answer = time.monotonic() + seconds, b""
        for chunk in chunks:
            try:
                answer += sock.recv(65536)
                break
            except BlockingIOError:
                pass
            try:
                sock.setblocking(True)
                sock.sendall(chunk)
                sock.setblocking(False)
            except OSError:  # closed on us after its answer
                break
            assert time.monotonic() < deadline
        sock.setblocking(True)
        sock.settimeout(seconds)
        with contextlib.suppress(OSError):
            answer += sock.recv(65536)
    return answer.decode("latin-1")


def test_an_oversized_body_is_refused_before_it_is_read(service, tokens):
    """With a valid token: a Content-Length of a terabyte and a few bytes, then 64 MiB sent
    chunked with no length at all; both are 413 while the client is still sending, and the
    service's memory grows by far less than what was sent."""
    auth = f"Authorization: token {tokens['ana']}\r\n"
    before = _rss(service.proc.pid)
    head = (
        f"POST /api/v1/artifacts HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {10**12}\r\n\r\n"
    )
    answer = _send(service.port, head, [b"{}"])
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert '"error":"too_large"' in answer and "nosniff" in answer
    head = (
        f"POST /api/v1/posts HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    mib = b" " * 2**20
    chunk = b"%x\r\n" % len(mib) + mib + b"\r\n"
    answer = _send(service.port, head, (chunk for _ in range(64)))
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert _rss(service.proc.pid) - before < 24 * 2**20
    ok = requests.get(f"{service.url}/api/v1/me", headers={"Authorization": auth[15:].strip()})
    assert ok.status_code == 200  # the service goes on serving
