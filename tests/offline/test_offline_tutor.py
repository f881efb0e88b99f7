"""Tutoring replies: never leak, escalate with the hint level, point at the text, keep
pseudonyms intact, vary between turns."""

from __future__ import annotations

import re

import pytest

from readloom.llm.offline.leak import answer_leaks, key_terms, mentioned
from readloom.llm.offline.nlp import PLACEHOLDER
from readloom.llm.offline.questions import generate_questions
from readloom.llm.offline.tutor import TutorInput, question_type, tutor_reply

MOVES = [
    "affirm", "probe", "hint", "alternate_explanation", "redirect", "encourage", "ask_question",
]  # fmt: skip


def _excerpts(passage, evidence: str) -> list[str]:
    """Like the retriever: the paragraph with the evidence first, then one other."""
    paras = passage.paragraphs
    hit = [p for p in paras if evidence in p]
    return hit + [p for p in paras if p not in hit][:1]


def _turn(passage, q, move: str, level: int, **extra) -> TutorInput:
    fields = dict(
        passage_title=passage.title, excerpts=_excerpts(passage, q.evidence),
        student_message="I think I know but I'm not sure", question=q.question,
        answer=q.answer, evidence=q.evidence, move=move, hint_level=level,
        grade=passage.grade, student_correct=False if move == "probe" else None,
    )  # fmt: skip
    return TutorInput(**(fields | extra))


@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("move", [*MOVES, "explain"])
def test_no_reply_gives_the_answer_away(passages, question_sets, move, level):
    explain = move == "explain"  # task "explain": an alternate explanation, whatever the move
    for p in passages:
        for q in question_sets[p.key]:
            reply = tutor_reply(_turn(p, q, "hint" if explain else move, level), explain=explain)
            assert reply.strip()
            assert not answer_leaks(reply, q.answer, q.question), (q, reply)
            # stricter than the evaluator: not one key word of the answer
            assert not mentioned(key_terms(q.answer, q.question), reply), (q, reply)


def test_hints_escalate(passages, question_sets, tools):
    for p in passages:
        for q in question_sets[p.key]:
            replies = [tutor_reply(_turn(p, q, "hint", level)) for level in range(4)]
            evidence_quotes = [
                sum(len(piece.split()) for piece in tools.quoted(r) if piece in q.evidence)
                for r in replies
            ]
            assert len(set(replies)) == 4, replies
            long_quotes = [x for x in tools.quoted(replies[0]) if len(x.split()) >= 3]
            assert not any(x in p.text for x in long_quotes), replies[0]
            if q.type != "main_idea":  # a main idea is not in one place
                assert re.search(r"\bbegins\b|\bsentence\b", replies[1]), replies[1]
                assert evidence_quotes[2] >= 2, replies[2]
            # level 3 is a fill-in-the-blank or a two-choice scaffold: the student decides
            assert "___" in replies[3] or re.search(r"\bor\b[^.?]*\?", replies[3]), replies[3]
            assert evidence_quotes[3] >= evidence_quotes[0], replies


@pytest.mark.parametrize(
    "move", ["hint", "probe", "alternate_explanation", "redirect", "encourage"]
)
def test_replies_point_back_to_the_text(passages, question_sets, tools, move):
    for p in passages:
        for q in question_sets[p.key]:
            if q.type == "main_idea" and move in ("hint", "probe"):
                continue  # main-idea hints point at the title and paragraphs instead
            reply = tutor_reply(_turn(p, q, move, 1))
            from_text = [piece for piece in tools.quoted(reply) if piece in p.text]
            assert from_text, reply
            assert reply.rstrip().endswith(("?", ".")), reply


def test_ask_question_presents_the_question(passage, question_sets):
    for q in question_sets[passage.key]:
        reply = tutor_reply(_turn(passage, q, "ask_question", 0))
        assert q.question in reply


def test_affirm_praises_without_restating(passage, question_sets, tools):
    for q in question_sets[passage.key]:
        turn = _turn(passage, q, "affirm", 0, student_correct=True)
        reply = tutor_reply(turn)
        hint = tutor_reply(_turn(passage, q, "hint", 0))
        assert reply != hint
        assert "!" in reply  # warm, specific praise comes first
        assert not answer_leaks(reply, q.answer, q.question)


def test_explain_is_visibly_different(passage, question_sets, tools):
    for q in question_sets[passage.key]:
        for level in range(4):
            hint = tutor_reply(_turn(passage, q, "hint", level))
            alt = tutor_reply(_turn(passage, q, "alternate_explanation", level))
            explained = tutor_reply(_turn(passage, q, "hint", level), explain=True)
            for other in (alt, explained):  # task "explain" is an alternate explanation too
                overlap = tools.content(other) & tools.content(hint)
                assert len(overlap) / len(tools.content(other)) < 0.7, (hint, other)


