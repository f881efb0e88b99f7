"""With a model configured, the judge and the offline grader can disagree: the item goes to
the review queue of the child's own district (never another tenant's, never an alert)."""

from __future__ import annotations

from fakes.llm_servers import Reply, fake_openai_server

from readloom.service import Readloom, build_services
from readloom.settings import Settings

PASSAGE_ID = "lighthouse-keeper"


async def test_a_disagreement_is_queued_for_review_in_the_childs_tenant(tmp_path):
    judged = Reply.json({"verdict": "incorrect", "reason": "does not answer the question"})
    with fake_openai_server(default=judged) as server:
        settings = Settings(
            home=tmp_path, providers=["openai", "offline"], openai_api_key="sk-test",
            openai_base_url=server.base_url, llm_max_attempts=1, llm_timeout_s=5,
        )  # fmt: skip
        services = build_services(settings)
        async with Readloom(settings, services=services) as app:
            sid = "review-1"
            who = {"tenant": "district-a", "student_id": "s-review"}
            await app.tutor_turn(session_id=sid, message="", passage_id=PASSAGE_ID,
                                 opening=True, **who)  # fmt: skip
            state = (await app.graph.aget_state({"configurable": {"thread_id": sid}})).values
            key = state["current_question"].answer
            # the key itself: the offline grader says correct, the "model" says incorrect
            await app.tutor_turn(session_id=sid, message=key, **who)
    audit = services.guards.audit
    queued = audit.alerts("district-a", status="review")
    assert [a.kind for a in queued] == ["grading_disagreement"]
    assert queued[0].session == sid
    assert audit.alerts("district-a", status="open") == []  # not a teacher alert
    assert audit.alerts("default", status=None) == []
