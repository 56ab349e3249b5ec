"""Load generator for the hub benchmark: learners with hub tokens, a realistic mix of calls.

Runs in its own process (``python hub_loadgen.py CONFIG.json RESULT.json``), like
loadgen.py, whose keep-alive connection (``Conn``) it reuses. Each learner holds two
connections, as a notebook does: one for what the member does and one for the live widgets'
watch (``POST /api/v1/watch``, asked again at once after each answer, the kernel's protocol).
The member loops: think (exponential, mean ``think_mean_s``), then one action of ``mix``:

- ``read``: ``GET thread?anchor=A&limit=30`` (anchor popularity ~ 1/rank)
- ``post``: ``POST posts`` (top-level or a reply), with a nonce as its request key
- ``react``: ``PUT posts/ID/reactions/KIND``
- ``notifications``: ``GET notifications?limit=50`` (the bell's feed)
- ``page``: the cohort page's calls one after another (cadence, threads, artifacts, events,
  charter, my reviews), each timed as its own route

Every request goes through the service's hub authentication (HubAuth, its answer cached
``auth_cache_seconds``); each learner's first request of a step is timed apart as
``me (first)``, as it is the one most likely to ask the hub.
"""

from __future__ import annotations

import asyncio
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

from loadgen import REACTIONS, WORDS, Conn

PAGE_CALLS = [
    ("page: cadence", "/api/v1/cadence?days=7"),
    ("page: threads", "/api/v1/threads?days=7&limit=10"),
    ("page: artifacts", "/api/v1/artifacts"),
    ("page: events", "/api/v1/events?days=60"),
    ("page: charter", "/api/v1/charter"),
    ("page: my reviews", "/api/v1/me/reviews"),
]


