"""THE access-control table: every API route x every role x own / another member's / another
cohort's resource, with the status the service must answer. tests/api/test_access_matrix.py
generates its cases from this table and fails when the application has a route the table
does not list.

How a row reads. ``allowed``: the roles whose request passes on their own resource (or, for a
route without one, in their own cohort): they get ``ok``; the other members get ``deny``.
``other``: the roles that pass on another member's resource of the same cohort (None: the
same as ``allowed``), the rest get ``other_deny``. Always, whatever the row says: no token, a
revoked token and an unknown token get 401 (a public route excepted); another cohort's
resource is 404 for every member of this cohort whose role may do the thing at all, and this
cohort's resource is 404 for a member of another cohort ("outsider"), so an id never tells
an outsider it exists; a role that may not do the thing at all gets ``deny`` whatever the
resource (the answer is then the same for every id). The outsider otherwise gets the
learner's answer (it is a learner in its own cohort).

Adding a route: add a row (method, the pattern exactly as in its ROUTES list without the
``/api/v1`` prefix, a concrete path with ``{id}`` where the resource goes, the roles, the
body) and run the matrix; never widen ``allowed`` to make a refusal pass. A body of bytes is
sent as it is, as application/x-tar (the exchange's uploads); ``{course}`` in a path is a
cohort's slug, nbgrader's course id (see the exchange's rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.helpers.access import ANCHOR
from tests.helpers.access_exchange import TAR

PARTICIPANTS = frozenset({"learner", "reviewer", "champion", "facilitator", "instructor", "alumni"})
STAFF = frozenset({"facilitator", "instructor"})
EVERYONE = PARTICIPANTS | {"sponsor"}
CHAMPIONS = STAFF | {"champion"}
NOBODY: frozenset[str] = frozenset()
INSTRUCTOR = frozenset({"instructor"})
TAKERS = frozenset({"learner", "reviewer", "champion"})  # exchange.submit
EXCHANGE = TAKERS | STAFF  # exchange.submit or exchange.manage
# Who can own each kind of resource ("own" cases are generated for these roles only).
OWNERS = {
    "post": EVERYONE,  # a sponsor's is a reply
    "artifact": PARTICIPANTS,
    "held": EVERYONE,
    "appeal": PARTICIPANTS,
    "idea": PARTICIPANTS,
    "pilot": PARTICIPANTS,
    "member": EVERYONE,
    "allocation": frozenset({"reviewer"}),
    "review": frozenset({"reviewer"}),
    "event": NOBODY,  # the cohort's, no one's own
    "survey": NOBODY,
    "course": NOBODY,  # the cohort's exchange course: its slug, another cohort's is foreign
    "submission": TAKERS,
    "feedback": TAKERS,  # a submission with feedback released on it
}


@dataclass(frozen=True)
class Row:
    method: str
    pattern: str
    path: str
    allowed: frozenset[str]
    ok: int = 200
    deny: int = 403
    resource: str | None = None
    other: frozenset[str] | None = None
    other_deny: int | None = None
    own: frozenset[str] | None = None  # as ``other``, for the caller's own resource
    own_deny: int | None = None
    lookup_first: bool = False  # finds the resource before the role check: foreign is 404
    body: Any = None
    public: bool = False  # answers without a token: everyone gets ``ok``
    prefix: str = "/api/v1"  # "" for the pages outside the JSON API

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.prefix + self.pattern

    def expected(self, role: str, target: str) -> int:
        """The status ``role`` must get on ``target`` (own | other | foreign | none)."""
        if self.public:
            return self.ok
        if role in ("anonymous", "revoked", "unknown"):
            return 401
        who = "learner" if role == "outsider" else role  # a learner in its own cohort
        elsewhere = target == "foreign" or (role == "outsider" and target != "none")
        if elsewhere and self.lookup_first:
            return 404
        if who not in self.allowed and who not in (self.other or ()):
            return self.deny  # the role may not do this at all: the same answer everywhere
        if elsewhere:
            return 404
        if target == "other" and self.other is not None:
            return self.ok if who in self.other else (self.other_deny or self.deny)
        if target == "own" and self.own is not None:
            return self.ok if who in self.own else (self.own_deny or self.deny)
        return self.ok if who in self.allowed else self.deny


def row(
    method: str, pattern: str, allowed: frozenset[str], path: str | None = None, **kw: Any
) -> Row:
    return Row(method, pattern, path or pattern, allowed, **kw)


ID = "([0-9]{1,18})"
NAME = "([^/]{1,100})"
A = "project-1"
# fmt: off
TABLE: list[Row] = [
    # members.py
    row("GET", "/health", EVERYONE, public=True),
    row("GET", "/me", EVERYONE),
    row("GET", "/members", EVERYONE),
    # discussion.py
    row("GET", "/thread", EVERYONE, f"/thread?anchor={ANCHOR}"),
    row("POST", "/thread/read", EVERYONE, body={"anchor": ANCHOR}),
    row("POST", "/posts", PARTICIPANTS, ok=201, body={"anchor": ANCHOR, "body": "hello"}),
    row("GET", f"/posts/{ID}", EVERYONE, "/posts/{id}", resource="post"),
    row("PATCH", f"/posts/{ID}", EVERYONE, "/posts/{id}", resource="post", other=NOBODY,
        body={"body": "edited"}),
    row("DELETE", f"/posts/{ID}", EVERYONE, "/posts/{id}", resource="post", other=STAFF,
        body={"reason": "off topic"}),
    row("PUT", f"/posts/{ID}/reactions/([^/]+)", PARTICIPANTS, "/posts/{id}/reactions/helpful",
        resource="post"),
    row("DELETE", f"/posts/{ID}/reactions/([^/]+)", PARTICIPANTS,
        "/posts/{id}/reactions/helpful", resource="post"),
    row("POST", f"/posts/{ID}/flags", PARTICIPANTS, "/posts/{id}/flags", ok=201,
        resource="post", own=NOBODY, own_deny=422, body={"reason": "spam"}),
    row("POST", f"/posts/{ID}/moderation", STAFF, "/posts/{id}/moderation", resource="post",
        body={"action": "hide", "reason": "off topic"}),
    row("POST", "/preview", EVERYONE, body={"body": "**bold**"}),
    # prompts.py
    row("GET", "/prompts/([a-z0-9-]{1,64})", EVERYONE, "/prompts/day-1"),
    row("POST", "/prompts/([a-z0-9-]{1,64})/answer", PARTICIPANTS, "/prompts/day-1/answer",
        ok=201, body={"body": "my answer"}),
    row("GET", f"/practices/{NAME}", EVERYONE, "/practices/read-csv"),
    row("PUT", f"/practices/{NAME}", PARTICIPANTS, "/practices/read-csv",
        body={"note": "did it"}),
    # library.py
    row("GET", "/artifacts", EVERYONE),
    row("POST", "/artifacts", PARTICIPANTS, ok=201,
        body={"filename": "a.md", "content_b64": "IyBoaQo=", "title": "A"}),
    row("GET", f"/artifacts/{ID}", EVERYONE, "/artifacts/{id}", resource="artifact"),
    row("POST", f"/artifacts/{ID}/copies", EVERYONE, "/artifacts/{id}/copies",
        resource="artifact"),
    # notifications.py
    row("GET", "/notifications", EVERYONE),
    row("POST", "/notifications/read", EVERYONE, body={}),
    row("PUT", "/me/email", EVERYONE, body={"email_pref": "digest"}),
    # peer_review.py
    row("GET", f"/reviews/{NAME}", PARTICIPANTS, f"/reviews/{A}"),
    row("PUT", f"/reviews/{NAME}/allocations/{ID}", PARTICIPANTS,
        f"/reviews/{A}/allocations/{{id}}", resource="allocation", other=NOBODY, other_deny=404,
        body={"scores": {}}),
    row("GET", f"/reviews/{NAME}/allocations/{ID}/packet", PARTICIPANTS,
        f"/reviews/{A}/allocations/{{id}}/packet", resource="allocation", other=NOBODY,
        other_deny=404),
    row("PUT", f"/reviews/{NAME}/reviews/{ID}/helpfulness", PARTICIPANTS,
        f"/reviews/{A}/reviews/{{id}}/helpfulness", resource="review", other=NOBODY,
        other_deny=404, own=NOBODY, body={"helpfulness": 4}),  # open round: "once you can read"
    # The round is open: a participant gets past the role check to "publish after it closes".
    row("POST", f"/reviews/{NAME}/publish", PARTICIPANTS, f"/reviews/{A}/publish", ok=409,
        body={"consent": True, "title": "Mine"}),
    # charter.py
    row("GET", "/charter", EVERYONE),
    # No charter is published here: past the role check, "no charter yet" (409).
    row("POST", "/charter/ack", PARTICIPANTS, ok=409, body={"version": 1}),
    row("GET", "/onboarding", EVERYONE),
    row("PUT", "/onboarding/([a-z0-9][a-z0-9-]{0,62})/done", EVERYONE, "/onboarding/intro/done",
        ok=404),  # no onboarding steps in this cohort's file: "no onboarding step 'intro'"
    # events.py
    row("GET", "/events", EVERYONE),
    row("PUT", f"/events/{ID}/signup", PARTICIPANTS, "/events/{id}/signup", resource="event"),
    row("DELETE", f"/events/{ID}/signup", PARTICIPANTS, "/events/{id}/signup",
        resource="event"),
    row("GET", "/cadence", EVERYONE),
    row("GET", "/calendar", EVERYONE),
    row("POST", "/me/calendar/rotate", EVERYONE),  # each their own link, none other's
    row("GET", "/calendar/([0-9]{1,18})/([A-Za-z0-9_-]{20,100})\\.ics", EVERYONE,
        "/calendar/{member}/AAAAAAAAAAAAAAAAAAAAAAAA.ics", ok=404, public=True),
    # search.py, metrics.py
    row("GET", "/search", EVERYONE, "/search?q=post"),
    row("GET", "/metrics", EVERYONE),
    # live.py
    row("POST", "/watch", EVERYONE, body={"threads": {ANCHOR: 0}, "wait": 0}),
    # threads.py
    row("GET", "/threads", EVERYONE),
    row("GET", "/me/reviews", EVERYONE),
    row("GET", "/dashboard", STAFF),
    # recognition.py
    row("GET", "/badges", EVERYONE),
    row("POST", "/badges/revoke", STAFF, ok=404,  # past the role check: "has no badge"
        body={"member_id": "{member}", "badge": "first-post", "reason": "a mistake"}),
    row("GET", f"/members/{ID}/badges", EVERYONE, "/members/{id}/badges", resource="member"),
    row("PUT", "/me/recognition", EVERYONE, body={"badges_hidden": False}),
    row("GET", "/champions/suggestions", STAFF),
    row("POST", f"/members/{ID}/champion", INSTRUCTOR, "/members/{id}/champion",
        resource="member", own=NOBODY, own_deny=422, lookup_first=True),
    row("PUT", f"/posts/{ID}/pin", CHAMPIONS, "/posts/{id}/pin", resource="post"),
    row("DELETE", f"/posts/{ID}/pin", CHAMPIONS, "/posts/{id}/pin", resource="post"),
    row("GET", "/pins", EVERYONE, f"/pins?anchor={ANCHOR}"),
    # No seeded post is its author's first: past the role check, 422 (yourself / not first).
    row("POST", f"/posts/{ID}/welcome", CHAMPIONS, "/posts/{id}/welcome", ok=422,
        resource="post"),
    row("POST", "/routines/host", CHAMPIONS, ok=404,  # no rhythm here: "no routine ..."
        body={"key": "weekly-show-and-tell"}),
    # No spotlight is drafted here: past the role check, "no spotlight for the week" (404).
    row("GET", "/spotlight", EVERYONE, "/spotlight?week=2026-11-30", ok=404),
    row("PUT", "/spotlight", STAFF, ok=404, body={"week": "2026-11-30", "member_ids": []}),
    # privacy.py
    row("GET", "/me/export", EVERYONE),
    row("POST", "/me/leave", EVERYONE, body={"confirm": "leave"}),
    # pulse.py
    row("GET", "/pulse", EVERYONE),
    row("GET", "/pulse/results", EVERYONE),
    row("POST", f"/pulse/{ID}/answers", PARTICIPANTS, "/pulse/{id}/answers", ok=201,
        resource="survey", body={"scores": [4, 4, 4]}),
    # moderation.py
    row("GET", "/moderation", CHAMPIONS),
    row("GET", "/moderation/mine", EVERYONE),
    row("POST", f"/moderation/held/{ID}/approve", CHAMPIONS, "/moderation/held/{id}/approve",
        resource="held", own=NOBODY),
    row("POST", f"/moderation/held/{ID}/reject", CHAMPIONS, "/moderation/held/{id}/reject",
        resource="held", own=NOBODY, body={"reason": "off topic"}),
    # The caller's own held post, not rejected: past the role check, "nothing to appeal".
    row("POST", "/appeals", PARTICIPANTS, ok=422, body={"held_id": "{held}", "text": "why?"}),
    row("POST", f"/appeals/{ID}/decision", STAFF, "/appeals/{id}/decision", resource="appeal",
        own=NOBODY, body={"decision": "deny", "reason": "it stays"}),
    # community.py. Neither cohort here has graduated: every member is refused alike (403,
    # "has not graduated"); graduated cohorts: community_cases() at the end of this file.
    row("GET", "/community", EVERYONE, ok=403),
    row("GET", "/community/topics", EVERYONE, ok=403),
    row("POST", "/community/topics", EVERYONE, ok=403,
        body={"name": "tools", "title": "Tools", "body": "Which?"}),
    row("GET", f"/community/topics/{NAME}", EVERYONE, "/community/topics/tools", ok=403),
    row("POST", f"/community/topics/{NAME}/posts", EVERYONE, "/community/topics/tools/posts",
        ok=403, body={"body": "pandas"}),
    row("GET", "/community/threads", EVERYONE, "/community/threads?cohort=acl-b", ok=403),
    row("POST", "/cohort/graduate", INSTRUCTOR, ok=422,  # "has no community to graduate into"
        body={"dry_run": True}),
    # ideas.py
    row("PUT", f"/posts/{ID}/idea", PARTICIPANTS, "/posts/{id}/idea", resource="post",
        other=CHAMPIONS),
    row("GET", "/ideas", EVERYONE),
    row("PUT", f"/ideas/{ID}/endorsement", PARTICIPANTS, "/ideas/{id}/endorsement",
        resource="idea", own=NOBODY, own_deny=422),
    row("POST", f"/ideas/{ID}/decline", STAFF, "/ideas/{id}/decline", resource="idea",
        body={"reason": "not now"}),
    row("POST", f"/ideas/{ID}/pilot", STAFF, "/ideas/{id}/pilot", ok=201, resource="idea",
        body={"owner_id": "{member}", "goal": "g", "measure": "m",
              "review_on": "2027-06-01"}),
    row("GET", "/pilots", EVERYONE),
    row("GET", f"/pilots/{ID}", EVERYONE, "/pilots/{id}", resource="pilot"),
    row("POST", f"/pilots/{ID}/updates", PARTICIPANTS, "/pilots/{id}/updates", ok=201,
        resource="pilot", other=STAFF, body={"note": "going well"}),
    # nudges.py
    row("GET", "/nudges", STAFF | {"sponsor"}),
    # unsubscribe.py: HTML pages from an email link; the signed link is the credential
    row("GET", "/mail/unsubscribe", EVERYONE, "/mail/unsubscribe?t=not-a-signed-link", ok=404,
        public=True, prefix=""),
    row("POST", "/mail/unsubscribe", EVERYONE, "/mail/unsubscribe?t=not-a-signed-link", ok=404,
        public=True, prefix=""),
    # exchange.py. "{course}": the cohort's slug (nbgrader's course id); for resource
    # "course" another cohort's slug is the foreign case, otherwise it is the caller's own
    # cohort's slug (an outsider names its own course and this cohort's id). The course is
    # checked before the role (any slug but one's own is "no course", whatever the role):
    # lookup_first. "ps1" is released in both cohorts; uploads are a tar body.
    row("GET", f"/exchange/{NAME}/releases", EXCHANGE, "/exchange/{course}/releases",
        resource="course", lookup_first=True),
    row("GET", f"/exchange/{NAME}/releases/{NAME}", EXCHANGE,
        "/exchange/{course}/releases/ps1", resource="course", lookup_first=True),
    row("PUT", f"/exchange/{NAME}/releases/{NAME}", STAFF,
        "/exchange/{course}/releases/ps1?force=true", ok=201, resource="course",
        lookup_first=True, body=TAR),
    row("POST", f"/exchange/{NAME}/assignments/{NAME}/submissions", TAKERS,
        "/exchange/{course}/assignments/ps1/submissions", ok=201, resource="course",
        lookup_first=True, body=TAR),
    row("GET", f"/exchange/{NAME}/submissions", EXCHANGE, "/exchange/{course}/submissions",
        resource="course", lookup_first=True),
    row("GET", f"/exchange/{NAME}/submissions/{ID}", EXCHANGE,
        "/exchange/{course}/submissions/{id}", resource="submission", other=STAFF,
        other_deny=404),
    row("GET", f"/exchange/{NAME}/submissions/{ID}/feedback", EXCHANGE,
        "/exchange/{course}/submissions/{id}/feedback", resource="feedback", other=STAFF,
        other_deny=404),
    row("PUT", f"/exchange/{NAME}/submissions/{ID}/feedback", STAFF,
        "/exchange/{course}/submissions/{id}/feedback", ok=201, resource="submission",
        body=TAR),
    # A review round's anonymized packet, uploaded by staff at open; "{unique}": a packet
    # name of each case's own (a second upload of one packet is 409).
    row("PUT", f"/exchange/{NAME}/assignments/{NAME}/packets/([^/]{{1,160}})", STAFF,
        "/exchange/{course}/assignments/ps1/packets/{unique}", ok=201, resource="course",
        lookup_first=True, body=TAR),
    # A failed open withdraws its packets; one no round uses (here: none such) is 204.
    row("DELETE", f"/exchange/{NAME}/assignments/{NAME}/packets/([^/]{{1,160}})", STAFF,
        "/exchange/{course}/assignments/ps1/packets/{unique}", ok=204, resource="course",
        lookup_first=True),
    # community_shared.py: not graduated here, refused alike (see community_cases())
    row("GET", "/community/artifacts", EVERYONE, ok=403),
    row("GET", "/community/events", EVERYONE, ok=403),
    row("GET", "/community/members", EVERYONE, ok=403),
    row("POST", f"/community/artifacts/{ID}/copies", EVERYONE, "/community/artifacts/1/copies",
        ok=403),
    row("PUT", "/me/directory", EVERYONE, body={"directory_opt_in": True}),
    # exchange.py: a learner removes their own submission from their list (nbgrader list --cached
    # --remove); another's is not found, staff remove none this way.
    row("DELETE", f"/exchange/{NAME}/submissions/{ID}", TAKERS,
        "/exchange/{course}/submissions/{id}", resource="submission", other=NOBODY,
        other_deny=404),
    row("PUT", "/me/directory/skills", EVERYONE, body={"skills": ["pandas"]}),
    # exchange.py: staff take a release back (nbgrader list --remove). Asked of a name never
    # released, so the matrix's "ps1" stays: staff get past the rules to "not released"
    # (404), others are refused before; taking back for real is in test_exchange_parity.py.
    row("DELETE", f"/exchange/{NAME}/releases/{NAME}", STAFF,
        "/exchange/{course}/releases/never-released", ok=404, resource="course",
        lookup_first=True),
]
# fmt: on


@dataclass(frozen=True)
class Smuggled:
    """Another cohort's id where a body or query names a resource (not the path): the
    request must be refused (``status``), or answer without anything of that resource.
    ``{kind}`` in the path or a body value is replaced by a new ``kind`` of cohort B;
    ``{own_allocation}`` by the reviewer's own allocation."""

    role: str
    method: str
    path: str
    body: Any
    status: int
    absent: str = ""  # a key of the answer that must not hold the smuggled id


