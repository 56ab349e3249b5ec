"""The reviewer model behind ``aggregate.fit_model``, in the spirit of Piech et al. 2013 ("Tuned
Models of Peer Assessment in MOOCs", PG1): a review's score on a criterion is the submission's
true score plus the reviewer's bias plus Gaussian noise whose precision is the reviewer's
reliability. Here are its variational updates (one coordinate-ascent step for the true scores,
the biases and the reliabilities in turn) and its empirical-Bayes priors, re-estimated from the
fit after every step. Numpy only; scores in model points (``aggregate.ModelFit.unit``).

Key, the paper's symbol -> the name here: s (true score) -> ``true_mean``, ``true_var``;
b (bias) -> ``bias_mean``, ``bias_var``; tau (reliability) -> ``reliability``; z (a review's
score) -> ``Reviews.observed``; the priors s ~ N(mu, Sigma), b ~ N(mu_b, 1/eta),
tau ~ Gamma(alpha, beta) -> ``Priors`` (Sigma as ``score_eigval`` and ``score_eigvec``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Posterior", "Priors", "Reviews", "Units", "first_priors", "step"]

# Empirical Bayes hyperprior: this many pseudo-observations with these spreads (x the sd of
# all scores), and the largest spread a prior may take.
_PSEUDO_COUNT = 2.0
_TYPICAL_BIAS_SD = 0.3
_TYPICAL_SCORE_SD = 0.75
_MAX_SD = 4.0


@dataclass(frozen=True)
class Reviews:
    """A round's reviews in model points, with the indexes every update needs."""

    observed: np.ndarray  # (n, C) each review's scores
    submission_of: np.ndarray  # (n,) the submission each review scores
    reviewer_of: np.ndarray  # (n,) the reviewer who wrote it
    cell_of: np.ndarray  # (n * C,) flat (submission, criterion) index of each score
    reviews_of: np.ndarray  # (S,) reviews each submission got
    reviews_by: np.ndarray  # (R,) reviews each reviewer wrote, as floats

    @property
    def n_criteria(self) -> int:
        return int(self.observed.shape[1])

    @property
    def n_submissions(self) -> int:
        return int(self.reviews_of.size)

    @property
    def n_reviewers(self) -> int:
        return int(self.reviews_by.size)


@dataclass(frozen=True)
class Units:
    """The fit's scale: a criterion's range in model points, the standard deviation of all
    scores (floors and tolerances follow the data's own spread) and the least variance a
    prior may take."""

    unit: float
    score_sd: float
    var_floor: float


@dataclass(frozen=True)
class Priors:
    """The model's priors, re-estimated from the fit after every step (empirical Bayes)."""

    score_mean: np.ndarray  # (C,) mu: the cohort's mean true score
    score_eigval: np.ndarray  # (C,) Sigma, the true scores' covariance across criteria...
    score_eigvec: np.ndarray  # (C, C) ...as eigenvalues and eigenvectors (columns)
    bias_mean: float  # mu_b: 0 unless calibration items anchor the biases
    bias_prec: float  # eta: the biases' prior precision
    alpha: float  # the reliabilities' Gamma prior: shape...
    beta: float  # ...and rate


@dataclass(frozen=True)
class Posterior:
    """The fit so far (the variational posterior's means that the next step needs)."""

    true_mean: np.ndarray  # (S, C)
    bias_mean: np.ndarray  # (R,)
    reliability: np.ndarray  # (R,)


def first_priors(
    reviews: Reviews, true_mean: np.ndarray, free: np.ndarray, alpha: float, units: Units
) -> Priors:
    """The priors of the first step, from a first guess of the true scores: no bias expected,
    and the reliabilities' scale from a first guess of the noise."""
    score_mean, eigval, eigvec = _true_score_prior(
        true_mean[free], np.zeros_like(true_mean[free]), None, units
    )
    first_resid = reviews.observed - true_mean[reviews.submission_of]
    noise = _initial_noise(reviews, first_resid, free)
    return Priors(
        score_mean=score_mean,
        score_eigval=eigval,
        score_eigvec=eigvec,
        bias_mean=0.0,
        bias_prec=1.0 / max((_TYPICAL_BIAS_SD * units.score_sd) ** 2, units.var_floor),
        alpha=alpha,
        beta=alpha * max(noise, units.var_floor),
    )


