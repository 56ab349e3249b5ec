"""Turn a review round's rubric scores into one score per submission and criterion.

Baselines: the per-criterion median, the mean, and Open edX ORA2's rule (the median, with an
even count the mean of the two middle scores rounded up). The model, in the spirit of Piech et
al. 2013 ("Tuned Models of Peer Assessment in MOOCs", PG1), reads each score as the true score
plus the reviewer's bias plus Gaussian noise whose precision is the reviewer's reliability;
bias and reliability are shared across criteria, so a harsh reviewer is harsh on every one.
It is fitted by variational EM with empirical-Bayes priors, vectorised with ``np.bincount``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nbcohort.exchange._pg1 import BIAS_SD0 as _BIAS_SD0
from nbcohort.exchange._pg1 import gamma_prior as _gamma_prior
from nbcohort.exchange._pg1 import initial_noise as _initial_noise
from nbcohort.exchange._pg1 import mackay as _mackay
from nbcohort.exchange._pg1 import maxabs as _maxabs
from nbcohort.exchange._pg1 import prior_of as _prior_of

__all__ = [
    "ModelFit",
    "Observations",
    "Scale",
    "explain",
    "fit_model",
    "mean",
    "median",
    "ora2",
]

_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Fewer active reviewers than this tell nothing about how reliabilities spread: shape fixed.
_MIN_REVIEWERS_FOR_SHAPE = 10
_DEFAULT_SHAPE = 2.0


@dataclass(frozen=True)
class Scale:
    """One rubric criterion's range, from the lowest and highest level points."""

    minimum: float
    maximum: float

    @classmethod
    def from_levels(cls, points: Sequence[float]) -> Scale:
        return cls(float(min(points)), float(max(points)))


@dataclass
class Observations:
    """The reviews of a round: one row per review, reviewers and submissions as indexes."""

    reviewer: np.ndarray
    submission: np.ndarray
    scores: np.ndarray
    n_reviewers: int
    n_submissions: int

    def __post_init__(self) -> None:
        self.reviewer = np.asarray(self.reviewer, dtype=np.intp).reshape(-1)
        self.submission = np.asarray(self.submission, dtype=np.intp).reshape(-1)
        self.scores = np.asarray(self.scores, dtype=float)
        n = self.reviewer.size
        if self.scores.ndim != 2 or self.scores.shape[0] != n or self.submission.size != n:
            raise ValueError("need one reviewer, one submission and one score row per review")
        if not np.isfinite(self.scores).all():
            raise ValueError("scores must be finite numbers")
        for name, idx, bound in (
            ("reviewer", self.reviewer, self.n_reviewers),
            ("submission", self.submission, self.n_submissions),
        ):
            if n and (idx.min() < 0 or idx.max() >= bound):
                raise ValueError(f"{name} index out of range 0..{bound - 1}")

    @property
    def n_criteria(self) -> int:
        return int(self.scores.shape[1])