# fmt: off
SMUGGLED: list[Smuggled] = [
    Smuggled("learner", "POST", "/posts", {"anchor": ANCHOR, "body": "hi", "parent_id": "{post}"},
             404),
    Smuggled("sponsor", "POST", "/posts", {"anchor": ANCHOR, "body": "hi", "parent_id": "{post}"},
             404),
    Smuggled("learner", "POST", "/appeals", {"post_id": "{post}", "text": "why?"}, 404),
    Smuggled("learner", "POST", "/appeals", {"held_id": "{held}", "text": "why?"}, 404),
    Smuggled("instructor", "POST", "/badges/revoke",
             {"member_id": "{member}", "badge": "first-post", "reason": "x"}, 404),
    Smuggled("learner", "GET", "/badges?members={member}", None, 200, absent="badges"),
    Smuggled("learner", "POST", "/notifications/read", {"ids": ["{notification}"]}, 200,
             absent="marked"),
    Smuggled("learner", "GET", f"/thread?anchor={ANCHOR}&before={{post}}", None, 200,
             absent="posts"),
    Smuggled("instructor", "PUT", "/spotlight",
             {"week": "2026-11-30", "member_ids": ["{member}"]}, 404),
    # the reviewer's own allocation under another assignment's name is not theirs there
    Smuggled("reviewer", "PUT", "/reviews/project-9/allocations/{own_allocation}",
             {"scores": {}}, 404),
    Smuggled("reviewer", "GET", "/reviews/project-9/allocations/{own_allocation}/packet", None,
             404),
]
# fmt: on


