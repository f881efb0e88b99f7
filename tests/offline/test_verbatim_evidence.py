"""A question set's evidence is found word for word in the passage the teacher reads, even
when re-identification gives a pseudonym back as the full name the text shortens."""

from readloom.service.core import _verbatim_evidence
from readloom.state import Question

PASSAGE = "Nils Troll burned charcoal. Nils wished to hear nothing about this. He went home."


def _q(answer: str, evidence: str) -> Question:
    return Question(question="Why?", type="why", answer=answer, evidence=evidence,
                    skill="cause_effect")  # fmt: skip


def test_a_quote_with_the_canonical_name_becomes_the_passage_sentence():
    out = _verbatim_evidence(
        _q("Nils Troll", "Nils Troll wished to hear nothing about this."), PASSAGE
    )
    assert out.evidence == "Nils wished to hear nothing about this." and out.evidence in PASSAGE
    assert out.answer == "Nils"


def test_a_verbatim_question_is_left_alone():
    q = _q("charcoal", "Nils Troll burned charcoal.")
    assert _verbatim_evidence(q, PASSAGE) is q


def test_pseudonymised_evidence_for_a_viewer_without_names_is_left_alone():
    q = _q("<PERSON_1>", "<PERSON_1> wished to hear nothing about this.")
    assert _verbatim_evidence(q, PASSAGE) is q
