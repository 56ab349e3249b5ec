"""Benchmark: anonymized review packets for 1,000 submissions (3,000 packets, k=3), side by
side with nbgrader's own collect of the same submissions.

Set-up (not timed): nbgrader builds the project-1 release in a scratch course; each learner's
submission is that release notebook with the solutions filled in and outputs added (HTML and
text tables of the course data, a PNG chart, warnings naming the learner's home folder: about
280 kB), plus the released data/ folder, laid out in a real exchange's inbound folder as
``nbgrader submit`` writes it (``<student>+project-1+<timestamp>+<random>``, with
timestamp.txt and submission_secret.txt). One learner in ten names themself in an answer.

Per run, each leg in a worker process of its own (so its memory is its own), on a fresh
course folder and a warm page cache:

- collect: nbgrader's ``ExchangeCollect`` in-process (inbound -> submitted/);
- packets: ``pack_submission`` of every collected submitted/ folder, then ``write_packets``
  for the pairs of a circular shift (learner i reviews i+1 .. i+k), with checks: every pair
  has a packet, every packet of an author is the same bytes, no sampled packet holds its
  author's username, name, email or home folder, the mentions are the planted ones;
- the same with ``pack_submission`` spread over a process per core (the submissions are
  independent; ``write_packets`` stays in one process), when there is more than one core.

Reports the median of runs: wall time of each leg and step, and the worker's RSS before the
timed section and its peak during it (VmHWM, reset through /proc/self/clear_refs: wait4's
ru_maxrss would count the parent's size at the fork). ``python packets.py --worker LEG
SPEC`` is the worker.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time
import unicodedata
import zlib
from pathlib import Path
from typing import Any

import benchlib as bl

NAME = "packets"
COURSE = "bench-course"
ASSIGNMENT = "project-1"
K = 3
MENTION_EVERY = 10
SAMPLE = 25


def parameters(opts: Any) -> dict[str, Any]:
    return {
        "submissions": 200 if opts.quick else 1000,
        "reviewers_per_submission": K,
        "runs": opts.runs,
        "pairs": "circular shift: learner i reviews learners i+1 .. i+k",
        "target_packets_s": 30,
    }


# -- set-up ---------------------------------------------------------------------------------------
def roster(n: int) -> list[dict[str, str]]:
    rng = random.Random(11)
    people = []
    for i in range(n):
        first, last = rng.choice(bl.FIRST_NAMES), rng.choice(bl.LAST_NAMES)
        fold = unicodedata.normalize("NFKD", f"{first[0]}{last}").encode("ascii", "ignore")
        handle = re.sub(r"[^a-z]", "", fold.decode().lower()) or "learner"
        people.append(
            {
                "username": f"{handle}{i:04d}",
                "name": f"{first} {last}",
                "email": f"{handle}.{i:04d}@example.org",
            }
        )
    return people


def png(width: int, height: int, seed: int) -> bytes:
    """A real PNG: a bar chart with sparse noise, so it compresses like a real chart."""
    rng = random.Random(seed)
    bars = [rng.randrange(height // 4, height - 10) for _ in range(12)]
    rows = []
    for y in range(height):
        row = bytearray(b"\0")  # filter: none
        for x in range(width):
            on = height - y < bars[x * 12 // width] and (x * 12 % width) > width // 6
            row += b"\x1f\x77\xb4" if on else b"\xff\xff\xff"
        for _ in range(width // 40):  # anti-aliasing, grid lines, text: a little entropy
            at = 1 + 3 * rng.randrange(width)
            row[at : at + 3] = rng.randbytes(3)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 6)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def build_release(tmp: Path) -> tuple[Path, Path]:
    """nbgrader generate_assignment of project-1 in a scratch course: (course root, release)."""
    from traitlets.config import Config

    from nbcohort.exchange.release import generate_release

    course = tmp / "course"
    shutil.copytree(bl.REPO / "course" / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    cfg = Config()
    cfg.CourseDirectory.root = str(course)
    cfg.CourseDirectory.course_id = COURSE
    return course, generate_release(cfg, [ASSIGNMENT])[ASSIGNMENT]


def template(release: Path) -> str:
    """The submission notebook as JSON text, with @@USER@@ / @@NAME@@ / @@EMAIL@@ / @@SAY@@
    placeholders: the release notebook, solutions filled in, outputs added."""
    import nbformat
    import pandas as pd
    from nbformat.v4 import new_code_cell, new_output

    nb = nbformat.read(release / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(
        bl.REPO / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4
    )
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    tickets = pd.read_csv(release / "data" / "support_tickets.csv")
    chart = base64.b64encode(png(560, 320, 5)).decode()
    n_code = 0
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
            if cell.cell_type == "markdown" and grade_id == "b3-findings":
                cell.source += "@@SAY@@"
        if cell.cell_type != "code":
            continue
        n_code += 1
        cell.execution_count = n_code
        cell.metadata["execution"] = {"iopub.execute_input": "2026-11-20T10:00:00.000000Z"}
        rows = tickets.iloc[n_code * 7 : n_code * 7 + 25]
        cell.outputs = [
            new_output(
                "stream",
                name="stderr",
                text=f"/home/@@USER@@/.local/lib/python3.11/site-packages/pandas/io.py:{n_code}:"
                " UserWarning: Parsing dates in %Y-%m-%d format\n",
            ),
            new_output(
                "execute_result",
                execution_count=n_code,
                data={"text/plain": rows.to_string(), "text/html": rows.to_html()},
            ),
        ]
        if n_code in (8, 9):
            cell.outputs.append(
                new_output("display_data", data={"image/png": chart, "text/plain": "<Figure>"})
            )
    header = new_code_cell('NAME = "@@NAME@@"\nCOLLABORATORS = ""')
    header.metadata["nbgrader"] = {
        "grade": False, "grade_id": "header", "locked": False, "schema_version": 3,
        "solution": True, "task": False,
    }  # fmt: skip
    header.outputs = [
        new_output("stream", name="stdout", text="Submitted by @@NAME@@ <@@EMAIL@@>\n")
    ]
    nb.cells.insert(0, header)
    nb.metadata["authors"] = [{"name": "@@NAME@@"}]
    return nbformat.writes(nb) + "\n"


def fill(text: str, person: dict[str, str], say: bool) -> bytes:
    def js(s: str) -> str:
        return json.dumps(s, ensure_ascii=False)[1:-1]

    mention = js(f"\n\n(Analysis by {person['name']}.)") if say else ""
    return (
        text.replace("@@USER@@", js(person["username"]))
        .replace("@@NAME@@", js(person["name"]))
        .replace("@@EMAIL@@", js(person["email"]))
        .replace("@@SAY@@", mention)
        .encode("utf-8")
    )


def build_inbound(tmp: Path, release: Path, people: list[dict[str, str]]) -> tuple[Path, int]:
    """A real exchange: <root>/<course>/inbound/<student>+<assignment>+<timestamp>+<random>,
    with the permissions nbgrader submit sets. Returns the exchange root and a notebook's size."""
    root = tmp / "exchange"
    inbound = root / COURSE / "inbound"
    inbound.mkdir(parents=True)
    os.chmod(root, 0o777)
    text = template(release)
    size = 0
    rng = random.Random(3)
    for i, person in enumerate(people):
        stamp = f"2026-11-20 10:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d} UTC"
        random_str = base64.urlsafe_b64encode(rng.randbytes(9)).decode("ascii")
        dest = inbound / f"{person['username']}+{ASSIGNMENT}+{stamp}+{random_str}"
        shutil.copytree(release / "data", dest / "data")
        data = fill(text, person, i % MENTION_EVERY == 0)
        size = max(size, len(data))
        (dest / f"{ASSIGNMENT}.ipynb").write_bytes(data)
        (dest / "timestamp.txt").write_text(stamp)
        (dest / "submission_secret.txt").write_text(rng.randbytes(64).hex())
        for path in dest.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.chmod(dest, 0o777)
    return root, size


