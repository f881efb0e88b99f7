"""Mastery model operations: gather recent responses, refit, compare, promote or keep.

Training data is the app's own graded attempts (``MasteryStore.responses``) plus any
imported CSV or xAPI file. The yardstick is a held-out slice of *students* (a stable hash
of the id puts one in five aside): taken from the app's own attempts when it has enough of
them, because imported files may be wrong and must never define what "better" means;
otherwise from all data. The candidate is promoted only when its held-out AUC is not
below production's by more than ``settings.refit_tolerance``, its RMSE is not worse by
more than the same margin, and it discriminates at all (AUC >= ``MIN_AUC``). Every
candidate is registered, promoted or not; the old production is archived for rollback.

Cold start. A new *student* starts a skill at ``cold_start_prior``: the skill's fitted
P(L0) blended half and half with the student's mean mastery of the skill's direct
prerequisites (``tools/mastery_model.py``). A new *skill* (in the skill graph, absent
from the training data) gets parameters averaged from its prerequisites' fitted (or
themselves derived) parameters, in topological order; a skill with none falls back to
the model's default (the median over fitted skills).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from readloom.errors import InputError
from readloom.mlops.registry import ModelRecord, Registry
from readloom.settings import Settings
from readloom.storage.models_mlops import ModelVersion
from readloom.tools.mastery_cli import metrics
from readloom.tools.mastery_data import ResponseLog, from_records, load_responses
from readloom.tools.mastery_em import fit_bkt, predict_responses
from readloom.tools.mastery_model import BKTModel, BKTParams
from readloom.tools.prerequisites import SkillGraph

log = logging.getLogger(__name__)

MODEL_FILE = "mastery_model.json"
HOLDOUT_MOD = 5
MIN_APP_HOLDOUT = 200  # app responses needed for the app's own slice to be the yardstick
MIN_AUC = 0.55  # below this a model does not tell students apart: never promoted
RESTARTS = 3


@dataclass
class Rows:
    users: list[str]
    skills: list[str]
    correct: list[int]
    order: list[float]
    origin: list[str]  # "app" or "import"

    def extend(self, users, skills, correct, order, origin: str) -> None:
        self.users += list(users)
        self.skills += list(skills)
        self.correct += [int(c) for c in correct]
        self.order += [float(o) for o in order]
        self.origin += [origin] * len(correct)

    def __len__(self) -> int:
        return len(self.correct)


def data_sha256(rows: Rows) -> str:
    """Digest of the training rows as a sorted canonical table (order-independent)."""
    lines = sorted(
        f"{u}\t{s}\t{c}\t{o!r}"
        for u, s, c, o in zip(rows.users, rows.skills, rows.correct, rows.order, strict=True)
    )
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def _log_to_rows(rows: Rows, data: ResponseLog, origin: str, prefix: str) -> None:
    rows.extend(
        [f"{prefix}{data.users[u]}" for u in data.user],
        [data.skills[s] for s in data.skill],
        data.correct.tolist(),
        data.order.tolist(),
        origin,
    )


def gather(
    settings: Settings,
    *,
    store: Any = None,
    csvs: list[Path] = (),  # type: ignore[assignment]
    xapi: list[Path] = (),  # type: ignore[assignment]
    since_days: int | None = None,
) -> Rows:
    """Recent responses from the app's store and imported files (each checked row by row)."""
    rows = Rows([], [], [], [], [])
    if store is not None:
        days = settings.refit_window_days if since_days is None else since_days
        since = time.time() - days * 86400
        for u, s, c, t, _ in store.responses(since=since):
            rows.extend([f"app:{u}"], [s], [c], [t], "app")
    for i, path in enumerate(csvs):
        data = load_responses(path, max_bad_share=settings.import_max_bad_share)
        _log_to_rows(rows, data, "import", f"csv{i}:")
    for i, path in enumerate(xapi):
        from readloom.mlops.imports import load_xapi

        data = load_xapi(path, max_bad_share=settings.import_max_bad_share)
        _log_to_rows(rows, data, "import", f"xapi{i}:")
    return rows


def _held_out(user: str) -> bool:
    return int(hashlib.sha256(user.encode()).hexdigest()[:8], 16) % HOLDOUT_MOD == 0


def split(rows: Rows) -> tuple[ResponseLog, ResponseLog, str]:
    """(train, held-out, which slice): see the module docstring."""
    held = np.array([_held_out(u) for u in rows.users], dtype=bool)
    app = np.array([o == "app" for o in rows.origin], dtype=bool)
    if int((held & app).sum()) >= MIN_APP_HOLDOUT:
        test_mask, source = held & app, "app"
    else:
        test_mask, source = held, "all"
    train_mask = ~held
    if not train_mask.any() or not test_mask.any():
        raise InputError("too few students to hold some out: a refit needs at least ten")

    def take(mask: np.ndarray) -> ResponseLog:
        idx = np.flatnonzero(mask)
        return from_records(
            [rows.users[i] for i in idx],
            [rows.skills[i] for i in idx],
            [rows.correct[i] for i in idx],
            [rows.order[i] for i in idx],
        )

    return take(train_mask), take(test_mask), source