def step(
    reviews: Reviews,
    post: Posterior,
    prior: Priors,
    *,
    known: np.ndarray,
    calibrated: np.ndarray,
    free: np.ndarray,
    alpha_bounds: tuple[float, float] | None,
    units: Units,
) -> tuple[Posterior, Priors]:
    """One coordinate-ascent step: true scores, biases, reliabilities, then the priors.
    ``known`` holds the instructor's scores of the ``calibrated`` submissions, which stay
    fixed; with them the biases' mean is estimated (anchored), otherwise it stays 0.
    ``alpha_bounds`` None keeps the reliabilities' shape ``alpha`` fixed."""
    n_subs, n_revs, c = reviews.n_submissions, reviews.n_reviewers, reviews.n_criteria
    sub_of, rev_of, observed = reviews.submission_of, reviews.reviewer_of, reviews.observed
    # true scores: the prior (correlated across criteria) and the bias-adjusted scores,
    # weighted by reliability; solved along the prior covariance's eigenvectors
    review_rel = post.reliability[rev_of]
    rel_sum = np.bincount(sub_of, review_rel, minlength=n_subs)
    debiased = (review_rel[:, None] * (observed - post.bias_mean[rev_of, None])).ravel()
    weighted = np.bincount(reviews.cell_of, debiased, minlength=n_subs * c).reshape(n_subs, c)
    eigval, eigvec = prior.score_eigval, prior.score_eigvec
    true_prec = 1.0 / eigval + rel_sum[:, None]
    true_mean = ((weighted @ eigvec + (prior.score_mean @ eigvec) / eigval) / true_prec) @ eigvec.T
    true_var = 1.0 / true_prec  # along the eigenvectors
    true_mean[calibrated], true_var[calibrated] = known[calibrated], 0.0
    # biases: shared across criteria
    resid_sum = np.bincount(rev_of, (observed - true_mean[sub_of]).sum(axis=1), minlength=n_revs)
    bias_prec = prior.bias_prec + post.reliability * c * reviews.reviews_by
    bias_mean = (prior.bias_prec * prior.bias_mean + post.reliability * resid_sum) / bias_prec
    bias_var = 1.0 / bias_prec
    # reliabilities: Gamma posterior mean, expected squared residual incl. uncertainty
    resid = observed - true_mean[sub_of] - bias_mean[rev_of, None]
    sq = (resid**2).sum(axis=1) + true_var.sum(axis=1)[sub_of] + c * bias_var[rev_of]
    sq_by_reviewer = np.bincount(rev_of, sq, minlength=n_revs)
    shape = prior.alpha + 0.5 * c * reviews.reviews_by
    rate = prior.beta + 0.5 * sq_by_reviewer
    reliability = shape / rate
    # empirical Bayes: priors from the current fit
    score_mean, eigval, eigvec = _true_score_prior(true_mean[free], true_var[free], eigvec, units)
    bias_prior_mean, bias_prior_prec = prior.bias_mean, prior.bias_prec
    alpha, beta = prior.alpha, prior.beta
    active = reviews.reviews_by > 0
    if active.any():
        if calibrated.any():
            bias_prior_mean = float(np.average(bias_mean[active], weights=bias_prec[active]))
        bias_prior_prec = _bias_prior_precision(
            bias_mean[active] - bias_prior_mean, bias_var[active], bias_prior_prec, units
        )
        half_sq, half_count = 0.5 * sq_by_reviewer[active], 0.5 * c * reviews.reviews_by[active]
        alpha, beta = _reliability_prior(half_sq, half_count, alpha, beta, alpha_bounds)
        beta = max(beta, alpha * units.var_floor)
    return (
        Posterior(true_mean, bias_mean, reliability),
        Priors(score_mean, eigval, eigvec, bias_prior_mean, bias_prior_prec, alpha, beta),
    )


def _initial_noise(reviews: Reviews, resid: np.ndarray, free: np.ndarray) -> float:
    """A first guess of the noise variance: residuals from each submission's mean, less each
    reviewer's mean residual (a crude bias), over the degrees of freedom left. Starting too
    low (biases counted as noise) can settle the fit on a needlessly noisy solution."""
    if resid.shape[0] == 0:
        return 0.0
    c, reviews_by, rev_of = reviews.n_criteria, reviews.reviews_by, reviews.reviewer_of
    crude_bias = np.bincount(rev_of, resid.sum(axis=1), minlength=reviews_by.size) / np.maximum(
        c * reviews_by, 1
    )
    dof = c * (resid.shape[0] - int(free.sum())) - int((reviews_by > 0).sum())
    return float(np.sum((resid - crude_bias[rev_of, None]) ** 2)) / max(dof, 1)