# The community of practice, where "another cohort" is part of the design: three cohorts
# with cohort files, "g1" graduated into community "cop", "g2" in "cop" but not graduated,
# "g3" graduated into another community. (who, method, path, body, status); ``who`` is
# "<name>-<cohort>" of tests/helpers/graduation.py (ana, ben learners -> alumni on
# graduation; chi champion; fay facilitator; ivo instructor; sam sponsor); "{new}" is a new
# topic name. The g1 topic "cop-topic" exists.
COMMUNITY_PEOPLE = ("ana", "chi", "fay", "ivo", "sam")


def community_cases() -> list[tuple[str, str, str, Any, int]]:
    cases: list[tuple[str, str, str, Any, int]] = []
    topic = {"name": "{new}", "title": "A topic", "body": "Which tools?"}
    for name in COMMUNITY_PEOPLE:
        writes = 403 if name == "sam" else 201  # sponsors read the community, never post
        for slug, read, write, g1_thread, g3_thread in (
            ("g1", 200, writes, 200, 404),  # graduated into cop
            ("g2", 403, 403, 403, 403),  # in cop, not graduated
            ("g3", 200, writes, 404, 200),  # graduated into another community
        ):
            who = f"{name}-{slug}"
            g1_topic = 200 if slug == "g1" else (404 if slug == "g3" else 403)
            g1_post = writes if slug == "g1" else (403 if name == "sam" or slug == "g2" else 404)
            cases += [
                (who, "GET", "/community", None, read),
                (who, "GET", "/community/topics", None, read),
                (who, "POST", "/community/topics", topic, write),
                (who, "GET", "/community/topics/cop-topic", None, g1_topic),
                (who, "POST", "/community/topics/cop-topic/posts", {"body": "pandas"}, g1_post),
                (who, "GET", "/community/threads?cohort=g1", None, g1_thread),
                (who, "GET", "/community/threads?cohort=g3", None, g3_thread),
                (who, "GET", "/community/artifacts", None, read),
                (who, "GET", "/community/events", None, read),
                (who, "GET", "/community/members?q=a&page=2", None, read),
            ]
    return cases
