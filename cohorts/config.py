"""nbcohort's own settings, as traitlets Configurables read from the one ``jupyter_config.py``.

Each class is a config section (``c.NbCohort.data_dir = ...``). Every Jupyter application the
kit runs finds ``jupyter_config.py`` through ``JUPYTER_CONFIG_PATH``; code that runs outside an
application (a kernel, a test) loads the same files with :func:`load_config`.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_core.paths import jupyter_config_path, jupyter_data_dir
from traitlets import Bool, Enum, Float, Int, List, Unicode, default
from traitlets.config import Config, Configurable
from traitlets.config.loader import PyFileConfigLoader

__all__ = [
    "ROLES",
    "CadenceSettings",
    "ClientSettings",
    "CommunitySettings",
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
        return (self.public_url or client_url or f"http://{self.ip}:{self.port}").rstrip("/")

    auth = Enum(
        ["local"],
        default_value="local",
        help="How requests are authenticated. 'local': per-member tokens minted by "
        "'nbcohort token MEMBER' and stored hashed.",
    ).tag(config=True)
    auth_cache_seconds = Float(
        10.0,
        help="Seconds a verified token is trusted before the store is asked again. Revoking a "
        "token or deactivating a member takes effect within this time; 0 checks every request.",
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
        "failed_auth_window seconds; past that, the address gets 429 with Retry-After for any "
        "token not valid recently, and the token is not looked up. Members whose tokens were "
        "valid in the last day still get in from that address (behind a proxy, such as "
        "JupyterHub's, every request comes from one address). 0 turns the limit off.",
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


class MetricsSettings(Configurable):
    """The cohort's engagement metrics: whom they count and what they never show."""

    min_group = Int(
        5,
        min=3,
        help="No metric is shown for a group smaller than this many members: the metric "
        "says it is withheld and why (with 2 or 3 people, an average tells on a person). "
        "Never below 3.",
    ).tag(config=True)
    roles = List(
        Unicode(),
        default_value=["learner", "champion", "alumni"],
        help="Roles whose members the metrics count (the people a community measures itself "
        "by). Staff (facilitators, instructors) and sponsors are left out by default: "
        "their posts and reviews are their job, not a sign of engagement.",
    ).tag(config=True)
    window_days = Int(
        28,
        min=1,
        max=366,
        help="Days a metric looks back over when the request names no window "
        "(GET /api/v1/metrics?window=N).",
    ).tag(config=True)
    cache_seconds = Float(
        60.0,
        min=0.0,
        help="Seconds the service answers the same view of a cohort's metrics again before "
        "computing them anew (each process keeps its own; computing takes the service's "
        "event loop, up to a second for half a million events: tests/bench/README.md). "
        "The answer's computed_at says when. 0 computes every request.",
    ).tag(config=True)
    leader_metrics = List(
        Unicode(),
        default_value=[
            "active_contributors",
            "artifact_reuse_rate",
            "time_to_apply",
            "applied_within_14_days",
            "newcomer_conversion",
        ],
        help="The metrics sponsors see (the leader one-pager): those that map to the "
        "outcomes the charter names. Staff see every metric; learners, champions and alumni "
        "every cohort-level aggregate.",
    ).tag(config=True)


class SearchSettings(Configurable):
    """Search across posts, threads and artifacts (the index is the database's own)."""

    ranked_matches = Int(
        500,
        min=20,
        help="Matches of each kind ranked by relevance, newest first: a word found in most "
        "posts costs this many rows, not the whole table (tests/bench/README.md has the "
        "figures). Results are the most relevant of the newest ranked_matches matches.",
    ).tag(config=True)


