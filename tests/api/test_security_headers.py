"""What every answer of ``nbcohort serve`` carries and what no request gets around: tokens only
in the Authorization header (a token in the URL is refused on every route), signed links that
work for their one member and purpose only, security headers on every answer (a CSP on each
HTML page), and downloads offered as attachments."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from nbcohort.cohorts.api.routes import PAGES, ROUTES
from nbcohort.cohorts.config import MailSettings
from nbcohort.cohorts.mail import Mailer
from nbcohort.cohorts.signing import load_key, member_token, sign

pytestmark = pytest.mark.slow

METHODS = ("get", "post", "put", "patch", "delete")
# Answers without an API token: what names the caller is a signature in the path or query.
PUBLIC = {"HealthHandler", "CalendarFeedHandler", "UnsubscribeHandler"}


def _path(pattern: str) -> str:
    """A concrete path for a route pattern: ids become 1, names become 'x'."""
    path = re.sub(r"\(\[0-9\]\{1,18\}\)", "1", pattern)
    path = re.sub(r"\([^)]*\)", lambda m: "A" * 43 if "A-Z" in m.group() else "x", path)
    return path.replace("\\", "")


def _routes() -> list[tuple[str, str, str]]:
    out = []
    for pattern, handler in [*ROUTES, *PAGES]:
        for method in METHODS:
            ours = [k for k in handler.__mro__ if k.__module__.startswith("nbcohort")]
            if any(method in k.__dict__ for k in ours):
                out.append((handler.__name__, method.upper(), _path(pattern)))
    return out


ROUTE_CALLS = _routes()


def secure(resp: requests.Response, *, page: bool = False) -> None:
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", resp.url
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, (resp.url, csp)
    assert "script-src" not in csp and "'unsafe-eval'" not in csp
    assert "Server" not in resp.headers
    if page:
        assert resp.headers["Content-Type"].startswith("text/html")


def test_the_route_walk_covers_every_route():
    assert len({p for _, _, p in ROUTE_CALLS}) == len(ROUTES) + len(PAGES)
    assert len(ROUTE_CALLS) > 80


def test_a_token_in_the_url_is_refused_on_every_route(service, tokens):
    """?token= and ?access_token= (JupyterHub's) carry a valid token: every non-public route
    answers 401 all the same, with nothing done, and every answer has the headers."""
    token, session = tokens["ivo"], requests.Session()
    wrong = []
    for name, method, path in ROUTE_CALLS:
        for key in ("token", "access_token"):
            resp = session.request(method, f"{service.url}{path}?{key}={token}", timeout=10)
            secure(resp, page=name == "UnsubscribeHandler")
            expected = {200, 404} if name in PUBLIC else {401}
            if resp.status_code not in expected:
                wrong.append((method, path, key, resp.status_code))
            elif name not in PUBLIC:
                assert "token" in resp.json()["message"]
    assert wrong == []
    # The same token in its header is accepted: the 401s above were for where it was.
    me = session.get(f"{service.url}/api/v1/me", headers={"Authorization": f"token {token}"})
    assert me.status_code == 200
    secure(me)
    session.close()


def test_signed_links_work_for_their_member_and_purpose_only(service, people, tmp_path):
    """A calendar signature never unsubscribes, an unsubscribe token never opens a calendar,
    and neither opens another member's."""
    key = load_key(Path(service.args[-1].split("=", 1)[1]) / "signing.key")
    mailer = Mailer(MailSettings(), str(tmp_path / "data"), public_url=service.url)
    ana, ben = people["ana"].id, people["ben"].id
    calendar = f"{service.url}/api/v1/calendar/{ana}/{sign(key, 'calendar', ana)}.ics"
    feed = requests.get(calendar, timeout=10)
    assert feed.status_code == 200
    secure(feed)
    assert feed.headers["Content-Disposition"] == 'attachment; filename="cohort.ics"'
    unsubscribe = mailer.unsubscribe_url(ana)
    page = requests.get(unsubscribe, timeout=10)
    assert page.status_code == 200
    secure(page, page=True)
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    as_calendar = unsubscribe.split("?t=")[1].split(".", 1)[1]  # its signature, in a feed link
    wrong = [
        f"{service.url}/api/v1/calendar/{ana}/{as_calendar}.ics",
        f"{service.url}/api/v1/calendar/{ben}/{sign(key, 'calendar', ana)}.ics",
    ]
    for url in wrong:
        assert requests.get(url, timeout=10).status_code == 404, url
    for token in (member_token(key, "calendar", ana), f"{ben}.{sign(key, 'calendar', ana)}"):
        url = f"{service.url}/mail/unsubscribe?t={token}"
        assert requests.post(url, timeout=10).status_code == 404, url
    for odd in ("%C2%B2.x", "0" + unsubscribe.split("?t=")[1]):  # "²" was a 500
        for method in ("GET", "POST"):
            url = f"{service.url}/mail/unsubscribe?t={odd}"
            assert requests.request(method, url, timeout=10).status_code == 404, url
    secure(requests.get(wrong[0], timeout=10))
