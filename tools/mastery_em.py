"""BKT parameters by EM (Baum-Welch), vectorized with numpy over every student and skill.

Every (student, skill) practice sequence is one row. Rows are sorted by length, longest
first, and responses are stored "packed" time step by time step: at step ``t`` the rows
still running are a prefix ``[:active[t]]``, and their cells are the contiguous slice
``off[t]:off[t + 1]``. So the only Python loop is over time steps; each step works on
all sequences of all skills (and all random restarts, stacked as extra rows) at once,
and padding costs nothing.

The backward pass is the two-state smoother written with filtered quantities
(P(known_t | o_1..t) and the one-step prediction), which needs no emission terms.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from readloom.errors import InputError
from readloom.tools.mastery_data import ResponseLog
from readloom.tools.mastery_model import BKTModel, BKTParams

log = logging.getLogger(__name__)

_NAMES = ("prior", "learn", "guess", "slip", "forget")
SMOOTHING_CENTER = {"prior": 0.5, "learn": 0.1, "guess": 0.2, "slip": 0.1, "forget": 0.05}


@dataclass(frozen=True)
class Bounds:
    """Box constraints that keep BKT identifiable: guess and slip below 0.5 (so a student
    who knows the skill is likelier to answer right). 0.499 beat 0.3/0.4/0.45 in 5-fold
    user cross-validation on the ASSISTments training split."""

    eps: float = 1e-4
    max_guess: float = 0.499
    max_slip: float = 0.499
    max_forget: float = 0.5

    def clip(self, p: dict[str, np.ndarray], forgets: bool) -> None:
        np.clip(p["prior"], self.eps, 1 - self.eps, out=p["prior"])
        np.clip(p["learn"], self.eps, 1 - self.eps, out=p["learn"])
        np.clip(p["guess"], self.eps, self.max_guess, out=p["guess"])
        np.clip(p["slip"], self.eps, self.max_slip, out=p["slip"])
        if forgets:
            np.clip(p["forget"], self.eps, self.max_forget, out=p["forget"])
        else:
            p["forget"][:] = 0.0


@dataclass(frozen=True)
class Sequences:
    """Packed practice sequences (see module docstring)."""

    skills: list[str]
    row_skill: np.ndarray  # (N,) skill code per sequence, rows longest first
    lengths: np.ndarray  # (N,) descending
    active: np.ndarray  # (T,) rows with length > t
    off: np.ndarray  # (T + 1,) packed offsets
    obs: np.ndarray  # (cells,) 0/1 float64
    cell_row: np.ndarray  # (cells,) sequence row of each cell
    cell_log: np.ndarray  # (cells,) index of the response in the ResponseLog
    first: np.ndarray = field(repr=False)  # (cells,) bool: the cell is t == 0
    has_next: np.ndarray = field(repr=False)  # (cells,) bool: the sequence goes on after it

    @property
    def n_cells(self) -> int:
        return len(self.obs)


def build_sequences(data: ResponseLog) -> Sequences:
    """Group a chronological log into per-(skill, user) sequences, packed by time step."""
    n = len(data)
    if n == 0:
        raise InputError("no responses in the data")
    pos = np.arange(n)
    order = np.lexsort((pos, data.user, data.skill))  # skill, then user, then time
    sk, us = data.skill[order], data.user[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (sk[1:] != sk[:-1]) | (us[1:] != us[:-1])
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, n))
    t = pos - starts[group]
    by_len = np.argsort(-lengths, kind="stable")
    rank = np.empty_like(by_len)
    rank[by_len] = np.arange(len(by_len))
    row = rank[group]
    lengths_sorted = lengths[by_len]
    t_max = int(lengths_sorted[0])
    active = np.searchsorted(-lengths_sorted, -np.arange(t_max), side="left")
    off = np.zeros(t_max + 1, dtype=np.int64)
    off[1:] = np.cumsum(active)
    cell = off[t] + row
    obs = np.empty(n, dtype=np.float64)
    obs[cell] = data.correct[order]
    cell_log = np.empty(n, dtype=np.int64)
    cell_log[cell] = order
    cell_row = np.empty(n, dtype=np.int64)
    cell_row[cell] = row
    cell_t = np.empty(n, dtype=np.int64)
    cell_t[cell] = t
    return Sequences(
        skills=list(data.skills),
        row_skill=sk[starts][by_len],
        lengths=lengths_sorted,
        active=active,
        off=off,
        obs=obs,
        cell_row=cell_row,
        cell_log=cell_log,
        first=cell_t == 0,
        has_next=lengths_sorted[cell_row] > cell_t + 1,
    )


class _Stack:
    """``reps`` copies of the sequences, row-interleaved (row * reps + r), for restarts."""

    def __init__(self, seqs: Sequences, reps: int):
        n_skills = len(seqs.skills)
        self.reps, self.n_params = reps, reps * n_skills
        self.active = seqs.active * reps
        self.off = seqs.off * reps
        shift = np.arange(reps) * n_skills
        self.row_pidx = (np.repeat(seqs.row_skill, reps).reshape(-1, reps) + shift).ravel()
        cell_skill = seqs.row_skill[seqs.cell_row]
        self.cell_pidx = (np.repeat(cell_skill, reps).reshape(-1, reps) + shift).ravel()
        self.obs = np.repeat(seqs.obs, reps)
        self.first = np.repeat(seqs.first, reps)
        self.has_next = np.repeat(seqs.has_next, reps)
        self.n_seq_per_param = np.bincount(self.row_pidx, minlength=self.n_params).astype(float)

    def sums(self, weights: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
        idx = self.cell_pidx if cells is None else self.cell_pidx[cells]
        return np.bincount(idx, weights=weights, minlength=self.n_params)


def _forward(st: _Stack, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predicted P(known) before each response, filtered P(known) after it, and P(o_t | o_<t)."""
    learn = p["learn"][st.row_pidx]
    keep = 1.0 - p["forget"][st.row_pidx] - learn  # next = learn + post * keep
    guess, slip = p["guess"][st.cell_pidx], p["slip"][st.cell_pidx]
    e1 = np.where(st.obs > 0, 1.0 - slip, slip)
    e0 = np.where(st.obs > 0, guess, 1.0 - guess)
    pred = np.empty_like(st.obs)
    post = np.empty_like(st.obs)
    like = np.empty_like(st.obs)
    a = p["prior"][st.row_pidx].copy()
    for t in range(len(st.active)):
        n, s = st.active[t], slice(st.off[t], st.off[t + 1])
        an = a[:n]
        pred[s] = an
        known = an * e1[s]
        c = known + (1.0 - an) * e0[s]
        like[s] = c
        q = known / c
        post[s] = q
        a[:n] = learn[:n] + q * keep[:n]
    return pred, post, like


