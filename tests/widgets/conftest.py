"""The widget tests' kernel identity: the member token a learner's environment carries."""

from __future__ import annotations

import pytest

from nbcohort.widgets import _connection


@pytest.fixture
def as_member(monkeypatch, service, tokens):
    """Switch the kernel's identity, as the token in a learner's environment does."""

    def use(username):
        _connection.reset()
        monkeypatch.setenv("NBCOHORT_URL", service.url)
        monkeypatch.setenv("NBCOHORT_TOKEN", tokens[username])

    yield use
    _connection.reset()
