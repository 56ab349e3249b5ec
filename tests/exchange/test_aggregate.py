"""Aggregation of peer-review scores: the baselines exactly, the model's behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbcohort.exchange.aggregate import (
    Observations,
    Scale,
    explain,
    fit_model,
    mean,
    median,
    ora2,
)

LEVELS_0_3 = [Scale.from_levels([0, 1, 2, 3])] * 3
WIDE = [Scale(-10.0, 10.0)] * 3  # nothing reaches the bounds: no clipping in the way


def obs_of(rows: list[tuple[int, int, list[float]]], n_reviewers: int, n_submissions: int):
    """Observations from (reviewer, submission, scores) rows."""
    return Observations(
        np.array([r for r, _, _ in rows]),
        np.array([s for _, s, _ in rows]),
        np.array([x for _, _, x in rows], dtype=float),
        n_reviewers,
        n_submissions,
    )


def synthetic(seed: int, n: int = 60, k: int = 3, *, bias_sd=0.5, bias_mean=0.0, noise=0.3):
    """n authors each reviewing k others (cyclic on a random order): continuous scores with
    known true scores and biases, no rounding."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.5, 2.5, (n, 3))
    b = bias_mean + rng.normal(0, bias_sd, n)
    perm = rng.permutation(n)
    sub = np.repeat(perm, k)
    rev = perm[(np.repeat(np.arange(n), k) + np.tile(np.arange(1, k + 1), n)) % n]
    y = z[sub] + b[rev, None] + rng.normal(0, noise, (sub.size, 3))
    return Observations(rev, sub, y, n, n), z, b


# -- baselines ----------------------------------------------------------------------------------
def test_median_mean_ora2_exact():
    # criterion 1: sub0 {3,1,3,2} even, sub1 {3,2} even, sub2 {2}, sub3 none, sub4 {0,2,1} odd
    # criterion 2: sub0 {2,2,1,3} even with equal middles
    obs = obs_of(
        [
            (0, 0, [3, 2]),
            (1, 0, [1, 2]),
            (2, 0, [3, 1]),
            (3, 0, [2, 3]),
            (0, 1, [3, 0]),
            (1, 1, [2, 0]),
            (2, 2, [2, 2]),
            (0, 4, [0, 3]),
            (1, 4, [2, 3]),
            (2, 4, [1, 0]),
        ],
        4,
        5,
    )
    med, avg, edx = median(obs), mean(obs), ora2(obs)
    assert med[:, 0][[0, 1, 2, 4]].tolist() == [2.5, 2.5, 2.0, 1.0]
    assert edx[:, 0][[0, 1, 2, 4]].tolist() == [3.0, 3.0, 2.0, 1.0]  # 2.5 rounds UP, not to even
    assert avg[:, 0][[0, 1, 2, 4]].tolist() == [2.25, 2.5, 2.0, 1.0]
    assert med[0, 1] == edx[0, 1] == 2.0
    assert med[1, 1] == edx[1, 1] == 0.0
    for out in (med, avg, edx):
        assert np.isnan(out[3]).all()
        assert not np.isnan(out[[0, 1, 2, 4]]).any()


def test_ora2_rounds_every_even_half_up():
    obs = obs_of([(0, 0, [0, 1, 0]), (1, 0, [1, 2, 3])], 2, 1)
    assert ora2(obs).tolist() == [[1.0, 2.0, 2.0]]
    assert median(obs).tolist() == [[0.5, 1.5, 1.5]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scores": np.zeros((2, 3))}, "one score row"),
        ({"reviewer": np.array([0, 5, 1])}, "reviewer index"),
        ({"submission": np.array([-1, 0, 1])}, "submission index"),
        ({"scores": np.array([[1.0], [np.nan], [2.0]])}, "finite"),
    ],
)
def test_observations_reject_inconsistent_input(kwargs, message):
    args = {
        "reviewer": np.array([0, 1, 1]),
        "submission": np.array([0, 0, 1]),
        "scores": np.ones((3, 1)),
        "n_reviewers": 2,
        "n_submissions": 2,
    }
    with pytest.raises(ValueError, match=message):
        Observations(**(args | kwargs))


