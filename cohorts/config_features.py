"""Settings of the community's features: the rhythm (cadence, mail, live widgets), metrics,
search, the pages and members' privacy. Each class is a config section of the one
``jupyter_config.py``, like those in ``config.py``, which lists them all."""

from __future__ import annotations

from traitlets import Bool, Enum, Float, Int, List, Unicode
from traitlets.config import Configurable

__all__ = [
    "CadenceSettings",
    "LiveSettings",
    "MailSettings",
    "MetricsSettings",
    "PagesSettings",
    "PrivacySettings",
    "SearchSettings",
]


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
        "event loop, about half a second for half a million events: tests/bench/README.md). "
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
        "min_answers in the cohort file and MetricsSettings.min_group can only raise it). "
        "Never below 3.",
    ).tag(config=True)
    backup_review_days = Float(
        3.0,
        min=0.5,
        help="A peer review a leaving member still owed, in an open round whose packets the "
        "service keeps (opened through the service exchange), moves with the leave to a "
        "backup reviewer, who gets this many days to write it (or until the round's own due "
        "date, if that is later).",
    ).tag(config=True)
    backup_facilitators = Bool(
        True,
        help="Active facilitators are in the backup pool that takes over a leaving member's "
        "reviews, besides the round's reviewers who have finished theirs; False: only those "
        "reviewers.",
    ).tag(config=True)


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
    idle_minutes = Float(
        30.0,
        min=0.0,
        help="A kernel's live widgets stop watching when no front end has shown a sign of life "
        "(a view drawn or removed, a cell run, a click on a widget) for this long, and say so "
        "in one line: a tab or browser closed without removing its views leaves its kernel "
        "running, which would otherwise watch the service forever. They resume at the next "
        "sign of life. 0: never pause. Read by the kernel.",
    ).tag(config=True)