# -- the workers ----------------------------------------------------------------------------------
def _status_mb(key: str) -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _section_start() -> dict[str, Any]:
    """RSS now, and reset the peak (Linux 4.0+) so that VmHWM covers what follows."""
    out: dict[str, Any] = {"rss_before_mb": _status_mb("VmRSS")}
    try:
        Path("/proc/self/clear_refs").write_text("5")
        out["peak_reset"] = True
    except OSError:
        out["peak_reset"] = False  # then the peak covers the worker's start too
    return out


def _section_peak() -> float | None:
    return _status_mb("VmHWM")


def worker_collect(spec: dict[str, Any]) -> dict[str, Any]:
    import logging

    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.collect import ExchangeCollect
    from traitlets.config import Config

    logging.getLogger("traitlets").setLevel(logging.WARNING)
    cfg = Config()
    cfg.CourseDirectory.root = spec["course"]
    cfg.CourseDirectory.course_id = COURSE
    cfg.CourseDirectory.assignment_id = ASSIGNMENT
    cfg.Exchange.root = spec["exchange"]
    cfg.ExchangeCollect.check_owner = False  # bench learners are not system users
    coursedir = CourseDirectory(config=cfg)
    collect = ExchangeCollect(
        coursedir=coursedir, authenticator=Authenticator(config=cfg), config=cfg
    )
    out = _section_start()
    cpu0 = time.process_time()
    start = time.perf_counter()
    collect.start()
    out["collect_s"] = round(time.perf_counter() - start, 3)
    out["cpu_s"] = round(time.process_time() - cpu0, 3)
    out["peak_rss_mb"] = _section_peak()
    submitted = Path(spec["course"]) / "submitted"
    out["collected"] = sum(1 for _ in submitted.glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    return out


def _pack_one(job: tuple[str, dict[str, str], str]) -> Any:
    from nbcohort.exchange.packets import Identity, pack_submission

    folder, p, release = job
    identity = Identity(p["username"], p["name"], p["email"])
    return pack_submission(Path(folder), identity, release=Path(release))


def worker_packets(spec: dict[str, Any]) -> dict[str, Any]:
    import resource
    from concurrent.futures import ProcessPoolExecutor

    from nbcohort.exchange.packets import write_packets

    people = {p["username"]: p for p in spec["people"]}
    submitted = Path(spec["course"]) / "submitted"
    order = sorted(people)
    pairs = [(order[(i + j) % len(order)], a) for i, a in enumerate(order) for j in range(1, K + 1)]
    jobs = [(str(submitted / u / ASSIGNMENT), people[u], spec["release"]) for u in order]
    processes = spec["processes"]
    out = _section_start()
    cpu0 = time.process_time()
    start = time.perf_counter()
    if processes == 1:
        packed = dict(zip(order, map(_pack_one, jobs), strict=True))
    else:  # the submissions are independent: one process per core, results pickled back
        with ProcessPoolExecutor(processes) as pool:
            packed = dict(zip(order, pool.map(_pack_one, jobs, chunksize=8), strict=True))
    packed_at = time.perf_counter()
    dest = Path(spec["dest"])
    names = write_packets(dest, packed, pairs, prefix=ASSIGNMENT)
    done = time.perf_counter()
    out["pack_s"] = round(packed_at - start, 3)
    out["write_s"] = round(done - packed_at, 3)
    out["total_s"] = round(done - start, 3)
    out["cpu_s"] = round(time.process_time() - cpu0, 3)  # this process only
    out["peak_rss_mb"] = _section_peak()
    if processes > 1:  # the pool's processes (forked: each counts the pages it shared)
        out["pool_peak_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        )
    out["packets"] = len(names)
    out["packet_notebook_kb"] = round(
        max(len(v) for s in packed.values() for v in s.files.values()) / 1000, 1
    )
    out["files_per_packet"] = max(len(s.files) for s in packed.values())
    out["written_mb"] = round(
        sum(len(v) for _, a in pairs for v in packed[a].files.values()) / bl.MB, 1
    )
    out["checks"] = check_packets(dest, names, packed, people, pairs)
    return out


def check_packets(
    dest: Path, names: dict, packed: dict, people: dict, pairs: list
) -> dict[str, bool]:
    """Every pair has its own packet; an author's packets are the same bytes; no sampled packet
    holds its author's identity; mentions are the planted ones (one learner in ten)."""
    folders = {p.name for p in dest.iterdir()}
    by_author: dict[str, list[str]] = {}
    for (_, author), name in names.items():
        by_author.setdefault(author, []).append(name)
    same = True
    clean = True
    planted = {p["username"] for i, p in enumerate(people.values()) if i % MENTION_EVERY == 0}
    rng = random.Random(1)
    for author in rng.sample(sorted(by_author), min(SAMPLE, len(by_author))):
        blobs = {(dest / n / f"{ASSIGNMENT}.ipynb").read_bytes() for n in by_author[author]}
        same = same and len(blobs) == 1
        text = blobs.pop().decode("utf-8").lower()
        p = people[author]
        allowed = {p["name"]: int(author in planted)}  # the planted sentence stays, reported
        for needle in (p["username"], p["name"], p["email"], f"/home/{p['username']}"):
            clean = clean and text.count(needle.lower()) == allowed.get(needle, 0)
    reported = {a for a, s in packed.items() if s.mentions}
    return {
        "one_packet_per_pair": len(names) == len(pairs) == len(folders) == len(set(names.values())),
        "packets_of_an_author_identical": same,
        "no_author_identity_in_sampled_packets": clean,
        "mentions_are_the_planted_ones": reported == planted,
        "data_left_out_as_released": all(
            list(s.files) == [f"{ASSIGNMENT}.ipynb"] for s in packed.values()
        ),
    }


WORKERS = {"collect": worker_collect, "packets": worker_packets}


def run_worker(leg: str, spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    spec_path = tmp / f"spec-{leg}.json"
    spec_path.write_text(json.dumps(spec))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", leg, str(spec_path)]
    res = bl.run_measured(cmd, bl.isolated_env(tmp), cwd=tmp)
    if res["returncode"] != 0:
        raise RuntimeError(f"{leg} worker failed:\n{res['stderr'][-3000:]}")
    out = json.loads(res["stdout"].strip().splitlines()[-1])
    out["worker_wall_s"] = res["wall_s"]
    return out


def one_run(tmp: Path, course: Path, spec: dict[str, Any], run_no: int) -> dict[str, Any]:
    shutil.rmtree(course / "submitted", ignore_errors=True)
    run: dict[str, Any] = {"run": run_no, "load_average_1m": round(os.getloadavg()[0], 2)}
    run["collect"] = run_worker("collect", spec, tmp)
    checks = {"collected_all": run["collect"]["collected"] == len(spec["people"])}
    for leg, processes in legs():
        dest = tmp / f"packets-{run_no}-{processes}"
        run[leg] = run_worker("packets", {**spec, "dest": str(dest), "processes": processes}, tmp)
        shutil.rmtree(dest, ignore_errors=True)
        checks.update({f"{leg}:{k}": v for k, v in run[leg].pop("checks").items()})
    run["checks"] = checks
    run["ok"] = all(checks.values())
    return run


def legs() -> list[tuple[str, int]]:
    """Packets in one process, and with a process per core when there is more than one."""
    cores = os.cpu_count() or 1
    return [("packets", 1)] + ([(f"packets_{cores}proc", cores)] if cores > 1 else [])


def run(opts: Any) -> tuple[dict[str, Any], str, bool]:
    params = parameters(opts)
    n = params["submissions"]
    payload: dict[str, Any] = {"parameters": params}
    with tempfile.TemporaryDirectory(prefix="nbc-packets-") as tmp_name:
        tmp = Path(tmp_name)
        start = time.perf_counter()
        course, release = build_release(tmp)
        people = roster(n)
        exchange, nb_size = build_inbound(tmp, release, people)
        params["setup_s"] = round(time.perf_counter() - start, 1)
        params["submission_notebook_kb"] = round(nb_size / 1000, 1)
        params["tmp_filesystem"] = bl.filesystem_of(tmp.resolve())
        print(
            f"[bench] {NAME}: {n} submissions of {nb_size / 1000:.0f} kB in a real exchange "
            f"(set-up {params['setup_s']} s)",
            flush=True,
        )
        spec = {
            "course": str(course),
            "exchange": str(exchange),
            "release": str(release),
            "people": people,
        }
        runs = []
        for i in range(1, opts.runs + 1):
            r = one_run(tmp, course, spec, i)
            said = [f"collect {r['collect']['collect_s']} s"]
            for leg, _ in legs():
                p = r[leg]
                said.append(f"{leg} {p['total_s']} s (pack {p['pack_s']}, write {p['write_s']})")
            verdict = "ok" if r["ok"] else "FAILED " + json.dumps(r["checks"])
            print(f"  run {i}/{opts.runs}: {'; '.join(said)}; checks {verdict}", flush=True)
            runs.append(r)
    ok = all(r["ok"] for r in runs)
    med = bl.medians(runs)
    payload.update(median=med, checks_ok_all_runs=ok, runs=runs)
    c = med["collect"]
    rows = [["nbgrader collect", n, c["collect_s"], None, None, c["cpu_s"],
             c["rss_before_mb"], c["peak_rss_mb"]]]  # fmt: skip
    for leg, processes in legs():
        p = med[leg]
        peak = p["peak_rss_mb"]
        if processes > 1:
            peak = f"{peak} (+{processes}x {p['pool_peak_rss_mb']})"
        rows.append(
            [f"packets, k={K}, {processes} process(es)", p["packets"], p["total_s"],
             p["pack_s"], p["write_s"], p["cpu_s"], p["rss_before_mb"], peak]
        )  # fmt: skip
    text = bl.table(
        ["leg", "items", "total s", "pack s", "write s", "CPU s", "RSS before MB",
         "peak RSS MB"],
        rows,
    )  # fmt: skip
    text += (
        f"\n(medians of {opts.runs} runs; {n} submissions of "
        f"{params['submission_notebook_kb']} kB, {med['packets']['written_mb']} MB of packets "
        f"written; target: packets < {params['target_packets_s']} s; CPU s: the timed process "
        f"only; checks {'ok' if ok else 'FAILED'})"
    )
    return payload, text, ok


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        result = WORKERS[sys.argv[2]](json.loads(Path(sys.argv[3]).read_text()))
        print(json.dumps(result))
    else:
        sys.exit("run the benchmarks with: python tests/bench/run.py --only packets")
