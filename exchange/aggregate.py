"""Turn a review round's rubric scores into one score per submission and criterion.

Baselines: the per-criterion median, the mean, and Open edX ORA2's rule (the median, with an
even count the mean of the two middle scores rounded up). The model, in the spirit of Piech et
al. 2013 ("Tuned Models of Peer Assessment in MOOCs", PG1), reads each score as the true score
plus the reviewer's bias plus Gaussian noise whose precision is the reviewer's reliability;
bias and reliability are shared across criteria, so a harsh reviewer is harsh on every one.
It is fitted by variational EM with empirical-Bayes priors, vectorised with ``np.bincount``;
the updates and priors are in ``_reviewer_model``, ``fit_model`` drives them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nbcohort.exchange import _reviewer_model as model

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
    """Fit each submission's true scores, each reviewer's bias and reliability by coordinate
    ascent (the updates and priors are in ``_reviewer_model``, with the key to the paper).

    Priors: true scores ~ N(mu, Sigma) (Sigma: C x C, the criteria of one submission
    correlate), biases ~ N(mu_b, 1/eta), reliabilities ~ Gamma(alpha, beta). Empirical Bayes:
    mu, Sigma, eta, beta and (with 10 or more reviewers, unless ``alpha`` is given) alpha,
    within ``alpha_range``, are re-estimated from the current fit every iteration (alpha's cap
    of 20 keeps one careless reviewer among many alike ones weighed down); standard deviations
    are floored at ``floor`` x the standard deviation of all scores (so the fit does not depend
    on the points' units). So biases shrink to ~0 when reviewers are alike, reliabilities to
    one value when they are equally careful. ``calibration`` maps a submission to the scores
    the instructor set: those are fixed, and they anchor the biases (mu_b is then estimated,
    otherwise 0). Each iteration is a handful of ``np.bincount`` passes over the reviews.
    """
    n_criteria = obs.n_criteria
    if len(scales) != n_criteria:
        raise ValueError(f"{n_criteria} criteria scored but {len(scales)} scales given")
    lo = np.array([sc.minimum for sc in scales], dtype=float)
    span = np.array([sc.maximum - sc.minimum for sc in scales], dtype=float)
    span = np.where(span > 0, span, 1.0)
    unit = float(span.mean())
    to_unit = unit / span  # criterion points -> model points
    n_subs, n_revs = obs.n_submissions, obs.n_reviewers
    reviews = model.Reviews(
        observed=(obs.scores - lo) * to_unit,
        submission_of=obs.submission,
        reviewer_of=obs.reviewer,
        cell_of=_cell(obs.submission, n_criteria),
        reviews_of=np.bincount(obs.submission, minlength=n_subs),
        reviews_by=np.bincount(obs.reviewer, minlength=n_revs).astype(float),
    )
    calibrated = np.zeros(n_subs, dtype=bool)
    known = np.zeros((n_subs, n_criteria))  # the instructor's scores of calibration items
    for sub, true in (calibration or {}).items():
        if not 0 <= sub < n_subs:
            raise ValueError(f"calibration submission {sub} out of range 0..{n_subs - 1}")
        calibrated[sub] = True
        known[sub] = (np.asarray(true, dtype=float).reshape(n_criteria) - lo) * to_unit
    free = (reviews.reviews_of > 0) & ~calibrated
    observed = reviews.observed
    score_sd = float(observed.std()) if observed.size else 0.0  # the data's own scale
    score_sd = score_sd if score_sd > 1e-6 * unit else 0.25 * unit
    units = model.Units(unit=unit, score_sd=score_sd, var_floor=(floor * score_sd) ** 2)

    # Start from the mean of the reviews, no bias, every reviewer equally reliable.
    true_mean = known.copy()
    true_mean[free] = ((mean(obs) - lo) * to_unit)[free]
    learn_alpha = alpha is None and int((reviews.reviews_by > 0).sum()) >= _MIN_REVIEWERS_FOR_SHAPE
    first_alpha = _DEFAULT_SHAPE if alpha is None else alpha
    prior = model.first_priors(reviews, true_mean, free, first_alpha, units)
    post = model.Posterior(true_mean, np.zeros(n_revs), np.full(n_revs, prior.alpha / prior.beta))

    iterations, converged = 0, obs.scores.shape[0] == 0
    while not converged and iterations < max_iter:
        iterations += 1
        last = post
        post, prior = model.step(
            reviews,
            post,
            prior,
            known=known,
            calibrated=calibrated,
            free=free,
            alpha_bounds=alpha_range if learn_alpha else None,
            units=units,
        )
        change = max(
            _max_abs(post.true_mean - last.true_mean), _max_abs(post.bias_mean - last.bias_mean)
        )
        converged = change < tol * score_sd

    reliability = post.reliability
    rel_sum = np.bincount(obs.submission, reliability[obs.reviewer], minlength=n_subs)
    weights = reliability[obs.reviewer] / np.where(rel_sum > 0, rel_sum, 1.0)[obs.submission]
    prior_prec = 1.0 / prior.score_eigval
    prior_share = prior_prec / (prior_prec + rel_sum[:, None])
    shrink = np.where(calibrated[:, None], 0.0, prior_share @ (prior.score_eigvec**2).T)
    scores = post.true_mean / to_unit + lo
    scores = np.clip(scores, lo, [sc.maximum for sc in scales])
    scores[~(free | calibrated)] = np.nan
    return ModelFit(
        scores=scores,
        bias=post.bias_mean,
        reliability=reliability,
        weights=weights,
        iterations=iterations,
        converged=bool(converged),
        prior_mean=prior.score_mean / to_unit + lo,
        shrinkage=shrink,
        bias_spread=float(prior.bias_prec**-0.5),
        unit=unit,
    )


def _max_abs(a: np.ndarray) -> float:
    return float(np.abs(a).max()) if a.size else 0.0


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
