"""Benchmark the offline tier: questions for a ~300-word passage, cold and warm, and a tutor turn.

Not a test (pytest does not collect it). Run from the repository root:

    .venv/bin/python evals/bench_offline_questions.py [--repeat 5]

"Cold" is the first call in a fresh process, spaCy load included; "warm" repeats the
call with the parse cache cleared, so it still parses the passage.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

PASSAGE = """The Night Garden

When the sun went down over the town of Millbrook, most people closed their curtains and went to bed. Nadia did the opposite. Every summer evening she carried a flashlight, a notebook, and a jar of water into her grandfather's garden, because she wanted to see what happened there after dark.

At first the garden seemed empty. Then, slowly, it came alive. Moths with dusty gray wings circled the porch light. A toad crept out from under a flat stone and waited beside the tomato plants. Nadia wrote everything down. Her grandfather called her notes "the night report," and he read them every morning at breakfast.

One evening in July, Nadia noticed a strange white flower on a vine by the fence. It had been closed all day, but now it opened slowly, like a hand unfolding. A sweet smell drifted through the air. Within minutes, a large moth arrived and hovered in front of the blossom. It pushed a long, thin tongue deep into the flower to drink the nectar.

Nadia ran inside to ask her grandfather about it. He explained that the flower was a moonflower, a plant that blooms only at night. Because its pollinators are moths instead of bees, it opens when the moths are awake. The bright white petals are easy to see in the dark, so the moths can find them.

After that night, Nadia kept a special page for the moonflower. She recorded the time it opened, the moths that visited, and the temperature of the air. By the end of August, she had filled the whole notebook. Her grandfather said she had become a real naturalist, someone who studies living things in the wild. Nadia smiled, closed her notebook, and decided that next summer she would study the creatures of the pond.
"""

TITLE = "The Night Garden"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--count", type=int, default=8)
    args = parser.parse_args()

    t0 = time.perf_counter()
    from readloom.llm.offline import nlp
    from readloom.llm.offline.questions import generate_questions
    from readloom.llm.offline.tutor import TutorInput, tutor_reply

    imported = time.perf_counter() - t0

    def questions():
        return generate_questions(
            passage_title=TITLE, passage_text=PASSAGE, count=args.count, grade=5
        ).questions

    t1 = time.perf_counter()
    qs = questions()
    cold = time.perf_counter() - t1

    warm, cached = [], []
    for _ in range(args.repeat):
        nlp._cache.clear()
        t = time.perf_counter()
        questions()
        warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        questions()
        cached.append(time.perf_counter() - t)

    paragraphs = [p for p in PASSAGE.split("\n\n")[1:] if p.strip()]
    turns = []
    for n, q in enumerate(qs):
        turn = TutorInput(
            passage_title=TITLE, excerpts=[p for p in paragraphs if q.evidence in p],
            student_message=f"I am not sure {n}", question=q.question, answer=q.answer,
            evidence=q.evidence, move="hint", hint_level=n % 4, grade=5,
        )  # fmt: skip
        t = time.perf_counter()
        tutor_reply(turn)
        turns.append(time.perf_counter() - t)

    report = {
        "passage_words": len(PASSAGE.split()),
        "questions": len(qs),
        "types": [q.type for q in qs],
        "import_s": round(imported, 3),
        "first_call_incl_spacy_load_s": round(cold, 3),
        "warm_call_s_median": round(statistics.median(warm), 3),
        "warm_call_cached_parse_s_median": round(statistics.median(cached), 3),
        "tutor_turn_ms_median": round(statistics.median(turns) * 1000, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