def _true_score_prior(
    true_mean: np.ndarray, true_var: np.ndarray, eigvec: np.ndarray | None, units: Units
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The true scores' prior, re-estimated (EM) from the fitted ones: mean (C,), and the
    covariance across criteria as eigenvalues (C,) and eigenvectors (C, C), floored. A few
    pseudo-submissions of typical spread keep a tiny round from collapsing it. ``eigvec``
    None: a first guess, the fitted scores taken as certain."""
    n, c = true_mean.shape
    score_sd = units.score_sd
    if n == 0:
        return np.full(c, units.unit / 2), np.full(c, score_sd**2), np.eye(c)
    mean = true_mean.mean(axis=0)
    dev = true_mean - mean
    cov = dev.T @ dev + _PSEUDO_COUNT * (_TYPICAL_SCORE_SD * score_sd) ** 2 * np.eye(c)
    if eigvec is not None:
        cov += (eigvec * true_var.sum(axis=0)) @ eigvec.T
    cov /= n + _PSEUDO_COUNT
    eigval, eigvec = np.linalg.eigh(cov)
    return mean, np.clip(eigval, units.var_floor, (_MAX_SD * score_sd) ** 2), eigvec


def _bias_prior_precision(
    dev: np.ndarray, var: np.ndarray, precision: float, units: Units
) -> float:
    """The biases' prior precision re-estimated as MacKay's fixed point: sum of squares over
    the number of well-determined biases (plus a few pseudo-reviewers of typical spread, which
    matter only in a tiny cohort). Faster than plain EM to shrink toward zero when it should."""
    well = float(np.sum(1.0 - precision * var)) + _PSEUDO_COUNT
    ss = float(np.sum(dev**2)) + _PSEUDO_COUNT * (_TYPICAL_BIAS_SD * units.score_sd) ** 2
    return 1.0 / min(max(ss / well, units.var_floor), (_MAX_SD * units.score_sd) ** 2)


def _reliability_prior(
    half_sq: np.ndarray,
    half_count: np.ndarray,
    alpha: float,
    beta: float,
    bounds: tuple[float, float] | None,
) -> tuple[float, float]:
    """Type-II maximum likelihood of the reliabilities' Gamma(alpha, beta) prior, with each
    reliability integrated out exactly: a reviewer's half sum of squared residuals
    ``half_sq`` over ``half_count`` half-observations is then a compound-gamma draw. Newton
    steps on (log alpha, log beta), from the current values; alpha stays fixed when
    ``bounds`` is None. Direct, so it does not creep toward a boundary as EM's update does
    when reviewers are alike."""
    counts, how_many = np.unique(half_count, return_counts=True)  # a round has few of them
    weight = how_many.astype(float)
    n = float(half_sq.size)

    def loglik(a: float, b: float) -> float:
        lg = float(weight @ np.array([math.lgamma(a + v) for v in counts]))
        return (
            n * (a * math.log(b) - math.lgamma(a))
            + lg
            - float((a + half_count) @ np.log(b + half_sq))
        )

    x = np.log([alpha, beta])
    lo_hi = np.log(bounds) if bounds is not None else np.array([x[0], x[0]])
    current = loglik(alpha, beta)
    for _ in range(20):
        a, b = np.exp(x)
        bq = b + half_sq
        psi, tri = _digamma_trigamma(np.append(counts + a, a))
        g_a = n * (math.log(b) - psi[-1]) + weight @ psi[:-1] - np.log(bq).sum()
        g_b = n * a / b - ((a + half_count) / bq).sum()
        h_aa = weight @ tri[:-1] - n * tri[-1]
        h_ab = n / b - (1 / bq).sum()
        h_bb = ((a + half_count) / bq**2).sum() - n * a / b**2
        # on (log a, log b): chain rule
        g = np.array([a * g_a, b * g_b])
        hess = np.array([[a * a * h_aa + g[0], a * b * h_ab], [a * b * h_ab, b * b * h_bb + g[1]]])
        at_bound = (x[0] >= lo_hi[1] and g[0] > 0) or (x[0] <= lo_hi[0] and g[0] < 0)
        if bounds is None or at_bound:  # a step in beta alone
            g[0], hess[0, 1], hess[1, 0], hess[0, 0] = 0.0, 0.0, 0.0, -1.0
        newton = hess[0, 0] < 0 and np.linalg.det(hess) > 0
        move = np.clip(-np.linalg.solve(hess, g) if newton else g / n, -2.0, 2.0)
        for _ in range(20):  # backtrack until the likelihood does not fall
            trial = np.array([np.clip(x[0] + move[0], *lo_hi), x[1] + move[1]])
            value = loglik(*np.exp(trial))
            if value >= current - 1e-12 * abs(current):
                break
            move /= 2
        else:
            break
        moved = float(np.max(np.abs(trial - x)))
        x, current = trial, value
        if moved < 1e-5:
            break
    a, b = np.exp(x)
    return float(a), float(b)


def _digamma_trigamma(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Digamma and trigamma for x > 0: recurrence up to x >= 6, then asymptotic series."""
    x = np.asarray(x, dtype=float).copy()
    psi, psi1 = np.zeros_like(x), np.zeros_like(x)
    while (small := x < 6).any():
        psi[small] -= 1.0 / x[small]
        psi1[small] += 1.0 / (x[small] * x[small])
        x[small] += 1.0
    i2 = 1.0 / (x * x)
    psi += np.log(x) - 0.5 / x - i2 * (1 / 12 - i2 * (1 / 120 - i2 * (1 / 252 - i2 / 240)))
    psi1 += 1 / x + i2 / 2 + i2 * (1 / 6 - i2 * (1 / 30 - i2 * (1 / 42 - i2 / 30))) / x
    return psi, psi1