# -- the model ----------------------------------------------------------------------------------
def test_model_recovers_known_biases_and_beats_the_baselines():
    obs, z, b = synthetic(1, n=200)
    fit = fit_model(obs, WIDE)
    assert fit.converged
    assert np.corrcoef(fit.bias, b)[0, 1] > 0.9
    assert np.sqrt(np.mean((fit.bias - b) ** 2)) < 0.2
    err = {
        name: np.sqrt(np.mean((est.sum(axis=1) - z.sum(axis=1)) ** 2))
        for name, est in (("model", fit.scores), ("mean", mean(obs)), ("median", median(obs)))
    }
    assert err["model"] < 0.7 * err["mean"] < 0.7 * err["median"]


def test_alike_reviewers_get_no_bias_and_equal_weight():
    obs, z, _ = synthetic(2, n=200, bias_sd=0.0)
    fit = fit_model(obs, WIDE)
    assert fit.bias_spread < 0.1
    assert np.abs(fit.bias).max() < 0.1
    assert 0.25 < fit.weights.min() <= fit.weights.max() < 0.42  # 3 reviews: about a third
    rmse = lambda est: np.sqrt(np.mean((est.sum(axis=1) - z.sum(axis=1)) ** 2))  # noqa: E731
    assert rmse(fit.scores) <= rmse(mean(obs)) * 1.01


def test_unreliable_reviewer_is_weighed_down():
    obs, _, _ = synthetic(3, n=120, bias_sd=0.2)
    rng = np.random.default_rng(0)
    careless = obs.reviewer == 7
    scores = obs.scores.copy()
    scores[careless] = rng.uniform(0, 3, (int(careless.sum()), 3))
    fit = fit_model(Observations(obs.reviewer, obs.submission, scores, 120, 120), WIDE)
    others = np.delete(fit.reliability, 7)
    assert fit.reliability[7] < 0.5 * np.median(others)
    assert fit.weights[careless].max() < 0.25


@pytest.mark.parametrize(
    ("rows", "n_reviewers", "n_submissions"),
    [
        ([(0, 0, [1, 2, 3])], 1, 1),  # a single review
        ([(r, s, [2, 2, 2]) for r in range(3) for s in range(2)], 3, 2),  # all identical
        ([(r, r, [0, 0, 0]) for r in range(3)], 3, 3),  # identical, one review each
        ([(0, 0, [1, 2, 3]), (1, 0, [2, 2, 3]), (0, 1, [0, 1, 1])], 2, 3),  # unreviewed sub 2
        ([(0, s, [s, 1, 2]) for s in range(3)], 1, 3),  # R = 1
        ([(r, 0, [r, 1, 3 - r]) for r in range(3)], 3, 1),  # S = 1
        ([(0, 0, [3, 3, 3]), (1, 1, [0, 0, 0]), (2, 1, [3, 3, 3])], 4, 2),  # idle reviewer 3
        ([], 2, 2),  # no reviews at all
    ],
)
def test_degenerate_rounds_give_finite_estimates(rows, n_reviewers, n_submissions):
    obs = (
        obs_of(rows, n_reviewers, n_submissions)
        if rows
        else Observations([], [], np.zeros((0, 3)), n_reviewers, n_submissions)
    )
    fit = fit_model(obs, LEVELS_0_3)
    reviewed = np.bincount(obs.submission, minlength=n_submissions) > 0
    assert np.isfinite(fit.scores[reviewed]).all()
    assert np.isnan(fit.scores[~reviewed]).all()
    for values in (fit.bias, fit.reliability, fit.weights, fit.prior_mean):
        assert np.isfinite(values).all()
    assert (fit.reliability > 0).all()
    if rows:
        shares = np.bincount(obs.submission, fit.weights, minlength=n_submissions)
        assert np.allclose(shares[reviewed], 1.0)


def test_identical_scores_are_kept():
    obs = obs_of([(r, s, [2, 1, 3]) for r in range(3) for s in range(4)], 3, 4)
    fit = fit_model(obs, LEVELS_0_3)
    assert np.allclose(fit.scores, [[2, 1, 3]] * 4, atol=1e-6)
    assert np.allclose(fit.bias, 0, atol=1e-6)


