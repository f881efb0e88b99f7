"""Bayesian knowledge tracing: parameters, the O(1) online update and cold-start priors.

A student's mastery of a skill is P(known). Each response is evidence (guess and slip
make it noisy); between practice opportunities the student may learn (and, optionally,
forget). The fitted parameters live in a small JSON file so any process can load them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readloom.errors import InputError

if TYPE_CHECKING:
    from readloom.tools.prerequisites import SkillGraph

MODEL_FORMAT = "readloom-bkt"
MODEL_VERSION = 1
COLD_START_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class BKTParams:
    """P(L0), P(T), P(G), P(S) and P(F) of one skill (forget is 0 in standard BKT)."""

    prior: float
    learn: float
    guess: float
    slip: float
    forget: float = 0.0

    def __post_init__(self) -> None:
        for name in ("prior", "learn", "forget"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0 or math.isnan(value):
                raise InputError(f"BKT parameter '{name}' must be in [0, 1], got {value}")
        for name in ("guess", "slip"):
            value = getattr(self, name)
            if not 0.0 < value < 0.5:
                raise InputError(f"BKT parameter '{name}' must be in (0, 0.5), got {value}")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


# Used for skills with no fitted data (the reading skills until real logs exist):
# three correct answers in a row from the prior take a student past 0.95.
DEFAULT_PARAMS = BKTParams(prior=0.2, learn=0.2, guess=0.2, slip=0.1)


def update(p_mastery: float, correct: bool | int, params: BKTParams) -> float:
    """Posterior P(known) after one response, then the learning (and forgetting) step."""
    if correct:
        known = p_mastery * (1.0 - params.slip)
        posterior = known / (known + (1.0 - p_mastery) * params.guess)
    else:
        known = p_mastery * params.slip
        posterior = known / (known + (1.0 - p_mastery) * (1.0 - params.guess))
    return posterior * (1.0 - params.forget) + (1.0 - posterior) * params.learn


def p_correct(p_mastery: float, params: BKTParams) -> float:
    """P(next response correct) given P(known) before the response."""
    return p_mastery * (1.0 - params.slip) + (1.0 - p_mastery) * params.guess


def cold_start_prior(
    skill: str,
    mastery: Mapping[str, float],
    graph: SkillGraph | None,
    params: BKTParams,
    *,
    weight: float = COLD_START_WEIGHT,
) -> float:
    """Prior for a skill the student has not practised: the fitted prior blended with the
    student's mean mastery of the skill's direct prerequisites (those practised so far)."""
    if graph is None or skill not in graph:
        return params.prior
    known = [mastery[p] for p in graph.prerequisites(skill) if p in mastery]
    if not known:
        return params.prior
    return (1.0 - weight) * params.prior + weight * (sum(known) / len(known))


@dataclass
class BKTModel:
    """Fitted parameters per skill, with a fallback for skills the data never showed."""

    skills: dict[str, BKTParams] = field(default_factory=dict)
    default: BKTParams = DEFAULT_PARAMS
    forgets: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def params(self, skill: str) -> BKTParams:
        return self.skills.get(skill, self.default)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "forgets": self.forgets,
            "default": self.default.to_dict(),
            "skills": {name: p.to_dict() for name, p in sorted(self.skills.items())},
            "info": self.info,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BKTModel:
        if raw.get("format") != MODEL_FORMAT or raw.get("version") != MODEL_VERSION:
            raise InputError(
                f"not a {MODEL_FORMAT} v{MODEL_VERSION} model file "
                f"(format={raw.get('format')!r}, version={raw.get('version')!r})"
            )
        try:
            skills = {str(k): BKTParams(**v) for k, v in raw["skills"].items()}
            default = BKTParams(**raw["default"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"malformed model file: {type(exc).__name__}") from None
        return cls(skills, default, bool(raw.get("forgets", False)), dict(raw.get("info", {})))

    def save(self, path: Path | str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader never sees half a model

    @classmethod
    def load(cls, path: Path | str) -> BKTModel:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"model file not found: {path}") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read model file {path.name}: {type(exc).__name__}") from None
        if not isinstance(raw, dict):
            raise InputError(f"malformed model file {path.name}")
        return cls.from_json(raw)
