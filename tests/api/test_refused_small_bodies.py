"""A request refused before its body is read (a wrong token, a route that is not there, an
exchange upload the service will not take), against ``nbcohort serve`` over a raw socket.

A small body is read to its end before the refusal, so the client gets the refusal and keeps
its connection whenever its body arrives; closing with the body still on its way made the
server's TCP stack reset the connection, and a client lost the refusal (a CI flake). A large
body is still never read: refused at once, and the connection closed, as it says."""

from __future__ import annotations

import json
import socket
import time

import pytest

pytestmark = pytest.mark.slow


def _answer(sock: socket.socket) -> tuple[str, dict[str, str], bytes]:
    """One HTTP answer from ``sock``: its status line, headers and body."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"closed before an answer: {data!r}"
        data += more
    head, body = data.split(b"\r\n\r\n", 1)
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers.get("content-length", 0)):
        more = sock.recv(65536)
        assert more, "closed in the middle of an answer"
        body += more
    return status, headers, body


def _nothing_yet(sock: socket.socket, seconds: float = 0.3) -> bool:
    """Whether the service has said nothing (and kept the connection) for ``seconds``."""
    sock.settimeout(seconds)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(10)
    return False


@pytest.mark.parametrize(
    ("token", "path", "status"),
    [
        ("nbc_not-a-real-token", "/api/v1/posts", 401),
        (None, "/api/v1/nowhere", 404),
        ("ana", "/api/v1/exchange/no-course/assignments/ps1/submissions", 404),
    ],
)
def test_a_small_body_arriving_late_is_read_then_refused_on_a_kept_connection(
    service, tokens, token, path, status
):
    auth = f"Authorization: token {tokens.get(token, token)}\r\n" if token else ""
    body = b'{"anchor": "module-1/a", "body": "late"}'
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        # Before the change the refusal came here, and the connection closed under the body.
        assert _nothing_yet(sock)
        time.sleep(0.05)
        sock.sendall(body)
        answered, headers, text = _answer(sock)
        assert answered.startswith(f"HTTP/1.1 {status}"), (answered, text)
        assert headers.get("connection", "").lower() != "close"
        assert json.loads(text)["error"]
        # The same connection serves the next request.
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        answered, _, text = _answer(sock)
        assert answered.startswith("HTTP/1.1 200"), (answered, text)


def test_a_large_body_is_still_refused_unread_and_the_connection_closed(service):
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/posts HTTP/1.1\r\nHost: x\r\nAuthorization: token nbc_wrong\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
        )
        answered, headers, text = _answer(sock)  # without a byte of the body sent
        assert answered.startswith("HTTP/1.1 401"), (answered, text)
        assert headers["connection"].lower() == "close"
        sock.settimeout(10)
        assert sock.recv(1) == b""  # and closed


@pytest.mark.parametrize("path", ["/api/v1/posts", "/api/v1/watch"])
def test_a_refused_caller_whose_body_never_comes_is_let_go_and_logged(service, path):
    """A wrong token announcing a small body and sending none holds its connection for
    seconds, not for as long as it likes; its refusal is in the access log all the same,
    and the service has no request left waiting for that body."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=60) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: token nbc_wrong\r\n"
            "Content-Length: 100\r\n\r\n{".encode()
        )
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed (waiting longer would fail on the timeout)
        assert time.monotonic() - started < 45
    deadline = time.monotonic() + 10
    while f"401 POST {path} " not in service.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, service.log.read_text(errors="replace")[-2000:]
        time.sleep(0.1)


@pytest.mark.parametrize("method", ["GET", "POST", "TRACE"])
def test_an_answer_given_before_the_body_says_the_connection_closes(service, method):
    """Tornado refuses a path value that is not UTF-8 (and a method it does not know) before
    anything of ours runs, then closes the connection: the answer says so."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            f"{method} /api/v1/exchange/%ff/releases HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 2\r\n\r\n".encode()
        )
        answered, headers, text = _answer(sock)
        assert answered.split()[1] in ("400", "405"), (answered, text)
        assert json.loads(text)["error"]
        assert headers["connection"].lower() == "close"
        assert sock.recv(1) == b""