def test_calibration_pins_its_submissions_and_anchors_the_biases():
    # the whole cohort is lenient by 0.5: without calibration that cannot be told from the data
    obs, z, b = synthetic(4, n=90, bias_mean=0.5, bias_sd=0.3)
    n = obs.n_submissions
    cal_true = np.array([[1.0, 2.0, 0.5], [2.5, 1.5, 2.0], [0.5, 0.5, 1.0]])
    rng = np.random.default_rng(9)
    cal_rev = np.tile(np.arange(n), 3)
    cal_sub = np.repeat(np.arange(n, n + 3), n)
    cal_y = cal_true[cal_sub - n] + b[cal_rev, None] + rng.normal(0, 0.3, (cal_sub.size, 3))
    both = Observations(
        np.concatenate([obs.reviewer, cal_rev]),
        np.concatenate([obs.submission, cal_sub]),
        np.concatenate([obs.scores, cal_y]),
        n,
        n + 3,
    )
    calibration = {n + j: cal_true[j] for j in range(3)}
    plain = fit_model(both, WIDE)
    anchored = fit_model(both, WIDE, calibration=calibration)
    assert np.allclose(anchored.scores[n:], cal_true)
    bias_err = lambda f: np.sqrt(np.mean((f.bias - b) ** 2))  # noqa: E731
    assert bias_err(plain) > 0.4  # centred on 0, so about 0.5 off
    assert bias_err(anchored) < 0.15
    score_err = lambda f: np.sqrt(np.mean((f.scores[:n] - z) ** 2))  # noqa: E731
    assert score_err(anchored) < 0.5 * score_err(plain)


def test_scores_are_clipped_to_each_criterion_scale():
    # a harsh reviewer's 0s on a strong submission and a lenient one's maxima
    obs, _, _ = synthetic(5, n=60, bias_sd=1.5)
    scales = [Scale(0, 3), Scale(0.5, 2.0), Scale(1, 2)]
    fit = fit_model(obs, scales)
    lo = np.array([s.minimum for s in scales])
    hi = np.array([s.maximum for s in scales])
    assert (fit.scores >= lo).all()
    assert (fit.scores <= hi).all()
    assert (fit.scores == hi).any() or (fit.scores == lo).any()  # clipping did happen


review_rows = st.lists(
    st.tuples(
        st.integers(0, 4), st.integers(0, 5), st.lists(st.integers(0, 3), min_size=2, max_size=2)
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(rows=review_rows, low=st.integers(-2, 1), extra=st.integers(0, 3))
def test_model_scores_stay_in_scale_and_nan_only_when_unreviewed(rows, low, extra):
    scales = [Scale(0, 3), Scale(low, low + extra)]
    obs = (
        obs_of([(r, s, [x[0], low + min(x[1], extra)]) for r, s, x in rows], 5, 6)
        if rows
        else Observations([], [], np.zeros((0, 2)), 5, 6)
    )
    fit = fit_model(obs, scales)
    reviewed = np.bincount(obs.submission, minlength=6) > 0
    assert np.isnan(fit.scores[~reviewed]).all()
    got = fit.scores[reviewed]
    assert np.isfinite(got).all()
    assert (got >= [0, low]).all()
    assert (got <= [3, low + extra]).all()
    assert np.isfinite(fit.bias).all()
    assert np.isfinite(fit.reliability).all()


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    reviewer=st.integers(0, 59),
    shift=st.floats(0.2, 1.0),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_shifting_one_reviewer_moves_only_their_bias(seed, reviewer, shift, sign):
    obs, _, _ = synthetic(seed, n=60)
    d = sign * shift
    before = fit_model(obs, WIDE)
    moved = obs.scores + d * (obs.reviewer == reviewer)[:, None]
    after = fit_model(Observations(obs.reviewer, obs.submission, moved, 60, 60), WIDE)
    change = after.bias - before.bias
    assert 0.7 * shift <= sign * change[reviewer] <= 1.05 * shift
    assert np.abs(np.delete(change, reviewer)).max() <= 0.15 * shift
    assert np.abs(after.scores - before.scores).max() <= 0.2 * shift


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), d=st.floats(-3, 3))
def test_adding_a_constant_to_every_score_shifts_the_scores_only(seed, d):
    obs, _, _ = synthetic(seed, n=40)
    before = fit_model(obs, WIDE, tol=1e-8)
    after = fit_model(
        Observations(obs.reviewer, obs.submission, obs.scores + d, 40, 40), WIDE, tol=1e-8
    )
    assert np.allclose(after.scores, before.scores + d, atol=1e-4)
    assert np.allclose(after.bias, before.bias, atol=1e-4)


