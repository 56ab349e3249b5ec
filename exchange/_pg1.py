"""Fitting internals of the PG1 peer-assessment model (``aggregate.fit_model``): the first
noise guess, the empirical-Bayes priors (true scores, biases, reliabilities' Gamma) and the
digamma/trigamma they need. Numpy only; scores in model points."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "BIAS_SD0",
    "gamma_prior",
    "initial_noise",
    "mackay",
    "maxabs",
    "prior_of",
]

# Empirical Bayes hyperprior: this many pseudo-observations with these spreads (x the sd of
# all scores), and the largest spread a prior may take.
_PSEUDO = 2.0
BIAS_SD0 = 0.3
_SCORE_SD0 = 0.75
_MAX_SD = 4.0


def initial_noise(
    resid: np.ndarray, r_i: np.ndarray, per_r: np.ndarray, free: np.ndarray, c: int
) -> float:
    """A first guess of the noise variance: residuals from each submission's mean, less each
    reviewer's mean residual (a crude bias), over the degrees of freedom left. Starting too
    low (biases counted as noise) can settle the fit on a needlessly noisy solution."""
    if resid.shape[0] == 0:
        return 0.0
    crude_bias = np.bincount(r_i, resid.sum(axis=1), minlength=per_r.size) / np.maximum(
        c * per_r, 1
    )
    dof = c * (resid.shape[0] - int(free.sum())) - int((per_r > 0).sum())
    return float(np.sum((resid - crude_bias[r_i, None]) ** 2)) / max(dof, 1)


def maxabs(a: np.ndarray) -> float:
    return float(np.abs(a).max()) if a.size else 0.0


def _psi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def gamma_prior(
    q: np.ndarray,
    h: np.ndarray,
    alpha: float,
    beta: float,
    bounds: tuple[float, float] | None,
) -> tuple[float, float]:
    """Type-II maximum likelihood of the reliabilities' Gamma(alpha, beta) prior, with each
    reliability integrated out exactly: reviewer r's half sum of squared residuals ``q`` over
    ``h`` half-observations is then a compound-gamma draw. Newton steps on (log alpha,
    log beta), from the current values; alpha stays fixed when ``bounds`` is None. Direct,
    so it does not creep toward a boundary as EM's update does when reviewers are alike."""
    hs, counts = np.unique(h, return_counts=True)  # a round has few distinct counts
    count = counts.astype(float)
    n = float(q.size)

    def loglik(a: float, b: float) -> float:
        lg = float(count @ np.array([math.lgamma(a + v) for v in hs]))
        return n * (a * math.log(b) - math.lgamma(a)) + lg - float((a + h) @ np.log(b + q))

    x = np.log([alpha, beta])
    lo_hi = np.log(bounds) if bounds is not None else np.array([x[0], x[0]])
    current = loglik(alpha, beta)
    for _ in range(20):
        a, b = np.exp(x)
        bq = b + q
        psi, tri = _psi(np.append(hs + a, a))
        g_a = n * (math.log(b) - psi[-1]) + count @ psi[:-1] - np.log(bq).sum()
        g_b = n * a / b - ((a + h) / bq).sum()
        h_aa = count @ tri[:-1] - n * tri[-1]
        h_ab = n / b - (1 / bq).sum()
        h_bb = ((a + h) / bq**2).sum() - n * a / b**2
        # on (log a, log b): chain rule
        g = np.array([a * g_a, b * g_b])
        hess = np.array([[a * a * h_aa + g[0], a * b * h_ab], [a * b * h_ab, b * b * h_bb + g[1]]])
        at_bound = (x[0] >= lo_hi[1] and g[0] > 0) or (x[0] <= lo_hi[0] and g[0] < 0)
        if bounds is None or at_bound:  # a step in beta alone
            g[0], hess[0, 1], hess[1, 0], hess[0, 0] = 0.0, 0.0, 0.0, -1.0
        newton = hess[0, 0] < 0 and np.linalg.det(hess) > 0
        step = np.clip(-np.linalg.solve(hess, g) if newton else g / n, -2.0, 2.0)
        for _ in range(20):  # backtrack until the likelihood does not fall
            trial = np.array([np.clip(x[0] + step[0], *lo_hi), x[1] + step[1]])
            value = loglik(*np.exp(trial))
            if value >= current - 1e-12 * abs(current):
                break
            step /= 2
        else:
            break
        moved = float(np.max(np.abs(trial - x)))
        x, current = trial, value
        if moved < 1e-5:
            break
    a, b = np.exp(x)
    return float(a), float(b)


def mackay(dev: np.ndarray, var: np.ndarray, prec: float, floor: float, ref: float) -> float:
    """Prior precision re-estimated as MacKay's fixed point: sum of squares over the number of
    well-determined parameters (plus a few pseudo-reviewers of typical spread, which matter
    only in a tiny cohort). Faster than plain EM to shrink toward zero when it should."""
    well = float(np.sum(1.0 - prec * var)) + _PSEUDO
    ss = float(np.sum(dev**2)) + _PSEUDO * (BIAS_SD0 * ref) ** 2
    return 1.0 / min(max(ss / well, floor), (_MAX_SD * ref) ** 2)


def prior_of(
    m: np.ndarray,
    v_e: np.ndarray,
    vec: np.ndarray | None,
    floor: float,
    ref: float,
    unit: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The true scores' prior, re-estimated (EM) from the fitted ones: mean (C,), and the
    covariance across criteria as eigenvalues (C,) and eigenvectors (C, C), floored. A few
    pseudo-submissions of typical spread keep a tiny round from collapsing it."""
    n, c = m.shape
    if n == 0:
        return np.full(c, unit / 2), np.full(c, ref**2), np.eye(c)
    mu = m.mean(axis=0)
    dev = m - mu
    cov = dev.T @ dev + _PSEUDO * (_SCORE_SD0 * ref) ** 2 * np.eye(c)
    if vec is not None:
        cov += (vec * v_e.sum(axis=0)) @ vec.T
    cov /= n + _PSEUDO
    lam, vec = np.linalg.eigh(cov)
    return mu, np.clip(lam, floor, (_MAX_SD * ref) ** 2), vec
