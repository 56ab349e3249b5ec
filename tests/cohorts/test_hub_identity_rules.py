"""Hub identity without a hub: who a hub user is on the roster, which roles a hub group must
confirm, the settings refused at start-up, the cache, and how a kernel's client finds its
token. The hub itself is in tests/api/test_hub_identity.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
from traitlets import TraitError
from traitlets.config import Config

from nbcohort.cohorts.api.ttl_cache import TtlCache
from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.config import HubSettings, ServiceSettings
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.hub_identity import (
    NotOnRoster,
    RoleNotConfirmed,
    SeveralCohorts,
    hub_actor,
    roster_member,
)
from nbcohort.cohorts.services.members import add_member
from tests.helpers.community import SYSTEM
from tests.helpers.processes import isolated_env


def test_a_hub_user_is_the_active_member_with_that_username(store, people):
    with store.read() as s:
        assert roster_member(s, "ana").id == people["ana"].id
        with pytest.raises(NotOnRoster, match="hub user 'zed' is not on the roster"):
            roster_member(s, "zed")
        with pytest.raises(NotOnRoster):
            roster_member(s, "ANA")  # the hub's usernames are matched exactly
    with store.write() as s:
        s.merge(people["ben"]).active = False
    with store.read() as s, pytest.raises(NotOnRoster, match="no longer an active member"):
        roster_member(s, "ben")


def test_a_hub_user_on_two_cohorts_rosters_names_one_or_is_refused_naming_both(store, people):
    with store.write() as s:
        other = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        autumn_ana = add_member(
            s, SYSTEM, other, name="Ana S", email="ana@example.org", username="ana"
        ).id
    with store.read() as s:
        with pytest.raises(SeveralCohorts, match=r"several cohorts \(spring-26, autumn-26\)") as e:
            roster_member(s, "ana")
        assert e.value.status == 409 and "X-Nbcohort-Cohort" in e.value.message
        assert roster_member(s, "ana", "autumn-26").id == autumn_ana
        assert roster_member(s, "ana", "spring-26").id == people["ana"].id
        with pytest.raises(NotOnRoster, match="not an active member of cohort 'winter-27'"):
            roster_member(s, "ana", "winter-27")
        # One roster: naming another cohort is refused, never answered for the one they are on.
        with pytest.raises(NotOnRoster, match="'ben' is not an active member of cohort 'autumn"):
            roster_member(s, "ben", "autumn-26")
        assert roster_member(s, "ben", "spring-26").id == people["ben"].id
    with store.write() as s:
        s.merge(people["ana"]).active = False
    with store.read() as s:  # left one of the two: the other is theirs without naming it
        assert roster_member(s, "ana").id == autumn_ana
        with pytest.raises(NotOnRoster, match="cohort 'spring-26'"):
            roster_member(s, "ana", "spring-26")


def test_a_role_a_group_is_named_for_needs_that_group_and_a_group_never_grants(store, people):
    with store.read() as s:
        ivo, ana = roster_member(s, "ivo"), roster_member(s, "ana")
    groups = HubSettings(config=Config()).groups_for
    with pytest.raises(
        RoleNotConfirmed,
        match="'ivo' an instructor, which also needs hub group nbcohort-instructors",
    ):
        hub_actor(ivo, ["nbcohort-facilitators"], groups("instructor"))
    assert hub_actor(ivo, ["nbcohort-instructors"], groups("instructor")).role == "instructor"
    # Ana is a learner on the roster; the instructors' group does not make her one.
    assert hub_actor(ana, ["nbcohort-instructors"], groups("learner")).role == "learner"


def test_role_groups_naming_a_role_that_does_not_exist_is_refused_with_the_setting():
    cfg = Config()
    cfg.HubSettings.role_groups = {"nbcohort-wizards": "wizard"}
    with pytest.raises(
        TraitError,
        match=r"c\.HubSettings\.role_groups: hub group 'nbcohort-wizards' names role 'wizard'",
    ):
        HubSettings(config=cfg)
    cfg.HubSettings.role_groups = {"nbcohort-alumni": "alumni", "staff": "instructor"}
    settings = HubSettings(config=cfg)
    assert settings.groups_for("alumni") == {"nbcohort-alumni"}
    assert settings.groups_for("learner") == frozenset()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lines", "says"),
    [
        (
            'c.HubSettings.api_url = "http://127.0.0.1:9/hub/api"\n'
            'c.HubSettings.role_groups = {"nbcohort-wizards": "wizard"}\n',
            "c.HubSettings.role_groups: hub group 'nbcohort-wizards' names role 'wizard'",
        ),
        ("", "c.ServiceSettings.auth = 'hub' needs the hub's API"),
    ],
)
def test_serve_refuses_to_start_with_bad_hub_settings(tmp_path, lines, says):
    env = isolated_env(tmp_path)
    (tmp_path / "jupyter-config" / "jupyter_config.py").write_text(
        'c.ServiceSettings.auth = "hub"\n' + lines
    )
    done = subprocess.run(
        [sys.executable, "-m", "nbcohort.cohorts.cli", "serve", f"--data-dir={tmp_path / 'data'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert says in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_no_token_is_minted_for_a_service_that_would_refuse_it(tmp_path):
    env = isolated_env(tmp_path)
    (tmp_path / "jupyter-config" / "jupyter_config.py").write_text(
        'c.ServiceSettings.auth = "hub"\n'
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbcohort.cohorts.cli",
            "token",
            "ana",
            f"--data-dir={tmp_path / 'data'}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "c.ServiceSettings.auth is 'hub'" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before any store was opened


def test_the_cache_keeps_each_answer_for_its_seconds_only():
    now = [100.0]
    cache: TtlCache[str] = TtlCache(2.0, max_entries=3, clock=lambda: now[0])
    cache.put("a", "ana")
    now[0] += 1.9
    assert cache.get("a") == "ana"
    now[0] += 0.2
    assert cache.get("a") is None
    for key in "bcd":
        cache.put(key, key)
    assert len(cache) == 3
    cache.put("e", "e")  # past max_entries the cache starts again instead of growing
    assert len(cache) == 1 and cache.get("e") == "e"
    assert cache.drop_where(lambda v: v == "e") == 1 and cache.get("e") is None
    off: TtlCache[str] = TtlCache(0)
    off.put("a", "ana")
    assert off.get("a") is None


def test_a_kernel_under_a_hub_sends_its_users_own_hub_token(monkeypatch):
    for name in (
        "NBCOHORT_TOKEN",
        "NBCOHORT_URL",
        "JUPYTERHUB_API_URL",
        "JUPYTERHUB_SERVICE_PREFIX",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-of-ana")
    assert CohortClient("http://x", config=Config()).token == ""  # no hub in sight: not sent
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ana/")
    assert CohortClient("http://x", config=Config()).token == "hub-token-of-ana"
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_local")  # a token placed on purpose wins
    assert CohortClient("http://x", config=Config()).token == "nbc_local"


def test_in_hub_mode_the_client_finds_the_service_under_its_prefix(monkeypatch):
    for name in ("NBCOHORT_TOKEN", "NBCOHORT_URL", "JUPYTERHUB_SERVICE_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-of-ana")
    cfg = Config()
    cfg.ServiceSettings.auth = "hub"
    cfg.ServiceSettings.port = 8765
    client = CohortClient(config=cfg)
    assert client.url == "http://127.0.0.1:8765/services/nbcohort"
    assert client.token == "hub-token-of-ana"


def test_links_point_under_the_prefix_when_no_public_url_is_set(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    cfg = Config()
    cfg.ServiceSettings.auth = "hub"
    settings = ServiceSettings(config=cfg)
    assert settings.public_base() == "http://127.0.0.1:8765/services/nbcohort"
    assert settings.public_base("https://hub.example.org/services/nbcohort/") == (
        "https://hub.example.org/services/nbcohort"
    )
    assert ServiceSettings(config=Config()).public_base() == "http://127.0.0.1:8765"
