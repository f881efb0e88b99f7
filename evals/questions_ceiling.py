"""How far the offline question generator can reach on FairytaleQA val, not what it picks.

For every val section with local expert questions (the eval's per-section measure, on all
sections rather than its seeded six per story), three mean ROUGE-L figures of each expert
question against its best-matching generated question:

- ``asked``: the set a teacher gets, as many questions as the experts wrote;
- ``every_candidate``: every question the generator can write for the section (up to 50);
- ``best_choice``: the same number as the experts wrote, chosen greedily *with the expert
  questions in hand* (an oracle no ranking can beat).

When ``every_candidate`` is short of a goal, no choice or ranking of what the generator
writes meets it: only new kinds of question can. Run:
``python evals/questions_ceiling.py [--json out.json]`` (about a minute on two cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from evalkit.fairytaleqa import load_split  # noqa: E402
from evalkit.question_quality import local_questions  # noqa: E402
from evalkit.suites.questions import measured_sections, unwrap  # noqa: E402
from evalkit.text import best_rouge_l  # noqa: E402


def _best_choice(refs: list[str], candidates: list[str], k: int) -> list[str]:
    """Greedy: each pick adds the most to the summed best match over the expert questions."""
    chosen: list[str] = []
    for _ in range(min(k, len(candidates))):
        rest = [c for c in candidates if c not in chosen]
        chosen.append(max(rest, key=lambda c: sum(best_rouge_l(r, [*chosen, c]) for r in refs)))
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    ap.add_argument("--grade", type=int, default=4, help="target grade of every set")
    args = ap.parse_args()

    from readloom.llm.offline.questions import MAX_COUNT, generate_questions
    from readloom.settings import Settings

    asked, every, best = [], [], []
    vocabulary = total = sections = 0
    for story in load_split(Settings().data_path, "val"):
        title = story.name.replace("-", " ").title()
        for sid in measured_sections(story):
            refs = [r.question for r in local_questions(story, sid)]
            text = unwrap(story.sections[sid])

            def ask(n: int, text: str = text, title: str = title) -> list:
                return generate_questions(
                    passage_title=title, passage_text=text, count=n, grade=args.grade
                ).questions

            mine, all_ = ask(len(refs)), [q.question for q in ask(MAX_COUNT)]
            oracle = _best_choice(refs, all_, len(refs))
            sections += 1
            total += len(mine)
            vocabulary += sum(q.type == "vocabulary" for q in mine)
            for r in refs:
                asked.append(best_rouge_l(r, [q.question for q in mine]) if mine else 0.0)
                every.append(best_rouge_l(r, all_) if all_ else 0.0)
                best.append(best_rouge_l(r, oracle) if oracle else 0.0)
    report = {
        "sections": sections,
        "expert_questions": len(asked),
        "rouge_l": {
            "asked": round(statistics.fmean(asked), 4),
            "every_candidate": round(statistics.fmean(every), 4),
            "best_choice": round(statistics.fmean(best), 4),
        },
        "vocabulary_share_of_asked": round(vocabulary / max(1, total), 3),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
