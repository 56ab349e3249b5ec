"""Load generator for the service benchmark: simulated members over keep-alive HTTP/1.1.

Runs in its own process (the service is single-threaded; the generator must not share its
GIL): ``python loadgen.py CONFIG.json RESULT.json``. Standard library only, raw asyncio
streams: each simulated member holds one keep-alive connection, as a member's kernel does
through the client's ``requests.Session``, and sends the same ``Accept-Encoding: gzip``.

Phases (``config["phase"]``):

- ``warmup``: every member reads one thread once (opens the connections; not measured).
- ``serial``: one member, one request at a time (reads, then posts, then reactions): the
  service time of each kind with no queueing, i.e. the service's capacity.
- ``mixed``: every member loops: think (exponential, mean ``think_mean_s``), then reads a
  thread (``GET /api/v1/thread?anchor=..&limit=30``), posts (top-level or reply) or reacts
  (``PUT /api/v1/posts/ID/reactions/KIND``), with the weights in ``mix``.
- ``saturation``: every member posts back-to-back with no think time.

Every post body carries a unique nonce, also sent as the post's request key (as the
widgets send one); the result lists each acknowledged post (201 with an id) with its nonce
so the caller can check the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import sys
import time
import uuid
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

_VOCABULARY = (
    "pandas groupby merge index column frame series plot notebook cell kernel dtype csv excel "
    "pivot melt query filter mean median resample window join concat apply vectorise chunk "
    "memory category datetime timezone null missing duplicate"
)
WORDS = _VOCABULARY.split()
REACTIONS = ("helpful", "+1", "insightful")


class Conn:
    """One member's keep-alive HTTP/1.1 connection to the service."""

    def __init__(self, host: str, port: int, token: str, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.head = (
            f"Host: {host}:{port}\r\nAuthorization: token {token}\r\n"
            "Accept-Encoding: gzip, deflate\r\nAccept: */*\r\n"
            "Connection: keep-alive\r\nUser-Agent: nbcohort-bench\r\n"
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            return await asyncio.wait_for(self._request(method, path, body), self.timeout)
        except BaseException:
            await self.close()  # the connection is in an unknown state
            raise

    async def _request(
        self, method: str, path: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        await self.connect()
        assert self.reader is not None and self.writer is not None
        extra = ""
        if body or method in ("POST", "PUT", "PATCH"):
            extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            data = b"".join(parts)
        else:
            data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, data


def _json(headers: dict[str, str], data: bytes) -> Any:
    if headers.get("content-encoding") == "gzip":
        data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
    return json.loads(data)


class Generator:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.get("seed", 1))
        self.anchors: list[str] = cfg["anchors"]
        # Reading interest is skewed: the section being taught now is read most.
        self.anchor_weights = [1 / (i + 1) for i in range(len(self.anchors))]
        self.posts_by_anchor: dict[str, list[int]] = {
            a: list(ids) for a, ids in cfg["posts_by_anchor"].items()
        }
        self.all_posts: list[int] = [i for ids in self.posts_by_anchor.values() for i in ids]
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter[str]] = defaultdict(Counter)
        self.errors: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()  # response bodies as sent (gzip when large)
        self.acked: list[tuple[int, str]] = []
        self.unacked_nonces: list[str] = []  # sent, but no 201 came back (timeout, error)
        self.completed_at: list[float] = []

    def body(self, nonce: str) -> str:
        n = self.rng.randint(15, 80)
        words = " ".join(self.rng.choice(WORDS) for _ in range(n))
        return (
            f"{words.capitalize()}. Try `df.{self.rng.choice(WORDS)}()` — it is **much** "
            f"faster on the big ledger.\n\nnonce:{nonce}"
        )

    async def timed(
        self, kind: str, conn: Conn, method: str, path: str, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes] | None:
        t0 = time.perf_counter()
        try:
            status, headers, data = await conn.request(method, path, body)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            self.errors[f"{kind}: {type(exc).__name__}"] += 1
            self.status[kind]["exception"] += 1
            return None
        t1 = time.perf_counter()
        self.completed_at.append(t1)
        self.status[kind][str(status)] += 1
        if status < 400:
            self.latency[kind].append((t1 - t0) * 1000)
            self.bytes[kind] += len(data)
        else:
            self.errors[f"{kind}: HTTP {status} {data[:120]!r}"] += 1
        return status, headers, data

    async def read(self, conn: Conn) -> None:
        anchor = self.rng.choices(self.anchors, self.anchor_weights)[0]
        await self.timed("read", conn, "GET", f"/api/v1/thread?anchor={quote(anchor)}&limit=30")

    async def post(self, conn: Conn, *, reply_share: float) -> None:
        anchor = self.rng.choice(self.anchors)
        nonce = uuid.uuid4().hex
        # The nonce is also the post's request key, as the widgets send one with every post.
        payload: dict[str, Any] = {"anchor": anchor, "body": self.body(nonce), "request_key": nonce}
        known = self.posts_by_anchor.setdefault(anchor, [])
        if known and self.rng.random() < reply_share:
            payload["parent_id"] = self.rng.choice(known)
        got = await self.timed("post", conn, "POST", "/api/v1/posts", json.dumps(payload).encode())
        if got is None or got[0] != 201:
            self.unacked_nonces.append(nonce)
            return
        try:
            post_id = int(_json(got[1], got[2])["id"])
        except (ValueError, KeyError, TypeError, zlib.error):
            self.errors["post: 201 without an id"] += 1
            self.unacked_nonces.append(nonce)
            return
        self.acked.append((post_id, nonce))
        if "parent_id" not in payload:
            known.append(post_id)
        self.all_posts.append(post_id)

    async def react(self, conn: Conn) -> None:
        post_id = self.rng.choice(self.all_posts)
        kind = self.rng.choice(REACTIONS)
        await self.timed(
            "react", conn, "PUT", f"/api/v1/posts/{post_id}/reactions/{quote(kind, safe='')}"
        )

    async def member(self, conn: Conn, end: float) -> None:
        cfg = self.cfg
        phase = cfg["phase"]
        try:
            if phase == "warmup":
                await self.read(conn)
                return
            if phase == "serial":  # one member, one request at a time: service time, no queue
                for _ in range(cfg["serial"]["read"]):
                    await self.read(conn)
                for _ in range(cfg["serial"]["post"]):
                    await self.post(conn, reply_share=0.4)
                for _ in range(cfg["serial"]["react"]):
                    await self.react(conn)
                return
            if phase == "saturation":
                while time.perf_counter() < end:
                    await self.post(conn, reply_share=0.0)
                return
            mix = cfg["mix"]
            think = cfg["think_mean_s"]
            kinds, weights = list(mix), list(mix.values())
            while True:
                pause = self.rng.expovariate(1 / think)
                await asyncio.sleep(min(pause, max(0.0, end - time.perf_counter())))
                if time.perf_counter() >= end:
                    return
                kind = self.rng.choices(kinds, weights)[0]
                if kind == "read":
                    await self.read(conn)
                elif kind == "post":
                    await self.post(conn, reply_share=cfg.get("reply_share", 0.4))
                else:
                    await self.react(conn)
        finally:
            await conn.close()

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        timeout = cfg.get("request_timeout_s", 30.0)
        tokens = cfg["tokens"][:1] if cfg["phase"] == "serial" else cfg["tokens"]
        conns = [Conn(cfg["host"], cfg["port"], t, timeout) for t in tokens]
        # Connect before the clock starts, a few at a time (the listen backlog is 128):
        # members keep their connection open, so set-up is not part of a request's latency.
        gate = asyncio.Semaphore(50)

        async def connect(conn: Conn) -> None:
            async with gate:
                await conn.connect()

        await asyncio.gather(*(connect(c) for c in conns))
        wall_start, start = time.time(), time.perf_counter()
        end = start + cfg.get("duration_s", 0)
        tasks = [asyncio.create_task(self.member(c, end)) for c in conns]
        await asyncio.gather(*tasks)
        finished = time.perf_counter()
        last = max(self.completed_at, default=finished)
        elapsed = max(last - start, 1e-9)
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "phase": cfg["phase"],
            "members": len(tokens),
            "elapsed_s": round(elapsed, 3),
            "window_epoch": [wall_start, wall_start + elapsed],
            "drain_s": round(finished - end, 3) if cfg.get("duration_s") else None,
            "latency_ms": dict(self.latency),
            "status": {k: dict(v) for k, v in self.status.items()},
            "response_bytes": dict(self.bytes),
            "errors": dict(self.errors.most_common(20)),
            "acked": self.acked,
            "unacked_nonces": self.unacked_nonces,
            "generator_cpu_s": round(cpu.ru_utime + cpu.ru_stime, 3),
        }


def main() -> None:
    cfg = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    result = asyncio.run(Generator(cfg).run())
    Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
