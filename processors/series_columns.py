"""Erlang A's series for many queues at once: processors/staffing.py's ``_sums`` over numpy columns.

For every queue, with t_0 = 1, t_j(w) = prod_{i<=j} w / (x+i) and h_j = sum_{m<=j} 1 / (x+m+1), the logs of::

    sum_j t_j    sum_{j>=1} t_j    sum_j j t_j    sum_j t_j x / (x+j+1) h_j

The terms are log-concave in j with their peak at p = max(0, floor(w - x)). Each queue's series is summed
over one range [p - left, p + right] fixed in advance, where a bound puts the terms below e^-50 (2e-22) of the
peak term at both ends: what is left out (with its weights j, h_j) stays below about 1e-16 of each sum, which
float64 sums do not show (the scalar's adaptive cut stops at 1e-20)::

    left of p:   t_{p-d} / t_p <= exp(-d (d-1) / 2w)                                   (x + p <= w)
    right of p:  t_{p+d} / t_p <= r^d with r = w / (x+p+1) < 1, and <= exp(-ln 2 d (d-1) / 2w) for d <= w + 1,
                 halving at each step after that

Queues are sorted by how many terms they need and summed in blocks of a 2-D array (a row per queue, a
column per index; a block's queues need at least half its width). A row is the running product of the term
ratios w / (x+j) from its left end, divided by its value at the peak: within e^(+-a few 50), no log or exp per
term. The log of the peak term is a short direct sum plus Stirling's series for the rest (no lgamma in numpy);
the first harmonic number psi(x + low + 2) - psi(x + 1) as the scalar computes it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

_DROP = 50.0  # the range ends where a term is below e^-50 (2e-22) of the peak term
_BLOCK = 1 << 14  # cells of one 2-D block (a few fit in the CPU's caches)
_DIRECT = 20  # log t_p sums its first terms directly, the rest by Stirling's series (arguments > 20)


class LogSums(NamedTuple):
    """Logs of sum_j t_j, sum_{j>=1} t_j, sum_j j t_j and sum_j t_j x/(x+j+1) h_j (-inf for an empty sum)."""

    total: Array
    beyond_first: Array
    first_moment: Array  # NaN unless asked for
    wait_served: Array  # NaN unless asked for


def log_sums(x: Array, w: Array, *, moments: bool = True) -> LogSums:
    """The series of t_j(w) for x > 0, w > 0 per queue (1-D arrays of one length); the last two if ``moments``."""
    peak = np.maximum(np.floor(w - x), 0.0)
    low = peak - np.minimum(peak, np.ceil(np.sqrt(2 * _DROP * w)) + 1)
    with np.errstate(divide="ignore"):
        geometric = np.ceil(_DROP / -np.log(w / (x + peak + 1)))
    quadratic = np.ceil(np.sqrt(2 * _DROP * w / math.log(2))) + 1
    quadratic = np.where(quadratic <= w + 1, quadratic, np.ceil(w) + 1 + math.ceil(_DROP / math.log(2)))
    widths = (peak - low + np.maximum(np.minimum(geometric, quadratic), 1.0) + 1).astype(np.int64)
    harmonic = _harmonic(x, low) if moments else None
    sums = np.full((4, x.size), np.nan)
    order = np.argsort(widths, kind="stable")
    ordered = widths[order]
    reach = np.arange(1, order.size + 1) - np.maximum(_BLOCK // ordered, 1)  # a block may start from here on
    start = 0
    while start < order.size:  # blocks of about _BLOCK cells, of queues needing at least half the block's width
        end = int(np.searchsorted(reach, start, side="right"))
        end = min(end, int(np.searchsorted(ordered, 2 * ordered[start], side="right")))
        rows = order[start:end]
        block = _block(
            x[rows],
            w[rows],
            peak[rows] - low[rows],
            low[rows],
            width=int(ordered[end - 1]),
            harmonic=None if harmonic is None else harmonic[rows],
        )
        sums[: len(block), rows] = block
        start = end
    with np.errstate(divide="ignore"):
        return LogSums(*(_log_term(x, w, peak) + np.log(sums)))


def _block(x: Array, w: Array, anchor: Array, low: Array, *, width: int, harmonic: Array | None) -> list[Array]:
    """The sums for a few queues, each over j = low, ..., low + width - 1, relative to the term at low + anchor."""
    j = low[:, None] + np.arange(width)
    xj = x[:, None] + j
    terms = np.divide(w[:, None], xj)  # t_j / t_{j-1}
    terms[:, 0] = 1.0
    np.cumprod(terms, axis=1, out=terms)  # t_j / t_low: within e^{+-(a few _DROP)}, no overflow
    terms /= terms[np.arange(x.size), anchor.astype(np.intp)][:, None]
    total = terms.sum(axis=1)
    beyond = terms[:, 1:].sum(axis=1) + np.where(low > 0, terms[:, 0], 0.0)
    if harmonic is None:
        return [total, beyond]
    inverse = np.reciprocal(np.add(xj, 1, out=xj), out=xj)
    served = x[:, None] * inverse
    inverse[:, 0] = harmonic
    served *= np.cumsum(inverse, axis=1, out=inverse)  # h_j
    return [total, beyond, np.einsum("ij,ij->i", terms, j), np.einsum("ij,ij->i", served, terms)]


def _log_term(x: Array, w: Array, peak: Array) -> Array:
    """log t_p(w): its first terms summed, then sum_{i=21}^{p} log(w/(x+i)) = m log w - (lgamma(b) - lgamma(a))
    with a = x + 21, b = x + p + 1, m = p - 20, by Stirling's series written so that nothing large cancels."""
    i = np.arange(1, _DIRECT + 1)
    head: Array = np.where(i <= peak[:, None], np.log(w[:, None] / (x[:, None] + i)), 0.0).sum(axis=1)
    m = np.maximum(peak - _DIRECT, 0.0)
    a, b = x + _DIRECT + 1, x + peak + 1
    tail = m * np.log(w / b) - (a - 0.5) * np.log1p(m / a) + m + _stirling(a) - _stirling(b)
    return head + np.where(m > 0, tail, 0.0)