# -- baselines ----------------------------------------------------------------------------------
def mean(obs: Observations) -> np.ndarray:
    """(S, C) per-criterion mean of each submission's reviews; NaN where it has none."""
    s, c = obs.n_submissions, obs.n_criteria
    count = np.bincount(obs.submission, minlength=s).astype(float)
    total = np.bincount(_cell(obs.submission, c), obs.scores.ravel(), minlength=s * c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total.reshape(s, c) / count[:, None]


def median(obs: Observations) -> np.ndarray:
    """(S, C) per-criterion median; NaN where a submission has no review."""
    low, high = _middles(obs)
    return (low + high) / 2


def ora2(obs: Observations) -> np.ndarray:
    """ORA2's peer score: the median, but with an even count the mean of the two middle
    scores is rounded up to an integer (as ``Assessment.get_median_score`` does)."""
    low, high = _middles(obs)
    return np.where(low == high, low, np.ceil((low + high) / 2))


def _cell(submission: np.ndarray, c: int) -> np.ndarray:
    """Flat (submission, criterion) cell index for every score, row-major like ``scores``."""
    return (submission[:, None] * c + np.arange(c)).ravel()


def _middles(obs: Observations) -> tuple[np.ndarray, np.ndarray]:
    """The two middle scores of each (submission, criterion), equal when the count is odd."""
    s, c = obs.n_submissions, obs.n_criteria
    low = np.full((s, c), np.nan)
    high = np.full((s, c), np.nan)
    count = np.bincount(obs.submission, minlength=s)
    has = count > 0
    start = np.concatenate(([0], np.cumsum(count)[:-1]))[has]
    lo_at, hi_at = start + (count[has] - 1) // 2, start + count[has] // 2
    for k in range(c):  # a loop over criteria, never over reviews
        order = np.lexsort((obs.scores[:, k], obs.submission))
        ranked = obs.scores[order, k]
        low[has, k], high[has, k] = ranked[lo_at], ranked[hi_at]
    return low, high


# -- the model ----------------------------------------------------------------------------------
@dataclass
class ModelFit:
    """The model's estimates. Points are those of a criterion whose range is ``unit`` (the mean
    range over criteria; the criteria's own points when all ranges are equal)."""

    scores: np.ndarray  # (S, C) in each criterion's points, clipped to its scale; NaN: no review
    bias: np.ndarray  # (R,) points a reviewer scores above the cohort (negative: harsh)
    reliability: np.ndarray  # (R,) precision of a reviewer's noise, 1 / points^2
    weights: np.ndarray  # (n_reviews,) each review's share among its submission's reviews
    iterations: int
    converged: bool
    prior_mean: np.ndarray  # (C,) the cohort's mean true score, in each criterion's points
    shrinkage: np.ndarray  # (S, C) share of a score that comes from the cohort mean (the prior)
    bias_spread: float  # standard deviation of the biases' prior, points: ~0 when reviewers alike
    unit: float


def fit_model(
    obs: Observations,
    scales: Sequence[Scale],
    *,
    calibration: Mapping[int, np.ndarray] | None = None,
    max_iter: int = 200,
    tol: float = 1e-6,
    alpha: float | None = None,
    alpha_range: tuple[float, float] = (1.0, 20.0),
    floor: float = 0.05,
) -> ModelFit:
    """Fit true scores z[s,c], biases b[r] and reliabilities tau[r] by coordinate ascent.

    Priors: z[s] ~ N(mu, Sigma) (Sigma: C x C, the criteria of one submission correlate),
    b ~ N(mu_b, 1/eta), tau ~ Gamma(alpha, beta). Empirical Bayes: mu, Sigma, eta, beta and
    (with 10 or more reviewers, unless ``alpha`` is given) alpha, within ``alpha_range``, are
    re-estimated from the current fit every iteration (alpha's cap of 20 keeps one careless
    reviewer among many alike ones weighed down); standard deviations are floored at ``floor``
    x the standard deviation of all scores (so the fit does not depend on the points' units).
    So biases shrink to ~0 when reviewers are alike, reliabilities to one value when they are
    equally careful. ``calibration`` maps a submission to the scores the instructor set: those are
    fixed, and they anchor the biases (mu_b is then estimated, otherwise 0). Each iteration is
    a handful of ``np.bincount`` passes over the reviews.
    """
    c = obs.n_criteria
    if len(scales) != c:
        raise ValueError(f"{c} criteria scored but {len(scales)} scales given")
    lo = np.array([sc.minimum for sc in scales], dtype=float)
    span = np.array([sc.maximum - sc.minimum for sc in scales], dtype=float)
    span = np.where(span > 0, span, 1.0)
    unit = float(span.mean())
    to_unit = unit / span  # criterion points -> model points
    n_s, n_r = obs.n_submissions, obs.n_reviewers
    s_i, r_i = obs.submission, obs.reviewer
    cell = _cell(s_i, c)
    y = (obs.scores - lo) * to_unit

    per_s = np.bincount(s_i, minlength=n_s)
    per_r = np.bincount(r_i, minlength=n_r).astype(float)
    active = per_r > 0
    fixed = np.zeros(n_s, dtype=bool)
    z_fixed = np.zeros((n_s, c))
    for sub, true in (calibration or {}).items():
        if not 0 <= sub < n_s:
            raise ValueError(f"calibration submission {sub} out of range 0..{n_s - 1}")
        fixed[sub] = True
        z_fixed[sub] = (np.asarray(true, dtype=float).reshape(c) - lo) * to_unit
    free = (per_s > 0) & ~fixed
    ref = float(y.std()) if y.size else 0.0  # the data's own scale, for floors and tolerances
    ref = ref if ref > 1e-6 * unit else 0.25 * unit
    var_floor = (floor * ref) ** 2

    # Start from the mean of the reviews, no bias, every reviewer equally reliable.
    m_z = z_fixed.copy()
    m_z[free] = ((mean(obs) - lo) * to_unit)[free]
    v_e = np.zeros((n_s, c))  # posterior variances of z along the prior's eigenvectors
    mu, lam, vec = _prior_of(m_z[free], v_e[free], None, var_floor, ref, unit)
    m_b, v_b = np.zeros(n_r), np.zeros(n_r)
    mu_b, eta = 0.0, 1.0 / max((_BIAS_SD0 * ref) ** 2, var_floor)
    resid0 = y - m_z[s_i]
    learn_alpha = alpha is None and int(active.sum()) >= _MIN_REVIEWERS_FOR_SHAPE
    alpha = _DEFAULT_SHAPE if alpha is None else alpha
    beta = alpha * max(_initial_noise(resid0, r_i, per_r, free, c), var_floor)
    tau = np.full(n_r, alpha / beta)
    anchored = bool(fixed.any())

    iterations, converged = 0, obs.scores.shape[0] == 0
    while not converged and iterations < max_iter:
        iterations += 1
        old_z, old_b = m_z.copy(), m_b.copy()
        # true scores: the prior (correlated across criteria) and the bias-adjusted scores,
        # weighted by reliability; solved along the prior covariance's eigenvectors
        t = tau[r_i]
        t_s = np.bincount(s_i, t, minlength=n_s)
        adj = (t[:, None] * (y - m_b[r_i, None])).ravel()
        a = np.bincount(cell, adj, minlength=n_s * c).reshape(n_s, c)
        prec_e = 1.0 / lam + t_s[:, None]
        m_z = ((a @ vec + (mu @ vec) / lam) / prec_e) @ vec.T
        v_e = 1.0 / prec_e
        m_z[fixed], v_e[fixed] = z_fixed[fixed], 0.0
        # biases: shared across criteria
        rsum = np.bincount(r_i, (y - m_z[s_i]).sum(axis=1), minlength=n_r)
        prec_b = eta + tau * c * per_r
        m_b, v_b = (eta * mu_b + tau * rsum) / prec_b, 1.0 / prec_b
        # reliabilities: Gamma posterior mean, expected squared residual incl. uncertainty
        e = y - m_z[s_i] - m_b[r_i, None]
        sq = (e**2).sum(axis=1) + v_e.sum(axis=1)[s_i] + c * v_b[r_i]
        shape = alpha + 0.5 * c * per_r
        rate = beta + 0.5 * np.bincount(r_i, sq, minlength=n_r)
        tau = shape / rate
        # empirical Bayes: priors from the current fit
        mu, lam, vec = _prior_of(m_z[free], v_e[free], vec, var_floor, ref, unit)
        if active.any():
            if anchored:
                mu_b = float(np.average(m_b[active], weights=prec_b[active]))
            eta = _mackay(m_b[active] - mu_b, v_b[active], eta, var_floor, ref)
            half_sq = 0.5 * np.bincount(r_i, sq, minlength=n_r)[active]
            alpha, beta = _gamma_prior(
                half_sq, 0.5 * c * per_r[active], alpha, beta, alpha_range if learn_alpha else None
            )
            beta = max(beta, alpha * var_floor)
        change = max(_maxabs(m_z - old_z), _maxabs(m_b - old_b))
        converged = change < tol * ref

    tau_s = np.bincount(s_i, tau[r_i], minlength=n_s)
    weights = tau[r_i] / np.where(tau_s > 0, tau_s, 1.0)[s_i]
    prior_share = (1.0 / lam) / (1.0 / lam + tau_s[:, None])
    shrink = np.where(fixed[:, None], 0.0, prior_share @ (vec**2).T)
    scores = m_z / to_unit + lo
    scores = np.clip(scores, lo, [sc.maximum for sc in scales])
    scores[~(free | fixed)] = np.nan
    return ModelFit(
        scores=scores,
        bias=m_b,
        reliability=tau,
        weights=weights,
        iterations=iterations,
        converged=bool(converged),
        prior_mean=mu / to_unit + lo,
        shrinkage=shrink,
        bias_spread=float(eta**-0.5),
        unit=unit,
    )


# -- explanation --------------------------------------------------------------------------------
def explain(
    obs: Observations,
    fit: ModelFit,
    submission: int,
    scales: Sequence[Scale],
    *,
    criteria: Sequence[str] | None = None,
    calibration: Mapping[int, np.ndarray] | None = None,
) -> str:
    """A short plain-English account of one submission's model score, for its author:
    the score beside the median, each (anonymised) review's adjustment and weight, and the
    criteria on which the reviews disagree strongly."""
    c = obs.n_criteria
    names = list(criteria) if criteria is not None else [f"criterion {k + 1}" for k in range(c)]
    lo = np.array([sc.minimum for sc in scales])
    span = np.array([sc.maximum - sc.minimum for sc in scales])
    top = float(sum(sc.maximum for sc in scales))
    rows = np.flatnonzero(obs.submission == submission)
    score = fit.scores[submission]
    if calibration is not None and submission in calibration:
        return (
            f"This submission is a calibration example: the instructor set its score "
            f"({_num(score.sum())} of {_num(top)}). Reviewers' scores of it are used to learn "
            f"how each reviewer scores, not to grade it."
        )
    if rows.size == 0:
        return "This submission has no reviews yet, so it has no peer score."
    one = np.zeros(rows.size, dtype=np.intp)
    med = median(Observations(one, one, obs.scores[rows], 1, 1))[0]
    n = rows.size
    lines = [
        f"Score: {_num(score.sum())} of {_num(top)} (the median of the reviews gives "
        f"{_num(med.sum())}; {n} review{'s' if n != 1 else ''})."
    ]
    per_point = np.where(span > 0, span, 1.0) / fit.unit  # model points -> criterion points
    equal_w = 1.0 / n
    adjusted = np.empty(n)
    for j, i in enumerate(rows):
        who = f"Reviewer {_LABELS[j % 26]}{'' if j < 26 else j // 26}"
        b = float(fit.bias[obs.reviewer[i]])
        given = _num(float(obs.scores[i].sum()))
        adjusted[j] = float(np.clip(obs.scores[i] - b * per_point, lo, lo + span).sum())
        if abs(b) < 0.1:
            habit = f"{who} scores close to the cohort, so their {given} counts as given"
        else:
            way = "above" if b > 0 else "below"
            habit = (
                f"{who} usually scores {_num(abs(b))} point{'' if _num(abs(b)) == '1' else 's'} "
                f"{way} the cohort on each criterion, so their {given} counts as about "
                f"{_num(adjusted[j])}"
            )
        w = float(fit.weights[i])
        if n > 1 and (w < 0.6 * equal_w or w > 1.5 * equal_w):
            kind = "less" if w < equal_w else "more"
            habit += (
                f"; their scores of other work were {kind} consistent than most, so this review "
                f"weighs {w:.0%} (an equal share would be {equal_w:.0%})"
            )
        lines.append(habit + ".")
    blend = float(np.dot(fit.weights[rows], adjusted))
    if abs(blend - float(score.sum())) >= 0.025 * top:
        typical = _num(float(fit.prior_mean.sum()))
        few = "a single review" if n == 1 else f"only {n} reviews"
        lines.append(
            f"The weighted reviews alone would give {_num(blend)}; with {few} the model also "
            f"leans toward the cohort's typical score ({typical}), which gives {_num(score.sum())}."
        )
    spread = obs.scores[rows].max(axis=0) - obs.scores[rows].min(axis=0)
    for k in map(int, np.flatnonzero((spread >= 0.5 * span) & (span > 0) & (n > 1))):
        given = ", ".join(_num(v) for v in sorted(obs.scores[rows, k]))
        lines.append(
            f"The reviews disagree strongly on {names[k]} ({given} of {_num(scales[k].maximum)}); "
            f"after each reviewer's adjustment and weight the model gives {_num(score[k])}."
        )
    return "\n".join(lines)


def _num(x: float) -> str:
    """1 decimal, without a trailing .0."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text