def test_pseudonyms_are_kept_exactly(passage, question_sets):
    q = question_sets[passage.key][0]
    for message, expect in [
        ("hi, I'm <PERSON_1>!", "<PERSON_1>"),
        ("my name is <PERSON_12> and my email is <EMAIL_ADDRESS_1>", "<PERSON_12>"),
        ("<PERSON_2> told me the answer, is that cheating?", None),
    ]:
        for move in ("ask_question", "hint", "redirect", "encourage"):
            reply = tutor_reply(_turn(passage, q, move, 1, student_message=message))
            for found in re.findall(r"<[^<>]*>|PERSON_\d+|EMAIL_ADDRESS_\d+", reply):
                assert PLACEHOLDER.fullmatch(found), (found, reply)
            if expect:
                assert f"Hi, {expect}!" in reply
            assert "EMAIL_ADDRESS" not in reply


def test_pseudonyms_inside_excerpts_survive_quoting(passage, question_sets):
    """When the passage itself was redacted, quotes copy the pseudonyms untouched."""
    for q in question_sets[passage.key]:
        names = {"Tobias": "<PERSON_1>", "Priya": "<PERSON_1>", "Marcus": "<PERSON_2>"}
        redacted = [_redact(e, names) for e in _excerpts(passage, q.evidence)]
        turn = _turn(
            passage, q, "hint", 3, excerpts=redacted, evidence=_redact(q.evidence, names),
            question=_redact(q.question, names), answer=_redact(q.answer, names),
        )  # fmt: skip
        reply = tutor_reply(turn)
        for found in re.findall(r"<[^<>]*>|PERSON_\d+", reply):
            assert PLACEHOLDER.fullmatch(found), reply
        assert not answer_leaks(reply, turn.answer or "", turn.question)


def test_replies_vary_between_turns_but_not_between_runs(passage, question_sets):
    q = question_sets[passage.key][1]
    messages = ["I don't get it", "help please", "is it the first part?", "hmm", "no idea"]
    replies = [tutor_reply(_turn(passage, q, "hint", 1, student_message=m)) for m in messages]
    assert len(set(replies)) >= 2
    assert replies == [
        tutor_reply(_turn(passage, q, "hint", 1, student_message=m)) for m in messages
    ]


def test_questions_about_the_text_without_a_current_question(passage):
    reply = tutor_reply(
        TutorInput(
            passage_title=passage.title,
            excerpts=passage.paragraphs[:2],
            student_message=f"what does it say about the {passage.paragraphs[0].split()[3]}?",
            question=None,
            answer=None,
            evidence=None,
            move="probe",
            hint_level=1,
            grade=passage.grade,
        )  # fmt: skip
    )
    assert reply.endswith("?")
    assert '"' in reply


@pytest.mark.parametrize("grade", [2, 4, 7])
def test_reading_level_suits_the_grade(passages, tools, grade):
    """The evaluator's rule: a reply over 25 words reads at most 3 grades above the student."""
    total = too_hard = 0
    for p in passages:
        qs = generate_questions(passage_title=p.title, passage_text=p.text, count=8, grade=grade)
        for q in qs.questions:
            for move in MOVES:
                for level in range(4):
                    reply = tutor_reply(_turn(p, q, move, level, grade=grade))
                    total += 1
                    if len(reply.split()) > 25 and tools.flesch_kincaid(reply) > grade + 3:
                        too_hard += 1
    assert too_hard / total <= 0.01, (too_hard, total)


def test_question_type_is_read_from_the_question():
    assert question_type("Who climbed the tower?") == "who"
    assert question_type('What does the word "beacon" mean in the sentence "…"?') == "vocabulary"
    assert question_type('What is the main idea of "Busy Builders"?') == "main_idea"
    assert question_type("What happened after the storm ended?") == "sequence"
    assert question_type("Why did Tobias carry a lantern?") == "why"
    assert question_type("What did Tobias find?") == "what"


def _redact(text: str, names: dict[str, str]) -> str:
    for name, token in names.items():
        text = text.replace(name, token)
    return text


def test_a_stuck_child_hears_new_words_until_every_variant_is_used(passage, question_sets):
    """Each encouragement opens with wording the recent replies have not used; once all are
    used, the least recently heard comes back (never the one just said)."""
    from readloom.llm.offline import phrases as P

    q = question_sets[passage.key][1]
    recent: list[str] = []
    openers = []
    for message in ["this is boring", "ugh too hard", "i'm tired", "i hate this", "so hard"]:
        reply = tutor_reply(
            _turn(passage, q, "encourage", 1, student_message=message, recent=recent)
        )
        openers.append(next(o for o in P.ENCOURAGE if o in reply))
        recent.append(reply)
    n = len(P.ENCOURAGE)
    assert len(set(openers[:n])) == n  # every variant before any comes back
    assert openers[n] == openers[0]  # then the least recently heard
    assert all(a != b for a, b in zip(openers, openers[1:], strict=False))


def test_recent_wording_is_matched_on_its_fixed_words_not_on_the_place(passage, question_sets):
    """A reply heard with another place quoted still counts as that wording; a short fixed
    phrase ("Reread {place}.") never marks a variant as heard."""
    from readloom.llm.offline.nlp import padded_words
    from readloom.llm.offline.tutor import _skeleton_in

    heard = padded_words(
        'Just one small step: reread the part that begins "The storm…". What do you notice?'
    )
    assert _skeleton_in("Just one small step: reread {place}. What do you notice?", heard)
    assert not _skeleton_in("Try this: reread {place}. What do you notice?", heard)
    assert not _skeleton_in("Reread {place}.", heard)
