"""nbcohort's own settings, as traitlets Configurables read from the one ``jupyter_config.py``.

Each class is a config section (``c.NbCohort.data_dir = ...``); the features' sections are in
``config_features.py`` and are imported from here like the rest. Every Jupyter application the
kit runs finds ``jupyter_config.py`` through ``JUPYTER_CONFIG_PATH``; code that runs outside an
application (a kernel, a test) loads the same files with :func:`load_config`.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_core.paths import jupyter_config_path, jupyter_data_dir
from traitlets import Bool, Enum, Float, Int, List, Undefined, Unicode, default
from traitlets.config import Config, Configurable
from traitlets.config.loader import PyFileConfigLoader

from nbcohort.cohorts.config_exchange import ExchangeSettings
from nbcohort.cohorts.config_features import (
    CadenceSettings,
    LiveSettings,
    MailSettings,
    MetricsSettings,
    PagesSettings,
    PrivacySettings,
    SearchSettings,
)
from nbcohort.cohorts.config_hub import HubSettings

__all__ = [
    "ROLES",
    "CadenceSettings",
    "ClientSettings",
    "CommunitySettings",
    "ExchangeSettings",
    "HubSettings",
    "LiveSettings",
    "MailSettings",
    "MetricsSettings",
    "NbCohort",
    "PagesSettings",
    "PrivacySettings",
    "SearchSettings",
    "ServiceSettings",
    "StoreSettings",
    "all_settings_classes",
    "config_reference",
    "load_config",
]

ROLES = ("learner", "champion", "facilitator", "instructor", "alumni", "sponsor")


class NbCohort(Configurable):
    """Where nbcohort keeps its data and which cohort a command acts on."""

    data_dir = Unicode(
        help="Folder for runtime data: the embedded SQLite database and the nbgrader exchange "
        "root. Never inside the code folders. Defaults to <jupyter data dir>/nbcohort.",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "nbcohort")

    db_url = Unicode(
        "",
        help="SQLAlchemy URL of the community store. Empty means the embedded SQLite file "
        "<data_dir>/nbcohort.sqlite. For PostgreSQL: postgresql+psycopg://user:pw@host/db "
        "(install the 'postgres' extra).",
    ).tag(config=True)

    default_cohort = Unicode(
        "",
        help="Slug of the cohort that commands act on when --cohort is not given.",
    ).tag(config=True)

    signing_key_file = Unicode(
        "",
        help="File holding the secret key that signs the links that work without a token (a "
        "member's calendar feed, the one-click unsubscribe in every email). Empty means "
        "<data_dir>/signing.key, created readable by its owner only on first use. Every "
        "process that serves or sends such links must read the same file; replacing it "
        "invalidates every link already given out.",
    ).tag(config=True)

    def signing_key_path(self) -> Path:
        """The file of the key that signs links (see signing.py)."""
        return Path(self.signing_key_file or os.path.join(self.data_dir, "signing.key"))

    def resolved_db_url(self) -> str:
        """The configured URL, or the embedded SQLite file in the data dir."""
        if self.db_url:
            return self.db_url
        return "sqlite:///" + str(Path(self.data_dir) / "nbcohort.sqlite")


class StoreSettings(Configurable):
    """How the store talks to its database."""

    sqlite_busy_timeout = Float(
        30.0,
        help="Seconds a SQLite writer waits for the write lock before giving up. Writers queue "
        "on this lock, so a user never sees 'database is locked' under normal load.",
    ).tag(config=True)

    sqlite_synchronous = Enum(
        ["NORMAL", "FULL"],
        default_value="NORMAL",
        help="SQLite 'synchronous' pragma. NORMAL (with WAL) keeps every committed write across a "
        "killed process; FULL also survives power loss, at a lower write rate.",
    ).tag(config=True)

    pool_size = Int(
        10,
        help="Connections kept open to a server database (PostgreSQL), per pool. The "
        "service has two pools in each process, one for reads and one for writes.",
    ).tag(config=True)

    echo = Bool(False, help="Log every SQL statement (for debugging).").tag(config=True)


class ServiceSettings(Configurable):
    """The community HTTP service that widgets, pages and the CLI talk to."""

    ip = Unicode("127.0.0.1", help="Address the service listens on.").tag(config=True)
    port = Int(8765, help="Port the service listens on.").tag(config=True)
    public_url = Unicode(
        "",
        help="Address of the community service as members' browsers and calendar "
        "applications reach it (behind a proxy, its public address, e.g. "
        "https://hub.example.org/services/nbcohort), for links in email and calendar feeds. "
        "Empty means ClientSettings.url, or http://<ip>:<port>.",
    ).tag(config=True)

    def public_base(self, client_url: str = "") -> str:
        """The address links to this service start with (no trailing slash)."""
        if self.public_url or client_url:
            return (self.public_url or client_url).rstrip("/")
        base = f"http://{self.ip}:{self.port}"
        if self.auth == "hub":  # the routes are under the hub service's prefix
            base += "/" + HubSettings(config=self.config).prefix.strip("/")
        return base.rstrip("/")

    auth = Enum(
        ["local", "hub"],
        default_value="local",
        help="How requests are authenticated. 'local' (the embedded default): per-member "
        "tokens minted by 'nbcohort token MEMBER' and stored hashed. 'hub': the service runs "
        "as a JupyterHub service and asks the hub who each token belongs to (a kernel sends "
        "its user's own JUPYTERHUB_API_TOKEN); the hub user is the member with that username "
        "on the roster (HubSettings).",
    ).tag(config=True)
    auth_cache_seconds = Float(
        10.0,
        help="Seconds a verified token is trusted before the store (or, with auth='hub', the "
        "hub) is asked again. Revoking a token, deactivating a member or taking a hub user "
        "out of a group takes effect within this time; 0 checks every request.",
    ).tag(config=True)
    workers = Int(
        1,
        help="Threads for writes that must wait: a write runs on the event loop when the "
        "database is free at once (posts, reactions and read marks also wait there, briefly, "
        "for another nbcohort writer), otherwise on one of these threads, so a write waiting "
        "for a lock never stalls the service. SQLite takes one writer at a time, so more than "
        "1 helps only on PostgreSQL (where every write uses them). 0 runs all writes on the "
        "event loop.",
    ).tag(config=True)
    processes = Int(
        1,
        help="Service processes sharing the port. One process uses one core (Python's GIL), "
        "so on a machine with more cores more processes answer more requests (on SQLite too: "
        "their writes queue on one lock and share transactions). Above 1, a supervisor "
        "replaces a worker that dies and stops them all on SIGTERM.",
    ).tag(config=True)
    max_body_bytes = Int(
        8 * 1024 * 1024,
        help="Largest request body the service accepts, in bytes; larger requests get 413. "
        "A body is read only after its token is accepted.",
    ).tag(config=True)
    failed_auth_limit = Int(
        20,
        min=0,
        help="Failed token attempts one client address may make within "
        "failed_auth_window seconds; past that, the address gets 429 with Retry-After for "
        "every wrong token, no longer counted. A local token is still checked (one read of "
        "the database, what refusing it costs), so members behind the same address get in; "
        "with auth='hub' a token some service process saw valid in the last day gets in "
        "(the database remembers them: known_token), and any other goes to the hub one at a "
        "time per process, at most 8 waiting (past that, 429 for 2 s): behind a proxy, such "
        "as JupyterHub's, every request comes from one address. The attempts are "
        "counted in the database, so several service processes or replicas share one count. "
        "0 turns the limit off.",
    ).tag(config=True)
    failed_auth_window = Float(
        60.0,
        help="Seconds over which failed token attempts are counted (failed_auth_limit).",
    ).tag(config=True)
    page_cache = Int(
        128,
        min=0,
        help="Thread pages each service process keeps in memory between reads (the most "
        "recently read; tests/bench/README.md gives what a page weighs). A kept "
        "page is served after one indexed check that its thread has not changed since (the "
        "database counts every change, whoever makes it), so no one sees a stale page; on "
        "PostgreSQL, while the service hears every change (listen_for_changes), with no "
        "check at all. Only the posts a reader wrote or reacted to are rebuilt for them. 0 "
        "reads every page from the database.",
    ).tag(config=True)
    listen_for_changes = Bool(
        True,
        help="On PostgreSQL, each service process holds one more connection that LISTENs "
        "for thread changes (the database NOTIFYs them), and serves a kept page with no "
        "query at all until its thread changes. A member always reads their own change; "
        "another process's changes show a few milliseconds after they commit. Turn off "
        "behind a pooler that does not pass LISTEN through (PgBouncer in transaction mode): "
        "each read then checks the thread's version. No effect on SQLite.",
    ).tag(config=True)
    seen_every_seconds = Float(
        300.0,
        min=1.0,
        help="How fresh a member's last visit (Member.last_seen_at, which decides who gets a "
        "digest of what they missed) is kept. Each service process notes in memory who made "
        "a request and writes the members it saw in one statement at most once per this many "
        "seconds, never a write per request; a member written less than this long ago is "
        "skipped.",
    ).tag(config=True)
    gc_young_threshold = Int(
        20_000,
        min=0,
        help="Objects a service process allocates (net) before Python collects its youngest "
        "generation (gc.set_threshold's first value; Python's default is 700). Under load "
        "the objects of the requests in flight alone pass 700 many times a second, so each "
        "collection finds them alive and moves them on, and the older generations' "
        "collections then pause every waiting request. A higher threshold collects rarely, "
        "with the same memory (tests/bench/README.md has the measurements). 0 keeps "
        "Python's default.",
    ).tag(config=True)


class CommunitySettings(Configurable):
    """The community's rules, enforced by the services layer."""

    max_post_chars = Int(20_000, help="Longest post, in characters of Markdown source.").tag(
        config=True
    )
    flag_threshold = Int(
        3,
        help="A post flagged by this many distinct members is hidden until a facilitator "
        "reviews it.",
    ).tag(config=True)
    reactions = List(
        Unicode(),
        default_value=["helpful", "+1", "insightful"],
        help="Reactions members may add to a post.",
    ).tag(config=True)
    max_artifact_bytes = Int(
        5 * 1024 * 1024, help="Largest file a member can share into the artifact library, in bytes."
    ).tag(config=True)
    licenses = List(
        Unicode(),
        default_value=["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "MIT", "All rights reserved"],
        help="Licenses a member can choose when sharing an artifact.",
    ).tag(config=True)
    prompt_answers_first = Bool(
        True,
        help="Members see others' answers to a micro-prompt only after answering it themselves.",
    ).tag(config=True)
    page_size = Int(
        30, help="Top-level posts returned per page of a thread ('show earlier' loads more)."
    ).tag(config=True)


class ClientSettings(Configurable):
    """How widgets and pages reach the service."""

    url = Unicode(
        "",
        help="Base URL of the community service. Empty means http://<ServiceSettings.ip>:"
        "<ServiceSettings.port>. The NBCOHORT_URL environment variable overrides it.",
    ).tag(config=True)
    timeout = Float(
        2.0,
        help="Seconds a widget waits for the service before showing 'community offline'.",
    ).tag(config=True)
    retries = Int(2, help="Retries for idempotent requests (GET) on a dropped connection.").tag(
        config=True
    )
    cohort = Unicode(
        help="The slug of the cohort requests act in, sent as the X-Nbcohort-Cohort header. "
        "Needed only by a hub user on several cohorts' rosters (without it they are refused "
        "with 409 naming the cohorts); empty means the NBCOHORT_COHORT environment variable, "
        "or no header.",
    ).tag(config=True)

    @default("cohort")
    def _default_cohort(self) -> str:
        return os.environ.get("NBCOHORT_COHORT", "")


def all_settings_classes() -> list[type[Configurable]]:
    """Every Configurable nbcohort defines (the docs test walks this list)."""
    return [
        NbCohort,
        StoreSettings,
        ServiceSettings,
        CommunitySettings,
        ClientSettings,
        CadenceSettings,
        MailSettings,
        MetricsSettings,
        SearchSettings,
        LiveSettings,
        PagesSettings,
        PrivacySettings,
        HubSettings,
        ExchangeSettings,
    ]


def config_reference() -> str:
    """The README's configuration reference, generated from the traits' own help."""
    out = []
    for cls in all_settings_classes():
        out.append(f"**{cls.__name__}**: {(cls.__doc__ or '').strip()}\n")
        out.append("| setting | default | what it does |\n|---|---|---|")
        for name, trait in sorted(cls.class_traits(config=True).items()):
            default = "<jupyter data dir>/nbcohort" if name == "data_dir" else trait.default_value
            if default is Undefined:  # a container given its default as an argument (Dict)
                default = trait.default()
            out.append(
                f"| `c.{cls.__name__}.{name}` | `{default!r}` | {' '.join(trait.help.split())} |"
            )
        out.append("")
    return "\n".join(out)


def load_config(paths: list[str] | None = None) -> Config:
    """Load ``jupyter_config.py`` from the Jupyter config path, as JupyterApp would.

    Later folders on the path have lower priority, so they are merged first.
    """
    cfg = Config()
    for folder in reversed(paths if paths is not None else jupyter_config_path()):
        if os.path.isfile(os.path.join(folder, "jupyter_config.py")):
            loader = PyFileConfigLoader("jupyter_config.py", path=folder)
            cfg.merge(loader.load_config())
    return cfg