def prerequisite_params(model: BKTModel, graph: SkillGraph | None) -> list[str]:
    """Give graph skills the data never showed their prerequisites' mean parameters."""
    if graph is None:
        return []
    derived: list[str] = []
    for skill in sorted(graph.skills, key=lambda s: graph.topo_index(s.id)):
        if skill.id in model.skills:
            continue
        known = [model.skills[p] for p in skill.prerequisites if p in model.skills]
        if not known:
            continue
        model.skills[skill.id] = BKTParams(
            *(float(np.mean([getattr(k, f) for k in known])) for f in
              ("prior", "learn", "guess", "slip", "forget"))
        )  # fmt: skip
        derived.append(skill.id)
    return derived


def _production_model(registry: Registry) -> tuple[BKTModel, ModelRecord | None]:
    prod = registry.production("mastery")
    if prod is None:
        return BKTModel(), None
    return BKTModel.from_json(registry.artifact("mastery", prod.version)), prod


def decide(
    candidate: dict[str, Any], production: dict[str, Any], tolerance: float
) -> tuple[bool, str]:
    c_auc, p_auc = candidate.get("auc"), production.get("auc")
    if c_auc is None:
        return False, "held-out slice has one outcome class only: AUC undefined"
    if c_auc < MIN_AUC:
        return False, f"held-out AUC {c_auc:.4f} is below the floor {MIN_AUC}"
    if p_auc is not None and c_auc < p_auc - tolerance:
        return False, f"held-out AUC {c_auc:.4f} < production {p_auc:.4f} - {tolerance}"
    if candidate["rmse"] > production["rmse"] + tolerance:
        return False, (
            f"held-out RMSE {candidate['rmse']:.4f} > production {production['rmse']:.4f} "
            f"+ {tolerance}"
        )
    return True, "not worse than production on the held-out slice"


def refit(
    settings: Settings,
    *,
    store: Any = None,
    csvs: list[Path] = (),  # type: ignore[assignment]
    xapi: list[Path] = (),  # type: ignore[assignment]
    graph: SkillGraph | None = None,
    registry: Registry | None = None,
    tolerance: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train a candidate, compare it with production, promote it or archive it."""
    registry = registry or Registry(settings)
    tolerance = settings.refit_tolerance if tolerance is None else tolerance
    if graph is None and settings.skills_path.exists():
        graph = SkillGraph.load(settings.skills_path)
    rows = gather(settings, store=store, csvs=list(csvs), xapi=list(xapi))
    if len(rows) == 0:
        raise InputError("no responses to train on (no graded attempts and no --data)")
    digest = data_sha256(rows)
    train, test, slice_source = split(rows)
    result = fit_bkt(train, restarts=RESTARTS, seed=seed)
    candidate = result.model
    derived = prerequisite_params(candidate, graph)
    production, prod_record = _production_model(registry)
    cand_metrics = metrics(test.correct, predict_responses(candidate, test))
    prod_metrics = metrics(test.correct, predict_responses(production, test))
    ok, reason = decide(cand_metrics, prod_metrics, tolerance)
    training = {
        "algorithm": "BKT (EM, numpy)",
        "restarts": RESTARTS,
        "seed": seed,
        "smoothing": candidate.info.get("smoothing"),
        "rows": len(rows),
        "rows_app": rows.origin.count("app"),
        "rows_imported": rows.origin.count("import"),
        "train_rows": len(train),
        "heldout_rows": len(test),
        "heldout_slice": f"students with sha256(id) % {HOLDOUT_MOD} == 0 ({slice_source})",
        "skills_fitted": len(result.model.skills) - len(derived),
        "skills_from_prerequisites": derived,
        "tolerance": tolerance,
    }
    candidate.info = {k: v for k, v in candidate.info.items() if k != "fit_seconds"}
    record = registry.register(
        "mastery",
        artifact=candidate.to_json(),
        data_sha256=digest,
        training=training,
        metrics={
            "heldout": cand_metrics,
            "production_on_same_slice": prod_metrics,
            "production_version": prod_record.version if prod_record else None,
        },
        note=reason,
    )
    if ok:
        record = registry.promote("mastery", record.version)
    else:
        registry.archive("mastery", record.version, note=f"not promoted: {reason}")
        record = registry.get("mastery", record.version)
    log.info("mastery_refit version=%d promoted=%s", record.version, ok)
    return {
        "version": record.version,
        "promoted": ok,
        "reason": reason,
        "stage": record.stage,
        "data_sha256": digest,
        "candidate": cand_metrics,
        "production": prod_metrics,
        "production_version": prod_record.version if prod_record else None,
        "rows": len(rows),
    }


def materialize(settings: Settings, row: ModelVersion) -> None:
    """Promotion hook: write the promoted parameters where every MasteryStore reads them."""
    model = BKTModel.from_json(row.artifact)
    model.info = dict(model.info) | {"registry_version": row.version}
    model.save(settings.ensure_home() / MODEL_FILE)
    from readloom.mlops.provenance import reset_cache

    reset_cache()
