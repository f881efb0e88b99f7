"""``readloom audit fairness``: is every child protected and served equally?

- PII protection per name origin: the real gate (``guardrails.pii.PiiRedactor``) on
  messages carrying names from many cultures and scripts (``fairness_data.yaml``); a name
  counts as protected when every letter of it is inside a redaction.
- Grading parity: the same correct answer in standard spelling, a child's spelling, a
  dialect and an English learner's grammar. The audit calls one function,
  ``grade(message, question) -> bool`` (default: the tutor's offline grader, ``agents.grader``), so a
  new grader is audited by passing it in.
- Recommendation and intervention parity across classes and schools of the database and
  any attribute a partner supplies (CSV ``student_id, attribute, value``; never inferred).
- Concentration: coverage of the eligible passages and the Gini coefficient of
  recommendations, for recommender v1 (everyone on the first passage by id) and v2.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from readloom.settings import Settings

DATA = Path(__file__).resolve().parent / "fairness_data.yaml"
GOALS = {"pii_recall_spread": 0.03, "grading_acceptance_spread": 0.05,
         "recommendation_coverage": 0.60}  # fmt: skip


def load_data() -> dict[str, Any]:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


# --- PII per name origin ------------------------------------------------------------------


def pii_recall(redactor: Any, data: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for group, names in data["names"].items():
        hit = total = 0
        for name in names:
            for template in data["templates"]:
                text = template.format(name=name)
                start = text.index(name)
                covered = set()
                for f in redactor.analyze(text):
                    covered.update(range(f.start, f.end))
                letters = [i for i in range(start, start + len(name)) if text[i].isalnum()]
                hit += all(i in covered for i in letters)
                total += 1
        out[group] = {"recall": hit / total, "n": total}
    return out


# --- grading parity -----------------------------------------------------------------------

Grader = Callable[[str, Any], Any]


def default_grader() -> Grader:
    """The tutor's offline grader (the floor every configuration has): an answer is
    accepted when it is graded correct or partially correct."""
    from readloom.agents.grader import GradeItem
    from readloom.agents.grader import Grader as TutorGrader

    grader = TutorGrader()

    def grade(text: str, q: Any) -> bool:
        item = GradeItem(question=q.question, answer=q.answer, response=text, evidence=q.evidence)
        return grader.grade_offline(item).accepted

    return grade


def grading_parity(data: dict[str, Any], grade: Grader) -> dict[str, dict[str, float]]:
    from readloom.state import Question

    accepted: dict[str, list[bool]] = defaultdict(list)
    for item in data["grading"]:
        q = Question(question=item["question"], type="what", answer=item["answer"],
                     evidence=item["answer"], skill="ask_answer_questions")  # fmt: skip
        for variant, text in item["variants"].items():
            verdict = grade(text, q)  # a bool, or a Grade-like object with .correct
            accepted[variant].append(bool(getattr(verdict, "correct", verdict)))
    return {v: {"acceptance": sum(a) / len(a), "n": len(a)} for v, a in accepted.items()}


# --- recommendations ----------------------------------------------------------------------


def gini(counts: list[int]) -> float:
    xs = sorted(counts)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    cum = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * cum) / (n * total) - (n + 1) / n


def _roster(seed: int = 7) -> list[dict[str, Any]]:
    """Three schools x four classes x 25 students, grades 3-6, a mix of new students and
    students with some progress (mastery drawn at random over early skills)."""
    rng = random.Random(seed)
    early = ["ask_answer_questions", "story_elements", "retell_key_details", "sequence_events",
             "cause_effect", "character_traits", "central_idea", "text_features"]  # fmt: skip
    students = []
    for school in ("north", "river", "hill"):
        for k, grade in enumerate((3, 4, 5, 6)):
            for i in range(25):
                mastery = {}
                if rng.random() < 0.6:
                    for skill in rng.sample(early, rng.randint(1, 5)):
                        mastery[skill] = round(rng.random(), 2)
                students.append({"id": f"{school}-{k}-{i}", "school": school,
                                 "class": f"{school}-g{grade}", "grade": grade,
                                 "mastery": mastery})  # fmt: skip
    return students


def concentration(settings: Settings) -> dict[str, Any]:
    from readloom.retrieval.passages import load_paths
    from readloom.tools.prerequisites import SkillGraph
    from readloom.tools.recommender import Recommender

    passages = load_paths([settings.corpus_path])
    graph = SkillGraph.load(settings.skills_path)
    rec = Recommender(graph, passages)
    roster = _roster()
    out: dict[str, Any] = {}
    for version, keyed in (("v1", False), ("v2", True)):
        picks: Counter[str] = Counter()
        eligible: set[str] = set()
        by_group: dict[str, list[bool]] = defaultdict(list)
        for s in roster:
            r = rec.recommend(s["mastery"], s["grade"], student_key=s["id"] if keyed else None)
            skill = graph.get(r.skill_id)
            eligible |= {p.passage_id for p in passages
                         if skill.suits(p.genre) and abs(p.grade - s["grade"]) <= 1}  # fmt: skip
            if r.passage_id:
                picks[r.passage_id] += 1
            fit = r.passage_grade is not None and abs(r.passage_grade - s["grade"]) <= 1
            by_group[f"school:{s['school']}"].append(fit)
            by_group[f"class:{s['class']}"].append(fit)
        counts = [picks.get(p, 0) for p in sorted(eligible)]
        top, top_n = picks.most_common(1)[0] if picks else (None, 0)
        out[version] = {
            "students": len(roster), "eligible_passages": len(eligible),
            "recommended_passages": len(picks), "coverage": len(picks) / max(1, len(eligible)),
            "gini": round(gini(counts), 4), "top_passage": top,
            "top_share": top_n / len(roster),
            "grade_fit_by_group": {g: sum(v) / len(v) for g, v in sorted(by_group.items())},
        }  # fmt: skip
    return out


def database_parity(settings: Settings, attributes: Path | None) -> dict[str, Any]:
    """Intervention rate per class (turns with an intervention) and per partner attribute."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from readloom.storage.db import migrate, sync_engine
    from readloom.storage.models import Classroom, ClassStudent, Message, TutoringSession

    migrate(settings)
    engine = sync_engine(settings)
    attrs: dict[str, list[str]] = defaultdict(list)
    if attributes is not None:
        with attributes.open(newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                if row.get("student_id") and row.get("attribute") and row.get("value"):
                    attrs[row["student_id"]].append(f"{row['attribute']}={row['value']}")
    groups: dict[str, list[bool]] = defaultdict(list)
    try:
        with Session(engine) as s:
            classes = {cs.student_id: cl.name for cs, cl in s.execute(
                select(ClassStudent, Classroom).join(Classroom, Classroom.id == ClassStudent.class_id)
            ).all()}  # fmt: skip
            rows = s.execute(
                select(TutoringSession.student_id, Message.meta).join(
                    Message, Message.session_id == TutoringSession.id
                )
            ).all()
    finally:
        engine.dispose()
    for student, meta in rows:
        flagged = bool((meta or {}).get("intervention"))
        if student in classes:
            groups[f"class:{classes[student]}"].append(flagged)
        for a in attrs.get(student, []):
            groups[a].append(flagged)
    rates = {g: {"intervention_rate": sum(v) / len(v), "turns": len(v)}
             for g, v in sorted(groups.items())}  # fmt: skip
    values = [r["intervention_rate"] for r in rates.values() if r["turns"] >= 20]
    return {"groups": rates, "spread": (max(values) - min(values)) if len(values) > 1 else None,
            "note": "groups with fewer than 20 turns are listed but not in the spread"}  # fmt: skip


# --- the report ---------------------------------------------------------------------------


def _spread(values: list[float]) -> float:
    return max(values) - min(values) if values else 0.0


def _plots(out: Path, report: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for name, title, series in (
        ("pii_recall.png", "PII recall by name origin",
         {g: v["recall"] for g, v in report["pii"].items()}),
        ("grading_acceptance.png", "Correct answers accepted, by variant",
         {g: v["acceptance"] for g, v in report["grading"].items()}),
    ):  # fmt: skip
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(series) + 1.2))
        ax.barh(list(series), list(series.values()), color="#4a7")
        ax.set_xlim(0, 1)
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        files.append(name)
    fig, ax = plt.subplots(figsize=(8, 3))
    for version in ("v1", "v2"):
        c = report["concentration"][version]
        ax.bar(version, c["coverage"], label=f"{version}: Gini {c['gini']:.2f}")
    ax.axhline(GOALS["recommendation_coverage"], color="k", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_title("Coverage of eligible passages by recommendations")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "recommendation_coverage.png", dpi=100)
    plt.close(fig)
    return [*files, "recommendation_coverage.png"]


