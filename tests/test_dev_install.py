"""``dev.py`` installs once: the demo after the tests (or the other way round) reinstalls
nothing, and a changed pyproject.toml installs again with every extra asked for."""

from __future__ import annotations

import dev


def test_a_superset_already_installed_serves() -> None:
    stamp = "abc\npostgres,test"
    assert dev.extras_to_install(stamp, "abc", "postgres") is None
    assert dev.extras_to_install(stamp, "abc", "test,postgres") is None


def test_a_missing_extra_installs_both_sets() -> None:
    assert dev.extras_to_install("abc\npostgres,test", "abc", "postgres,hub") == "hub,postgres,test"


def test_a_new_pyproject_or_no_stamp_installs_what_is_asked() -> None:
    assert dev.extras_to_install("old\npostgres,test", "new", "postgres") == "postgres"
    assert dev.extras_to_install("", "new", "postgres,test") == "postgres,test"
    assert dev.extras_to_install("", "new", "") == ""
