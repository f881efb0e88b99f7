"""A teacher's question set from a model, through the real graph against a local server
that speaks the OpenAI protocol: the model's items pass the same validators as the offline
tier's; a set with failing items is revised once, and what still fails is replaced by
offline items, while the model's items that passed stay."""

from __future__ import annotations

import pytest
from fakes.llm_servers import Reply, fake_openai_server

from readloom.service import Readloom, build_services
from readloom.settings import Settings

PASSAGE_ID = "lighthouse-keeper"


def _item(question: str, qtype: str, answer: str, evidence: str) -> dict:
    skills = {"what": "ask_answer_questions", "who": "ask_answer_questions",
              "why": "cause_effect"}  # fmt: skip
    return {"question": question, "type": qtype, "answer": answer, "evidence": evidence,
            "skill": skills[qtype]}  # fmt: skip


BREAD = _item(
    "What did Mr. Santos bring to Gull Rock?", "what", "a basket of fresh bread",
    "A fisherman named Mr. Santos rowed out to Gull Rock with a basket of fresh bread to say "
    "thank you.",
)  # fmt: skip
# evidence the passage never says: no child could find it
INVENTED = _item(
    "What did Wren eat for lunch?", "what", "a cheese sandwich",
    "Wren ate a cheese sandwich for lunch.",
)  # fmt: skip
# the answer is not in its evidence
UNSUPPORTED = _item(
    "Who lit the lamp?", "who", "the captain",
    "Tobias the lighthouse keeper had lived on Gull Rock for eleven years.",
)  # fmt: skip
WHY = _item(
    "Why did Wren gasp?", "why",
    "the fishing boats from the village were still out at sea",
    "Wren gasped, because she knew that the fishing boats from the village were still out "
    "at sea.",
)  # fmt: skip
BARO = _item(
    "What did Tobias tap?", "what", "the barometer on the kitchen wall",
    "Tobias tapped the barometer on the kitchen wall.",
)  # fmt: skip


@pytest.fixture
def served(tmp_path):
    with fake_openai_server() as srv:
        settings = Settings(
            home=tmp_path,
            providers=["openai", "offline"],
            openai_api_key="sk-test",
            openai_base_url=srv.base_url,
            llm_max_attempts=1,
            llm_timeout_s=10,
            questions_budget_s=300.0,
        )
        yield srv, build_services(settings)


async def test_failing_model_items_are_revised_once_then_replaced_offline(served):
    srv, services = served
    srv.enqueue(
        Reply.json({"questions": [BREAD, INVENTED, UNSUPPORTED]}),
        Reply.json({"questions": [BREAD, INVENTED]}),  # the revision still invents one
    )
    async with Readloom(services.settings, services=services) as app:
        result = await app.generate_questions(passage_id=PASSAGE_ID, count=3)
    passage = services.store.get(PASSAGE_ID).text
    asked = [q.question for q in result.questions]
    assert len(srv.requests) == 2  # the set, then one revision: no third ask
    assert len(asked) == 3
    assert asked[0] == BREAD["question"]  # the model's item that passed is kept
    assert INVENTED["question"] not in asked and UNSUPPORTED["question"] not in asked
    for q in result.questions[1:]:  # the offline tier filled the rest, from the text
        assert q.evidence in passage and q.answer
    assert result.provenance.get("provider") == "offline"


async def test_a_revision_that_passes_is_kept_whole(served):
    srv, services = served
    srv.enqueue(
        Reply.json({"questions": [BREAD, INVENTED, UNSUPPORTED]}),
        Reply.json({"questions": [BREAD, WHY, BARO]}),
    )
    async with Readloom(services.settings, services=services) as app:
        result = await app.generate_questions(passage_id=PASSAGE_ID, count=3)
    assert len(srv.requests) == 2
    assert [q.question for q in result.questions] == [
        BREAD["question"], WHY["question"], BARO["question"]
    ]  # fmt: skip
    assert result.provenance.get("provider") == "openai"
