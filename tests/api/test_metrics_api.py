"""GET /api/v1/metrics through a real ``nbcohort serve``."""

from __future__ import annotations

import math

import pytest
import requests

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.metrics import METRIC_IDS


def _numbers(tree):
    if isinstance(tree, dict):
        return [n for v in tree.values() for n in _numbers(v)]
    if isinstance(tree, list):
        return [n for v in tree for n in _numbers(v)]
    return [tree] if isinstance(tree, float) else []


def test_metrics_answer_every_field(service, tokens):
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ana.post("module-1/a", "hello")
    got = ana.metrics()
    assert got["view"] == "cohort" and got["window_days"] == 28
    assert [m["id"] for m in got["metrics"]] == list(METRIC_IDS)
    fields = {"id", "title", "value", "unit", "numerator", "denominator", "window", "formula",
              "summary", "withheld", "series", "detail", "breakdown"}  # fmt: skip
    assert all(set(m) == fields for m in got["metrics"])
    assert all(math.isfinite(n) for n in _numbers(got))
    assert ana.metrics(window=7)["window_days"] == 7
    sam = CohortClient(service.url, tokens["sam"], timeout=10)
    assert sam.metrics()["view"] == "leader"


@pytest.mark.parametrize("window", ["0", "367", "abc", "-1", "1e3", "8", "29"])  # whole weeks
def test_a_bad_window_is_422_naming_it(module_world, window):
    resp = requests.get(
        module_world.service.url + "/api/v1/metrics",
        params={"window": window},
        headers={"Authorization": f"token {module_world.tokens['fay']}"},
        timeout=10,
    )
    assert resp.status_code == 422 and resp.json()["field"] == "window"