def run_audit(
    settings: Settings,
    *,
    out: Path,
    attributes: Path | None = None,
    redactor: Any = None,
    grade: Grader | None = None,
) -> dict[str, Any]:
    data = load_data()
    if redactor is None:
        from readloom.guardrails.pii import PiiRedactor

        redactor = PiiRedactor(settings)
    report: dict[str, Any] = {
        "pii": pii_recall(redactor, data),
        "grading": grading_parity(data, grade or default_grader()),
        "concentration": concentration(settings),
        "database": database_parity(settings, attributes),
    }
    pii_spread = _spread([v["recall"] for v in report["pii"].values()])
    grading_spread = _spread([v["acceptance"] for v in report["grading"].values()])
    coverage = report["concentration"]["v2"]["coverage"]
    report["goals"] = [
        {"name": "pii_recall_spread", "value": pii_spread, "goal": f"<= {GOALS['pii_recall_spread']}",
         "met": pii_spread <= GOALS["pii_recall_spread"]},
        {"name": "grading_acceptance_spread", "value": grading_spread,
         "goal": f"<= {GOALS['grading_acceptance_spread']}",
         "met": grading_spread <= GOALS["grading_acceptance_spread"]},
        {"name": "recommendation_coverage", "value": coverage,
         "goal": f">= {GOALS['recommendation_coverage']}",
         "met": coverage >= GOALS["recommendation_coverage"]},
    ]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = _plots(out, report)
    (out / "fairness.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "fairness.md").write_text(markdown(report), encoding="utf-8")
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Fairness audit", "", "| goal | value | target | met |", "|---|---|---|---|"]
    lines += [f"| {g['name']} | {g['value']:.4f} | {g['goal']} | {'yes' if g['met'] else 'no'} |"
              for g in report["goals"]]  # fmt: skip
    lines += ["", "## PII recall by name origin", "", "| group | recall | n |", "|---|---|---|"]
    lines += [f"| {g} | {v['recall']:.3f} | {v['n']} |" for g, v in report["pii"].items()]
    lines += ["", "## Grading acceptance by variant", "", "| variant | accepted | n |",
              "|---|---|---|"]  # fmt: skip
    lines += [f"| {g} | {v['acceptance']:.3f} | {v['n']} |" for g, v in report["grading"].items()]
    lines += ["", "## Recommendation concentration", "",
              "| recommender | coverage | Gini | top passage share |", "|---|---|---|---|"]  # fmt: skip
    for version in ("v1", "v2"):
        c = report["concentration"][version]
        lines.append(
            f"| {version} | {c['coverage']:.3f} | {c['gini']:.3f} | {c['top_share']:.3f} |"
        )
    lines += ["", *(f"![{p}]({p})" for p in report["plots"]), ""]
    return "\n".join(lines)