def test_review_order_and_criterion_units_do_not_matter():
    obs, _, _ = synthetic(6, n=50)
    fit = fit_model(obs, WIDE, tol=1e-10)
    order = np.random.default_rng(1).permutation(obs.reviewer.size)
    shuffled = Observations(obs.reviewer[order], obs.submission[order], obs.scores[order], 50, 50)
    again = fit_model(shuffled, WIDE, tol=1e-10)
    assert np.allclose(again.scores, fit.scores, atol=1e-6)
    assert np.allclose(again.weights, fit.weights[order], atol=1e-6)
    # every criterion in tenths of a point: the same fit, in tenths
    tenths = Observations(obs.reviewer, obs.submission, obs.scores * 10, 50, 50)
    scaled = fit_model(tenths, [Scale(-100, 100)] * 3, tol=1e-10)
    assert np.allclose(scaled.scores, fit.scores * 10, atol=1e-4)
    assert np.allclose(scaled.bias, fit.bias * 10, atol=1e-4)


# -- explanation --------------------------------------------------------------------------------
def test_explanation_names_adjustments_disagreement_and_no_identity():
    obs, _, _ = synthetic(7, n=60, bias_sd=0.1)
    scores = np.clip(np.rint(obs.scores), 0, 3)
    lenient = obs.reviewer[obs.submission == 11][1]  # the second review of submission 11
    scores[obs.reviewer == lenient] = np.clip(scores[obs.reviewer == lenient] + 1, 0, 3)
    mine = np.flatnonzero(obs.submission == 11)
    scores[mine, 2] = [0, 3, 1]  # strong disagreement on the third criterion
    rounded = Observations(obs.reviewer, obs.submission, scores, 60, 60)
    fit = fit_model(rounded, LEVELS_0_3)
    text = explain(rounded, fit, 11, LEVELS_0_3, criteria=["clarity", "evidence", "structure"])
    total = fit.scores[11].sum()
    assert f"Score: {total:.1f}".removesuffix(".0") in text
    assert f"median of the reviews gives {median(rounded)[11].sum():g}" in text
    assert "3 reviews" in text
    assert "Reviewer B usually scores" in text and "above the cohort" in text
    assert "disagree strongly on structure (0, 1, 3 of 3)" in text
    assert "clarity" not in text and "evidence" not in text
    assert "Reviewer D" not in text


def test_explanation_of_unreviewed_and_calibration_submissions():
    obs = obs_of([(0, 0, [1, 2, 3]), (1, 0, [2, 2, 3]), (0, 2, [3, 3, 3])], 2, 3)
    fit = fit_model(obs, LEVELS_0_3, calibration={2: np.array([3.0, 2.0, 3.0])})
    assert "no reviews" in explain(obs, fit, 1, LEVELS_0_3)
    calibrated = explain(obs, fit, 2, LEVELS_0_3, calibration={2: np.array([3.0, 2.0, 3.0])})
    assert "calibration" in calibrated and "8 of 9" in calibrated
    single = fit_model(obs_of([(0, 0, [3, 3, 3]), (1, 1, [0, 0, 0])], 2, 2), LEVELS_0_3)
    text = explain(obs_of([(0, 0, [3, 3, 3]), (1, 1, [0, 0, 0])], 2, 2), single, 0, LEVELS_0_3)
    assert "1 review)" in text and "single review" in text
