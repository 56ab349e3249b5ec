"""``nbcohort demo``: the demo cohort on the embedded default, served and ready to try."""

from __future__ import annotations

import asyncio
import json

from traitlets import Bool

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand
from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.config import CommunitySettings, ServiceSettings
from nbcohort.cohorts.demo import DEMO_SLUG, seed_demo
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.service.app import BackgroundService, make_app, serve
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohorts import get_cohort
from nbcohort.cohorts.services.errors import NotFound
from nbcohort.cohorts.store import Store

__all__ = ["DemoCommand"]


class DemoCommand(NbCohortCommand):
    name = "demo"
    description = (
        "Create the demo cohort (first run only), start the community service and print what "
        "it serves. With --check: set up, verify through the service, stop."
    )
    check = Bool(False, help="Verify the demo end to end and exit.").tag(config=True)
    flags = {"check": ({"DemoCommand": {"check": True}}, "Verify the demo end to end and exit.")}

    def _prepare(self, store: Store) -> tuple[str, str, str]:
        """Seed the cohort if needed; return (cohort slug, learner token, instructor token)."""
        with store.write() as s:
            try:
                cohort: Cohort = get_cohort(s, DEMO_SLUG)
            except NotFound:
                cohort = seed_demo(s).cohort
                print(f"seeded the demo cohort {cohort.slug!r}: {cohort.title}")
            members = {m.role: m for m in s.query(Member).filter_by(cohort_id=cohort.id)}
            system = Actor.system()
            learner = mint_token(s, system, members["learner"], "demo")
            instructor = mint_token(s, system, members["instructor"], "demo")
            return cohort.slug, learner, instructor

    def run(self) -> None:
        store = self.open_store(upgrade=True)
        settings = ServiceSettings(parent=self)
        try:
            slug, learner, instructor = self._prepare(store)
            app = make_app(store, settings, CommunitySettings(parent=self))
            url = f"http://{settings.ip}:{settings.port}"
            if self.check:
                self._check(app, settings, learner)
                return
            print(f"\ncommunity service : {url}/api/v1/health")
            print(f"cohort            : {slug}")
            print(f"learner token     : {learner}")
            print(f"instructor token  : {instructor}")
            print(f"try               : curl -H 'Authorization: token {learner}' "
                  f"'{url}/api/v1/thread?anchor=module-1/loading-data'")  # fmt: skip
            print("stop with Ctrl-C", flush=True)
            try:
                asyncio.run(serve(app, settings))
            except OSError as exc:
                raise CommandError(f"cannot listen on {url}: {exc} (set NBCOHORT_PORT)") from None
        finally:
            store.close()

    def _check(self, app: object, settings: ServiceSettings, token: str) -> None:
        try:
            service = BackgroundService(app, settings).start()  # type: ignore[arg-type]
        except OSError as exc:
            raise CommandError(f"cannot listen on port {settings.port}: {exc}") from None
        client = CohortClient(service.url, token, timeout=10)
        try:
            me = client.me()
            page = client.thread("module-1/loading-data")
            if not page["posts"]:
                raise CommandError("demo check: the seeded thread is empty")
            post = client.post("module-1/loading-data", "Checking in from the demo check.",
                               parent_id=page["posts"][0]["id"])  # fmt: skip
            again = client.get_post(post["id"])
            if again["html"] != "<p>Checking in from the demo check.</p>\n":
                raise CommandError(f"demo check: unexpected post {json.dumps(again)}")
            client.delete(post["id"])
        finally:
            client.close()
            service.stop()
        print(f"demo check passed: {me['member']['name']} ({me['member']['role']}) read "
              f"{page['total']} posts and posted a reply through {service.url}")  # fmt: skip