class PagesSettings(Configurable):
    """The Voila pages (cohort activity, leader one-pager): where they are served from."""

    folder = Unicode(
        "community",
        help="Folder, relative to the Jupyter server's root (the learner's home), that holds "
        "the page notebooks ('nbcohort pages copy DIR' puts them there; the demo does). "
        "The widgets' Community link opens <base_url>voila/render/<folder>/cohort.ipynb.",
    ).tag(config=True)
    base_url = Unicode(
        "",
        help="The Jupyter server's base URL as the member's browser sees it (e.g. "
        "/user/ana/ on a hub). Empty means the JUPYTERHUB_SERVICE_PREFIX environment "
        "variable (set by JupyterHub in each single-user server), else /.",
    ).tag(config=True)
    trend_weeks = Int(
        8,
        min=1,
        max=53,
        help="Weeks of trend the pages' charts show (the most recent ones).",
    ).tag(config=True)
    timeout = Float(
        15.0,
        min=0.5,
        help="Seconds a page waits for each answer of the service before it says the part "
        "is not available. Longer than a widget's ClientSettings.timeout: a page's metrics "
        "are computed over the whole activity log (tests/bench/README.md has the figures).",
    ).tag(config=True)


class PrivacySettings(Configurable):
    """A member's own data: their export, leaving, and the pulse survey's anonymity."""

    export_max_bytes = Int(
        200 * 1024 * 1024,
        min=1024,
        help="Largest export a member can download (GET /api/v1/me/export, my_data()), in "
        "bytes of what goes into the ZIP (their artifacts' files included). A bigger one is "
        "refused with 413 naming this setting: an instructor exports it with the CLI.",
    ).tag(config=True)
    posts_when_leaving = Enum(
        ["keep", "remove"],
        default_value="keep",
        help="The charter's rule for a leaving member's posts when the cohort file sets none "
        "([leaving] posts): 'keep' shows them under \"former member\"; 'remove' replaces each "
        'with "post removed at the author\'s request" (replies to it stay).',
    ).tag(config=True)
    pulse_min_answers = Int(
        5,
        min=3,
        help="No result of a pulse survey is shown, to anyone (facilitators and instructors "
        "included), until at least this many members answered it (a survey's own "
        "min_answers in the cohort file can only raise it). Never below 3.",
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


class CadenceSettings(Configurable):
    """The cohort's rhythm: how far ahead the cadence tick plans, and what it does when late."""

    horizon_days = Int(
        35,
        min=1,
        help="Days ahead the cadence plan is kept filled (cohort apply writes it, every tick "
        "tops it up): what 'nbcohort cadence plan' and the calendar show as planned.",
    ).tag(config=True)
    max_lateness_hours = Float(
        12.0,
        min=0,
        help="A routine or weekly highlights post not published within this many hours of "
        "its time (the tick did not run: a server down over a weekend) is marked missed "
        "instead of posted late. Micro-prompts and clinic threads are always published.",
    ).tag(config=True)


class MailSettings(Configurable):
    """Email: where messages go, how the digest is paced, and how links in them are made."""

    transport = Enum(
        ["outbox", "smtp"],
        default_value="outbox",
        help="'outbox' writes each message as one .eml file into outbox_dir and sends "
        "nothing (the embedded default and the demo); 'smtp' sends through smtp_host.",
    ).tag(config=True)
    outbox_dir = Unicode(
        "",
        help="Folder the 'outbox' transport writes .eml files to. Empty means <data_dir>/outbox.",
    ).tag(config=True)
    smtp_host = Unicode("", help="SMTP server to send through (transport 'smtp').").tag(config=True)
    smtp_port = Int(587, help="Port of the SMTP server (587 submission, 25 relay).").tag(
        config=True
    )
    smtp_starttls = Bool(
        True,
        help="Upgrade the SMTP connection with STARTTLS before logging in (the server's "
        "certificate is checked against the system's trusted authorities).",
    ).tag(config=True)
    smtp_user = Unicode("", help="User to log in to the SMTP server as; empty: no login.").tag(
        config=True
    )
    smtp_password_env = Unicode(
        "NBCOHORT_SMTP_PASSWORD",
        help="Name of the environment variable that holds the SMTP password. The password "
        "itself never goes in a config file.",
    ).tag(config=True)
    smtp_timeout = Float(
        30.0, help="Seconds to wait for the SMTP server at each step before giving up."
    ).tag(config=True)
    from_address = Unicode(
        "nbcohort@localhost",
        help="The From address of every message (a real mailbox of yours when sending "
        "through SMTP).",
    ).tag(config=True)
    from_name = Unicode("nbcohort", help="The name shown with from_address.").tag(config=True)
    notebook_url = Unicode(
        "",
        help="Where a member opens course notebooks, for links in email (e.g. "
        "https://hub.example.org/hub/user-redirect/lab/tree/). Empty: messages name the "
        "notebook and section without a link.",
    ).tag(config=True)
    digest_idle_hours = Float(
        72.0,
        help="A member who has not visited the community for this many hours gets one "
        "digest of what they missed (members whose email_pref is 'none' never do).",
    ).tag(config=True)
    digest_interval_hours = Float(
        168.0,
        help="Never more than one digest per member within this many hours, however long "
        "they stay away; none at all when nothing happened since their last visit or digest.",
    ).tag(config=True)
    notify_delay_minutes = Float(
        10.0,
        help="A notification is emailed (to members whose email_pref is 'all') once it is "
        "this old and still unread, so a member working in the notebook is not emailed "
        "what they have already seen.",
    ).tag(config=True)
    notify_window_hours = Float(
        48.0,
        help="Notifications older than this are never emailed one by one (they wait for "
        "the digest): mail switched on after an outage does not send a backlog.",
    ).tag(config=True)
    max_attempts = Int(
        8,
        min=1,
        help="Attempts at sending a message before it is marked failed for a person to "
        "look at ('nbcohort mail status').",
    ).tag(config=True)
    retry_base_seconds = Float(
        60.0, help="Wait before the first retry of a failed send; doubled at each attempt."
    ).tag(config=True)
    retry_max_seconds = Float(
        6 * 3600.0, help="Longest wait between two attempts at sending a message."
    ).tag(config=True)
    sending_timeout_minutes = Float(
        30.0,
        help="A message claimed for sending this long ago and still not marked sent (its "
        "sender was killed mid-send) is marked failed, never resent blindly: it may have "
        "reached the server. 'nbcohort mail status' lists it with its Message-ID to look "
        "for in the server's log; 'nbcohort mail retry ID' sends it again.",
    ).tag(config=True)
    batch_size = Int(500, min=1, help="Messages one 'nbcohort mail send' run sends at most.").tag(
        config=True
    )


class LiveSettings(Configurable):
    """How the discussion and notifications widgets stay current: one long-poll per kernel."""

    max_wait_seconds = Float(
        25.0,
        help="Longest a watch waits for a change before answering 'nothing new' (the kernel "
        "then asks again). Under most proxies' idle timeout (often 60 s).",
    ).tag(config=True)
    check_seconds = Float(
        2.0,
        help="How often the service compares the marks of every waiting watch in one query, "
        "for changes made by other processes (the CLI, the cadence tick, another service "
        "process on SQLite). Its own writes and, on PostgreSQL, every thread change wake the "
        "watches at once.",
    ).tag(config=True)
    max_watches_per_member = Int(
        8,
        help="Watches one member may hold open at once (one per running kernel; a notebook "
        "re-opened leaves its old watch to time out). Beyond it a watch is refused (429).",
    ).tag(config=True)


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
    ]


def config_reference() -> str:
    """The README's configuration reference, generated from the traits' own help."""
    out = []
    for cls in all_settings_classes():
        out.append(f"**{cls.__name__}**: {(cls.__doc__ or '').strip()}\n")
        out.append("| setting | default | what it does |\n|---|---|---|")
        for name, trait in sorted(cls.class_traits(config=True).items()):
            default = "<jupyter data dir>/nbcohort" if name == "data_dir" else trait.default_value
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