def _backward(
    st: _Stack, p: dict[str, np.ndarray], pred: np.ndarray, post: np.ndarray, forgets: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smoothed P(known_t) and expected transitions unknown->known / known->unknown at t."""
    learn = p["learn"][st.row_pidx]
    forget = p["forget"][st.row_pidx]
    gamma = post.copy()  # right for each sequence's last step
    xi01 = np.zeros_like(post)
    xi10 = np.zeros_like(post) if forgets else None
    for t in range(len(st.active) - 2, -1, -1):
        m = st.active[t + 1]  # rows that go on to t + 1
        s = slice(st.off[t], st.off[t] + m)
        s_next = slice(st.off[t + 1], st.off[t + 1] + m)
        q, g_next, p1 = post[s], gamma[s_next], pred[s_next]
        ratio = g_next / p1
        xi01[s] = ratio * (1.0 - q) * learn[:m]
        if xi10 is None:
            gamma[s] = ratio * q
        else:
            stay = ratio * q * (1.0 - forget[:m])
            drop = (1.0 - g_next) / np.maximum(1.0 - p1, 1e-300) * q * forget[:m]
            xi10[s] = drop
            gamma[s] = stay + drop
    return gamma, xi01, xi10


def _m_step(
    st: _Stack,
    gamma: np.ndarray,
    xi01: np.ndarray,
    xi10: np.ndarray | None,
    old: dict[str, np.ndarray],
    smoothing: float = 0.0,
) -> dict[str, np.ndarray]:
    """Expected counts -> parameters; ``smoothing`` adds that many pseudo-observations at
    ``SMOOTHING_CENTER`` (a Beta prior: MAP-EM), which steadies skills with little data."""

    def ratio(num: np.ndarray, den: np.ndarray, fallback: np.ndarray, name: str = "") -> np.ndarray:
        if smoothing and name:
            num = num + smoothing * SMOOTHING_CENTER[name]
            den = den + smoothing
        return np.divide(num, den, out=fallback.copy(), where=den > 1e-12)

    unknown = 1.0 - gamma
    tr = st.has_next
    new = {
        "prior": ratio(
            st.sums(gamma[st.first], st.first), st.n_seq_per_param, old["prior"], "prior"
        ),
        "learn": ratio(st.sums(xi01), st.sums(unknown * tr), old["learn"], "learn"),
        "guess": ratio(st.sums(unknown * st.obs), st.sums(unknown), old["guess"], "guess"),
        "slip": ratio(st.sums(gamma * (1.0 - st.obs)), st.sums(gamma), old["slip"], "slip"),
        "forget": old["forget"].copy(),
    }
    if xi10 is not None:
        new["forget"] = ratio(st.sums(xi10), st.sums(gamma * tr), old["forget"], "forget")
    return new


def _initial(
    seqs: Sequences, restarts: int, forgets: bool, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Restart 0 starts from the first-response rate per skill; the others are random."""
    n_skills = len(seqs.skills)
    shape = (restarts, n_skills)
    first_rate = np.bincount(
        seqs.row_skill[seqs.cell_row[seqs.first]], weights=seqs.obs[seqs.first], minlength=n_skills
    ) / np.maximum(np.bincount(seqs.row_skill, minlength=n_skills), 1)
    p = {
        "prior": rng.uniform(0.05, 0.95, shape),
        "learn": rng.uniform(0.01, 0.4, shape),
        "guess": rng.uniform(0.01, 0.4, shape),
        "slip": rng.uniform(0.01, 0.3, shape),
        "forget": rng.uniform(0.0, 0.1, shape) if forgets else np.zeros(shape),
    }
    p["learn"][0], p["guess"][0], p["slip"][0] = 0.1, 0.2, 0.1
    p["prior"][0] = np.clip((first_rate - 0.2) / 0.7, 0.05, 0.95)
    if forgets:
        p["forget"][0] = 0.01
    return {k: v.ravel() for k, v in p.items()}


@dataclass
class FitResult:
    model: BKTModel
    iterations: int
    log_likelihood: dict[str, float]
    fit_seconds: float


def fit_bkt(
    data: ResponseLog | Sequences,
    *,
    forgets: bool = False,
    restarts: int = 5,
    max_iter: int = 200,
    tol: float = 1e-4,
    seed: int = 0,
    bounds: Bounds | None = None,
    smoothing: float = 5.0,
) -> FitResult:
    """Fit every skill at once; the best restart per skill (by likelihood) wins.

    A (restart, skill) pair stops updating once its log-likelihood changes by less than
    ``tol`` (relative), so each skill's result does not depend on the others.
    ``smoothing`` (pseudo-counts, see ``_m_step``): in 5-fold user cross-validation on the
    ASSISTments training split, 5-10 raised next-response AUC from 0.668 to 0.683.
    """
    started = time.perf_counter()
    seqs = data if isinstance(data, Sequences) else build_sequences(data)
    bounds = bounds or Bounds()
    rng = np.random.default_rng(seed)
    st = _Stack(seqs, restarts)
    p = _initial(seqs, restarts, forgets, rng)
    bounds.clip(p, forgets)
    done = np.zeros(st.n_params, dtype=bool)
    prev = np.full(st.n_params, -np.inf)
    ll = prev
    iterations = 0
    for _ in range(max_iter):
        iterations += 1
        pred, post, like = _forward(st, p)
        ll = st.sums(np.log(like))
        done |= np.abs(ll - prev) <= tol * np.maximum(np.abs(ll), 1.0)
        if done.all():
            break
        prev = ll
        gamma, xi01, xi10 = _backward(st, p, pred, post, forgets)
        new = _m_step(st, gamma, xi01, xi10, p, smoothing)
        bounds.clip(new, forgets)
        for name in _NAMES:
            p[name] = np.where(done, p[name], new[name])
    else:
        ll = st.sums(np.log(_forward(st, p)[2]))
    n_skills = len(seqs.skills)
    best = np.argmax(ll.reshape(restarts, n_skills), axis=0)
    pick = best * n_skills + np.arange(n_skills)
    table = {name: p[name][pick] for name in _NAMES}
    skills = {
        name: BKTParams(*(float(table[k][i]) for k in _NAMES)) for i, name in enumerate(seqs.skills)
    }
    default = BKTParams(*(float(np.median(table[k])) for k in _NAMES))
    elapsed = time.perf_counter() - started
    model = BKTModel(
        skills,
        default,
        forgets,
        {
            "restarts": restarts,
            "iterations": iterations,
            "seed": seed,
            "smoothing": smoothing,
            "fit_seconds": elapsed,
        },
    )
    log.info(
        "bkt_fit skills=%d sequences=%d responses=%d iterations=%d seconds=%.3f",
        n_skills,
        len(seqs.lengths),
        seqs.n_cells,
        iterations,
        elapsed,
    )
    return FitResult(
        model,
        iterations,
        {name: float(ll[pick[i]]) for i, name in enumerate(seqs.skills)},
        elapsed,
    )


def _params_for(model: BKTModel, skills: list[str]) -> dict[str, np.ndarray]:
    rows = [model.params(s) for s in skills]
    return {k: np.array([getattr(r, k) for r in rows], dtype=np.float64) for k in _NAMES}


def predict_responses(model: BKTModel, data: ResponseLog) -> np.ndarray:
    """P(correct) of every response from the state before it (one-step-ahead), in log order."""
    seqs = build_sequences(data)
    st = _Stack(seqs, 1)
    p = _params_for(model, seqs.skills)
    pred, _, _ = _forward(st, p)
    guess, slip = p["guess"][st.cell_pidx], p["slip"][st.cell_pidx]
    out = np.empty(seqs.n_cells)
    out[seqs.cell_log] = pred * (1.0 - slip) + (1.0 - pred) * guess
    return out


def log_likelihood(model: BKTModel, data: ResponseLog | Sequences) -> dict[str, float]:
    """Log P(responses) per skill under the model (the forward pass of the E-step)."""
    seqs = data if isinstance(data, Sequences) else build_sequences(data)
    st = _Stack(seqs, 1)
    like = _forward(st, _params_for(model, seqs.skills))[2]
    ll = st.sums(np.log(like))
    return {name: float(ll[i]) for i, name in enumerate(seqs.skills)}


def em_step(model: BKTModel, data: ResponseLog | Sequences) -> BKTModel:
    """One Baum-Welch iteration from ``model``'s parameters (unbounded; for checks and
    warm starts). Skills absent from ``data`` are dropped."""
    seqs = data if isinstance(data, Sequences) else build_sequences(data)
    st = _Stack(seqs, 1)
    p = _params_for(model, seqs.skills)
    pred, post, _ = _forward(st, p)
    gamma, xi01, xi10 = _backward(st, p, pred, post, model.forgets)
    new = _m_step(st, gamma, xi01, xi10, p)
    skills = {
        name: BKTParams(*(float(new[k][i]) for k in _NAMES)) for i, name in enumerate(seqs.skills)
    }
    return BKTModel(skills, model.default, model.forgets, {"em_step": True})