def _stirling(z: Array) -> Array:
    """lgamma(z) - ((z - 1/2) log z - z + log(2 pi)/2), asymptotic series (error < 1e-15 for z >= 20)."""
    inv2 = 1 / (z * z)
    return (1 / z) * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))


def _harmonic(x: Array, low: Array) -> Array:
    """h_low = sum_{m<=low} 1/(x+m+1) = psi(x + low + 2) - psi(x + 1)."""
    out = 1 / (x + 1)
    far = np.flatnonzero(low > 0)
    if far.size:
        out[far] = _digamma_difference(x[far] + 1, x[far] + low[far] + 2)
    return out


def _digamma_difference(low: Array, high: Array) -> Array:
    """psi(high) - psi(low) for high >= low > 0, as processors/staffing.py computes it: psi(a) = psi(a+1) - 1/a
    until the argument is >= 20, then the asymptotic series of psi(a) - log(a)."""
    steps = np.arange(20)
    low_steps, high_steps = np.ceil(np.maximum(20 - low, 0)), np.ceil(np.maximum(20 - high, 0))
    shift: Array = np.where(steps < low_steps[:, None], 1 / (low[:, None] + steps), 0.0).sum(axis=1)
    shift -= np.where(steps < high_steps[:, None], 1 / (high[:, None] + steps), 0.0).sum(axis=1)
    low, high = low + low_steps, high + high_steps

    def tail(arg: Array) -> Array:  # psi(arg) - log(arg)
        inv2 = 1 / (arg * arg)
        return -0.5 / arg - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 / 240)))

    return shift + np.log1p((high - low) / low) + tail(high) - tail(low)
