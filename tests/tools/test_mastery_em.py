"""EM: recovers simulated parameters; the vectorized passes equal plain per-sequence loops."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from readloom.tools.mastery_data import ResponseLog, from_records
from readloom.tools.mastery_em import em_step, fit_bkt, log_likelihood, predict_responses
from readloom.tools.mastery_model import BKTModel, BKTParams, p_correct, update

TRUE = {
    "fractions": BKTParams(prior=0.3, learn=0.15, guess=0.2, slip=0.1),
    "decimals": BKTParams(prior=0.55, learn=0.08, guess=0.25, slip=0.15),
}


def _log(cols: dict[str, list]) -> ResponseLog:
    return from_records(cols["user_id"], cols["skill_name"], cols["correct"], cols["order_id"])


def _sequences(data: ResponseLog) -> dict[str, list[list[int]]]:
    """Plain grouping: skill -> one list of responses per student, in order."""
    seqs: dict[tuple[int, int], list[int]] = defaultdict(list)
    for u, s, c in zip(data.user, data.skill, data.correct, strict=True):
        seqs[(int(s), int(u))].append(int(c))
    out: dict[str, list[list[int]]] = defaultdict(list)
    for (s, _), obs in seqs.items():
        out[data.skills[s]].append(obs)
    return out


def _emit(p: BKTParams, o: int) -> tuple[float, float]:
    """P(o | unknown), P(o | known)."""
    return (p.guess if o else 1 - p.guess), ((1 - p.slip) if o else p.slip)


def _reference_loglik(p: BKTParams, seqs: list[list[int]]) -> float:
    total = 0.0
    for obs in seqs:
        alpha = [1 - p.prior, p.prior]
        for t, o in enumerate(obs):
            if t:
                a0, a1 = alpha
                alpha = [a0 * (1 - p.learn) + a1 * p.forget, a0 * p.learn + a1 * (1 - p.forget)]
            e0, e1 = _emit(p, o)
            alpha = [alpha[0] * e0, alpha[1] * e1]
            c = alpha[0] + alpha[1]
            total += math.log(c)
            alpha = [alpha[0] / c, alpha[1] / c]
    return total


def _reference_em_step(p: BKTParams, seqs: list[list[int]]) -> BKTParams:
    """Textbook Baum-Welch (unscaled alpha/beta; the sequences are short)."""
    trans = [[1 - p.learn, p.learn], [p.forget, 1 - p.forget]]
    init = [0.0, 0.0]
    xi = [[0.0, 0.0], [0.0, 0.0]]
    from_state = [0.0, 0.0]
    emit_correct = [0.0, 0.0]
    occupancy = [0.0, 0.0]
    for obs in seqs:
        T = len(obs)
        e = [_emit(p, o) for o in obs]
        alpha = [[0.0, 0.0] for _ in range(T)]
        beta = [[1.0, 1.0] for _ in range(T)]
        alpha[0] = [(1 - p.prior) * e[0][0], p.prior * e[0][1]]
        for t in range(1, T):
            for j in (0, 1):
                alpha[t][j] = sum(alpha[t - 1][i] * trans[i][j] for i in (0, 1)) * e[t][j]
        for t in range(T - 2, -1, -1):
            for i in (0, 1):
                beta[t][i] = sum(trans[i][j] * e[t + 1][j] * beta[t + 1][j] for j in (0, 1))
        like = alpha[-1][0] + alpha[-1][1]
        for t in range(T):
            gamma = [alpha[t][i] * beta[t][i] / like for i in (0, 1)]
            if t == 0:
                init = [init[0] + gamma[0], init[1] + gamma[1]]
            for i in (0, 1):
                occupancy[i] += gamma[i]
                emit_correct[i] += gamma[i] * obs[t]
                if t < T - 1:
                    from_state[i] += gamma[i]
                    for j in (0, 1):
                        xi[i][j] += alpha[t][i] * trans[i][j] * e[t + 1][j] * beta[t + 1][j] / like
    return BKTParams(
        prior=init[1] / (init[0] + init[1]),
        learn=xi[0][1] / from_state[0],
        guess=emit_correct[0] / occupancy[0],
        slip=(occupancy[1] - emit_correct[1]) / occupancy[1],
        forget=xi[1][0] / from_state[1],
    )


def test_em_recovers_known_parameters(simulate) -> None:
    data = _log(simulate(TRUE, n_students=800, n_steps=20, seed=7))
    result = fit_bkt(data, restarts=5, seed=1)
    for skill, true in TRUE.items():
        got = result.model.params(skill)
        for name in ("prior", "learn", "guess", "slip"):
            assert getattr(got, name) == pytest.approx(getattr(true, name), abs=0.03), (skill, name)
    assert result.model.forgets is False and result.model.params("fractions").forget == 0.0


def test_em_with_forgetting_recovers_forget(simulate) -> None:
    truth = {"x": BKTParams(prior=0.3, learn=0.2, guess=0.15, slip=0.1, forget=0.1)}
    data = _log(simulate(truth, n_students=1500, n_steps=20, seed=3))
    got = fit_bkt(data, forgets=True, seed=2).model.params("x")
    assert got.forget == pytest.approx(0.1, abs=0.04)
    assert got.learn == pytest.approx(0.2, abs=0.05)


@pytest.mark.parametrize("forget", [0.0, 0.07])
def test_vectorized_passes_equal_reference_loops(simulate, forget: float) -> None:
    # ragged sequences: drop a random third of the responses
    cols = simulate(TRUE, n_students=40, n_steps=8, seed=11)
    keep = np.random.default_rng(0).random(len(cols["correct"])) > 0.33
    data = _log({k: [v for v, m in zip(vals, keep, strict=True) if m] for k, vals in cols.items()})
    model = BKTModel(
        {
            "fractions": BKTParams(prior=0.4, learn=0.1, guess=0.2, slip=0.12, forget=forget),
            "decimals": BKTParams(prior=0.6, learn=0.2, guess=0.3, slip=0.08, forget=forget),
        },
        forgets=forget > 0,
    )
    seqs = _sequences(data)
    ll = log_likelihood(model, data)
    stepped = em_step(model, data)
    for skill, params in model.skills.items():
        assert ll[skill] == pytest.approx(_reference_loglik(params, seqs[skill]), rel=1e-10)
        ref = _reference_em_step(params, seqs[skill])
        got = stepped.params(skill)
        names = ("prior", "learn", "guess", "slip") + (("forget",) if forget else ())
        for name in names:
            assert getattr(got, name) == pytest.approx(getattr(ref, name), rel=1e-9), name


def test_em_increases_likelihood(simulate) -> None:
    data = _log(simulate(TRUE, n_students=100, n_steps=10, seed=5))
    model = BKTModel({s: BKTParams(0.5, 0.1, 0.3, 0.2) for s in TRUE})
    before = log_likelihood(model, data)
    after = log_likelihood(em_step(model, data), data)
    assert all(after[s] > before[s] for s in TRUE)
    fitted = fit_bkt(data, seed=0)
    assert all(fitted.log_likelihood[s] >= after[s] for s in TRUE)


def test_predictions_use_the_state_before_each_response(simulate) -> None:
    data = _log(simulate(TRUE, n_students=30, n_steps=6, seed=9))
    model = BKTModel(dict(TRUE))
    predicted = predict_responses(model, data)
    state: dict[tuple[int, int], float] = {}
    for i, (u, s, c) in enumerate(zip(data.user, data.skill, data.correct, strict=True)):
        params = model.params(data.skills[s])
        p = state.get((u, s), params.prior)
        assert predicted[i] == pytest.approx(p_correct(p, params), abs=1e-12)
        state[(u, s)] = update(p, int(c), params)


def test_guess_and_slip_stay_bounded() -> None:
    # a skill where "correct" is rarer after practice pushes unconstrained EM past 0.5
    users = [f"u{i}" for i in range(50) for _ in range(6)]
    correct = [1, 1, 1, 0, 0, 0] * 50
    data = from_records(users, ["odd"] * 300, correct, list(range(300)))
    p = fit_bkt(data, seed=0).model.params("odd")
    assert p.guess < 0.5 and p.slip < 0.5


def test_smoothing_steadies_a_skill_with_little_data() -> None:
    # two students, all correct: maximum likelihood drives slip to its lower bound
    data = from_records(["a", "a", "b", "b"], ["tiny"] * 4, [1, 1, 1, 1], [1, 2, 3, 4])
    raw = fit_bkt(data, smoothing=0.0, seed=0).model.params("tiny")
    smooth = fit_bkt(data, smoothing=5.0, seed=0).model.params("tiny")
    assert raw.slip < 0.01
    assert abs(smooth.slip - 0.1) < abs(raw.slip - 0.1)
    assert abs(smooth.learn - 0.1) <= abs(raw.learn - 0.1)