class HubGenerator:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg, self.prefix = cfg, cfg["prefix"].rstrip("/")
        self.rng = random.Random(cfg.get("seed", 1))
        self.anchors: list[str] = cfg["anchors"]
        self.weights = [1 / (i + 1) for i in range(len(self.anchors))]
        self.posts_by_anchor = {a: list(v) for a, v in cfg["posts_by_anchor"].items()}
        self.all_posts = [i for ids in self.posts_by_anchor.values() for i in ids]
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter[str]] = defaultdict(Counter)
        self.errors: Counter[str] = Counter()
        self.acked: list[tuple[int, str]] = []
        self.unacked_nonces: list[str] = []
        self.watch_answers = Counter[str]()
        self.end = 0.0

    async def timed(
        self, kind: str, conn: Conn, method: str, path: str, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes] | None:
        t0 = time.perf_counter()
        try:
            status, headers, data = await conn.request(method, self.prefix + path, body)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            self.errors[f"{kind}: {type(exc).__name__}"] += 1
            self.status[kind]["exception"] += 1
            return None
        self.status[kind][str(status)] += 1
        if status < 400:
            self.latency[kind].append((time.perf_counter() - t0) * 1000)
        else:
            self.errors[f"{kind}: HTTP {status} {data[:120]!r}"] += 1
        return status, headers, data

    def body(self, nonce: str) -> str:
        words = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(15, 80)))
        return f"{words.capitalize()}. Try `df.{self.rng.choice(WORDS)}()`.\n\nnonce:{nonce}"

    async def act(self, conn: Conn, kind: str) -> None:
        if kind == "read":
            anchor = self.rng.choices(self.anchors, self.weights)[0]
            await self.timed("read", conn, "GET", f"/api/v1/thread?anchor={quote(anchor)}&limit=30")
        elif kind == "post":
            await self.post(conn)
        elif kind == "react":
            post_id, reaction = self.rng.choice(self.all_posts), self.rng.choice(REACTIONS)
            path = f"/api/v1/posts/{post_id}/reactions/{quote(reaction, safe='')}"
            await self.timed("react", conn, "PUT", path)
        elif kind == "notifications":
            await self.timed("notifications", conn, "GET", "/api/v1/notifications?limit=50")
        else:
            for label, path in PAGE_CALLS:
                await self.timed(label, conn, "GET", path)

    async def post(self, conn: Conn) -> None:
        anchor, nonce = self.rng.choice(self.anchors), uuid.uuid4().hex
        payload: dict[str, Any] = {"anchor": anchor, "body": self.body(nonce), "request_key": nonce}
        known = self.posts_by_anchor.setdefault(anchor, [])
        if known and self.rng.random() < 0.4:
            payload["parent_id"] = self.rng.choice(known)
        got = await self.timed("post", conn, "POST", "/api/v1/posts", json.dumps(payload).encode())
        if got is None or got[0] != 201:
            self.unacked_nonces.append(nonce)
            return
        data = got[2]
        if got[1].get("content-encoding") == "gzip":
            data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
        post_id = int(json.loads(data)["id"])
        self.acked.append((post_id, nonce))
        self.all_posts.append(post_id)
        if "parent_id" not in payload:
            known.append(post_id)

    async def member(self, conn: Conn) -> None:
        await self.timed("me (first)", conn, "GET", "/api/v1/me")
        mix = self.cfg["mix"]
        kinds, weights = list(mix), list(mix.values())
        while True:
            pause = self.rng.expovariate(1 / self.cfg["think_mean_s"])
            await asyncio.sleep(min(pause, max(0.0, self.end - time.perf_counter())))
            if time.perf_counter() >= self.end:
                return
            await self.act(conn, self.rng.choices(kinds, weights)[0])

    async def watcher(self, conn: Conn) -> None:
        """The live widget of the most read thread: asks again at once after each answer."""
        anchor, version = self.anchors[0], 0
        while time.perf_counter() < self.end:
            body = json.dumps({"threads": {anchor: version}, "wait": self.cfg["watch_wait_s"]})
            got = await self.timed("watch", conn, "POST", "/api/v1/watch", body.encode())
            if got is None or got[0] != 200:
                await asyncio.sleep(1)  # the widget backs off too
                continue
            data = got[2]
            if got[1].get("content-encoding") == "gzip":
                data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
            answer = json.loads(data)
            changed = bool(answer.get("changed"))
            self.watch_answers["changed" if changed else "nothing"] += 1
            version = int((answer.get("threads") or {}).get(anchor, version))

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        tokens = cfg["tokens"]
        timeout = cfg["watch_wait_s"] + 30.0
        conns = [Conn(cfg["host"], cfg["port"], t, timeout) for t in tokens]
        watch_conns = [Conn(cfg["host"], cfg["port"], t, timeout) for t in tokens]
        gate = asyncio.Semaphore(50)  # the listen backlog is 128

        async def connect(conn: Conn) -> None:
            async with gate:
                await conn.connect()

        await asyncio.gather(*(connect(c) for c in conns + watch_conns))
        wall_start, start = time.time(), time.perf_counter()
        self.end = start + cfg["duration_s"]
        members = [asyncio.create_task(self.member(c)) for c in conns]
        watchers = [asyncio.create_task(self.watcher(c)) for c in watch_conns]
        await asyncio.gather(*members)
        acted = time.perf_counter() - start
        for task in watchers:  # parked watches are not waited out: the step is over
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        for conn in conns + watch_conns:
            await conn.close()
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "learners": len(tokens),
            "elapsed_s": round(acted, 3),
            "window_epoch": [wall_start, wall_start + acted],
            "latency_ms": dict(self.latency),
            "status": {k: dict(v) for k, v in self.status.items()},
            "errors": dict(self.errors.most_common(20)),
            "watch_answers": dict(self.watch_answers),
            "acked": self.acked,
            "unacked_nonces": self.unacked_nonces,
            "generator_cpu_s": round(cpu.ru_utime + cpu.ru_stime, 3),
        }


def main() -> None:
    cfg = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    result = asyncio.run(HubGenerator(cfg).run())
    Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
