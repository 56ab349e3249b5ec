#!/usr/bin/env python3
"""Set up and run nbcohort from a fresh clone with nothing but Python 3.11+.

    python3 dev.py demo [--check]   the demo on the embedded SQLite default
    python3 dev.py demo --hub       the demo on a local JupyterHub: log in as three members
    python3 dev.py test [ARGS]      lint + the whole test suite (SQLite, PostgreSQL, browser)
    python3 dev.py bench [ARGS]     the benchmarks under tests/bench/ (JSON results)

It creates .venv, installs nbcohort into it (again only when pyproject.toml changes) and,
when run as root, the Debian packages the tests need (PostgreSQL, Chromium). Standard library
only: this file runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("NBCOHORT_VENV", ROOT / ".venv"))
PY = VENV / "bin" / "python"
APT_PACKAGES = {"postgresql": "pg_ctlcluster", "chromium": "chromium", "npm": "npm"}
NODE_BIN = VENV / "node" / "node_modules" / ".bin"  # npm tools the tests use, on their PATH
AXE = NODE_BIN.parent / "axe-core" / "axe.min.js"
AXE_VERSION, CHP_VERSION = "4.14", "5"
PG_ROLE, PG_PASSWORD, PG_DB = "nbcohort", "nbcohort", "nbcohort_test"


def say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def run(cmd: list[str], **kw: object) -> int:
    return subprocess.call(cmd, **kw)  # type: ignore[arg-type]


def ensure_venv(extras: str) -> None:
    """Create .venv and install nbcohort[extras] unless the same install is already there."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file must run on old Pythons to say so
        sys.exit(f"nbcohort needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        say(f"creating {VENV}")
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    stamp = VENV / ".nbcohort-install"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    todo = extras_to_install(stamp.read_text() if stamp.exists() else "", digest, extras)
    if todo is None:
        return
    extras = todo
    say(f"installing nbcohort[{extras}] into {VENV} (about a minute the first time)")
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.check_call([*pip, "--upgrade", "pip"])
    # setuptools tells every editable install of a package-dir layout to beware of folders
    # named like the package; none is (the code folders are imported as nbcohort.<area>), so
    # a newcomer's first run does not show that notice as if something were wrong.
    quiet = {**os.environ, "PYTHONWARNINGS": "ignore:::setuptools.command.editable_wheel"}
    subprocess.check_call([*pip, "-e", f"{ROOT}[{extras}]" if extras else str(ROOT)], env=quiet)
    stamp.write_text(f"{digest}\n{extras}")


def extras_to_install(stamp: str, digest: str, extras: str) -> str | None:
    """The extras to install now (None: nothing), given the stamp of the last install (its
    pyproject.toml digest and extras). A superset already installed serves, so the demo after
    the tests (or the other way round) reinstalls nothing; otherwise both sets go in."""
    wanted = {e for e in extras.split(",") if e}
    had, _, installed = stamp.partition("\n")
    have = {e for e in installed.split(",") if e} if had == digest else set()
    if had == digest and wanted <= have:
        return None
    return ",".join(sorted(wanted | have))


def ensure_debian_packages() -> None:
    """Install PostgreSQL and Chromium from Debian when missing and we may (root)."""
    missing = [pkg for pkg, probe in APT_PACKAGES.items() if not _have(probe)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        say(f"not installing {', '.join(missing)} (needs root and apt-get): those legs skip")
        return
    say(f"apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL, "env": env}
    if run(["apt-get", "update", "-qq"], **quiet) or run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], **quiet
    ):
        say("apt-get failed: the PostgreSQL and browser legs will skip")


def _have(probe: str) -> bool:
    return bool(shutil.which(probe)) or (
        probe == "pg_ctlcluster" and Path("/usr/bin/pg_ctlcluster").exists()
    )


def ensure_postgres() -> str:
    """Start Debian's PostgreSQL cluster and return a URL for the test role, or ''."""
    if os.environ.get("NBCOHORT_TEST_DB_URL"):
        return os.environ["NBCOHORT_TEST_DB_URL"]
    if not shutil.which("pg_lsclusters") or os.geteuid() != 0:
        say("PostgreSQL leg skipped: no Debian PostgreSQL cluster tools (or not root)")
        return ""
    clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    if not clusters.strip():
        versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
        subprocess.check_call(["pg_createcluster", versions[-1].name, "main"],
                              stdout=subprocess.DEVNULL)  # fmt: skip
        clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    version, name, port, status = clusters.split()[:4]
    if status != "online":
        subprocess.check_call(["pg_ctlcluster", version, name, "start"])
    psql = ["runuser", "-u", "postgres", "--", "psql", "-p", port, "-qtA", "-v", "ON_ERROR_STOP=1"]
    exists = subprocess.run([*psql, "-c", f"SELECT 1 FROM pg_roles WHERE rolname='{PG_ROLE}'"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    verb = "ALTER" if exists else "CREATE"
    subprocess.check_call([*psql, "-c", f"{verb} ROLE {PG_ROLE} LOGIN CREATEDB "
                                        f"PASSWORD '{PG_PASSWORD}'"])  # fmt: skip
    # Tests drop their databases WITH (FORCE), which must end autovacuum workers too.
    subprocess.check_call([*psql, "-c", f"GRANT pg_signal_backend TO {PG_ROLE}"])
    has_db = subprocess.run([*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname='{PG_DB}'"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    if not has_db:
        subprocess.check_call([*psql, "-c", f"CREATE DATABASE {PG_DB} OWNER {PG_ROLE}"])
    say(f"PostgreSQL {version} on port {port}")
    return f"postgresql+psycopg://{PG_ROLE}:{PG_PASSWORD}@127.0.0.1:{port}/{PG_DB}"


def ensure_node_tools() -> str:
    """From the npm registry into .venv/node: axe-core (the accessibility scan) and
    configurable-http-proxy (the JupyterHub tests' proxy). Returns axe's path, '' without."""
    wanted = {AXE: f"axe-core@{AXE_VERSION}", NODE_BIN / "configurable-http-proxy":
              f"configurable-http-proxy@{CHP_VERSION}"}  # fmt: skip
    missing = [spec for path, spec in wanted.items() if not path.exists()]
    npm = shutil.which("npm")
    if missing and not npm:
        say(f"not installing {', '.join(missing)} (no npm): the tests that need them skip")
    elif missing:
        # All at once: npm removes what an install without a package.json did not name.
        specs = list(wanted.values())
        say(f"npm install {' '.join(specs)}")
        quiet = ["--no-audit", "--no-fund", "--silent", "--no-save"]
        if run([str(npm), "install", "--prefix", str(NODE_BIN.parents[1]), *quiet, *specs]):
            say("npm install failed: the tests that need those tools skip")
    return str(AXE) if AXE.exists() else ""


def env_for_repo() -> dict[str, str]:
    """The environment every command runs in: this repo's jupyter_config.py applies."""
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        p for p in [str(ROOT), env.get("JUPYTER_CONFIG_PATH", "")] if p
    )
    env["PATH"] = os.pathsep.join([str(VENV / "bin"), str(NODE_BIN), env.get("PATH", "")])
    return env


def _mypy_tree() -> Path:
    """mypy cannot follow setuptools' editable finder: give it nbcohort/<area> as symlinks."""
    tree = VENV / "mypy-src" / "nbcohort"
    tree.mkdir(parents=True, exist_ok=True)
    for area in ("cohorts", "exchange", "widgets"):
        link = tree / area
        if not link.is_symlink():
            link.symlink_to(ROOT / area, target_is_directory=True)
    return tree.parent


def mypy_targets() -> list[str]:
    return ["-p", "nbcohort.cohorts", "-p", "nbcohort.exchange", "-p", "nbcohort.widgets"]


def pytest_workers(args: list[str]) -> list[str]:
    """pytest-xdist options: one worker per CPU (at most 4), a test file per worker so that
    each file's servers start once; none when the caller chose (-n, -p no:xdist) or picked a
    few tests (-k, a file), where starting workers costs more than it saves."""
    chose = any(a.startswith(("-n", "--numprocesses", "-k", "--dist")) or a == "no:xdist"
                or (ROOT / a.split("::")[0]).is_file() for a in args)  # fmt: skip
    default = str(min(os.cpu_count() or 1, 4))
    workers = os.environ.get("NBCOHORT_TEST_WORKERS", default)
    if chose or not workers.isdigit() or int(workers) < 2:
        return []
    return ["-n", workers, "--dist", "loadfile"]


def cmd_test(args: list[str]) -> int:
    ensure_venv("postgres,test")
    ensure_debian_packages()
    env = env_for_repo()
    pg = ensure_postgres()
    if pg:
        env["NBCOHORT_TEST_DB_URL"] = pg
    if shutil.which("chromium"):
        env.setdefault("NBCOHORT_CHROMIUM", shutil.which("chromium") or "")
    if axe := ensure_node_tools():
        env.setdefault("NBCOHORT_AXE", axe)
    bin_ = VENV / "bin"
    say("ruff")
    if run([str(bin_ / "ruff"), "check", "."], cwd=ROOT, env=env) or run(
        [str(bin_ / "ruff"), "format", "--check", "--quiet", "."], cwd=ROOT, env=env
    ):
        say("ruff found problems (run: .venv/bin/ruff check --fix . && .venv/bin/ruff format .)")
        return 1
    say("mypy")
    if run(
        [str(PY), "-m", "mypy", *mypy_targets()],
        cwd=ROOT,
        env={**env, "MYPYPATH": str(_mypy_tree())},
    ):
        return 1
    say("pytest")
    code = run([str(PY), "-m", "pytest", *pytest_workers(args), *args], cwd=ROOT, env=env)
    if code == 5:
        say("pytest collected no tests: that is a failure here")
        return 1
    return code


def cmd_demo(args: list[str]) -> int:
    if "--hub" in args:  # JupyterHub itself, and its proxy from npm
        ensure_venv("postgres,hub")
        ensure_node_tools()
    else:
        ensure_venv("postgres")
    return run([str(VENV / "bin" / "nbcohort"), "demo", *args], cwd=ROOT, env=env_for_repo())


def cmd_bench(args: list[str]) -> int:
    ensure_venv("postgres,test")
    env = env_for_repo()
    pg = ensure_postgres()
    if pg:
        env["NBCOHORT_TEST_DB_URL"] = pg
    return run([str(PY), str(ROOT / "tests" / "bench" / "run.py"), *args], cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    commands = {"test": cmd_test, "demo": cmd_demo, "bench": cmd_bench}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
