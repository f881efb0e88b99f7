"""The application service: builds every part once and runs turns through the graph.

The CLI, the HTTP API and the eval harness all use this one object, so a tutoring
turn behaves the same wherever it comes from. Replies are re-identified here, for
the viewer, after the run: the checkpointed state only ever holds redacted text.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import hmac
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import anyio
from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel, Field

from readloom.agents.services import Services
from readloom.errors import InputError, NotFound
from readloom.graph import build_graph, checkpoint_serializer
from readloom.guardrails.policy import can_reidentify
from readloom.llm.deadline import turn_budget
from readloom.mlops.provenance import active_models
from readloom.observability import turn_span
from readloom.retrieval.models import Passage
from readloom.service import library
from readloom.settings import Settings, configure_offline_environment, get_settings
from readloom.state import (
    Grade,
    Intervention,
    Question,
    Turn,
    TurnContext,
    TurnInput,
    TutorPolicy,
)

STREAM_CHUNK_WORDS = 3


class TurnResult(BaseModel):
    session_id: str
    reply: str  # re-identified for the viewer who is allowed to see it
    blocked: bool = False
    block_reason: str | None = None
    move: str | None = None
    intervention: Intervention | None = None
    grade_result: Grade | None = None
    mastery_gain: float | None = None  # P(mastered) of the graded skill, after - before
    current_question: Question | None = None
    provider: str = "offline"
    model: str = ""
    provenance: dict[str, Any] = Field(default_factory=dict)
    # The turn as the checkpoint holds it (redacted): what the API records, so it need
    # not read the checkpoint back.
    redacted_message: str = ""
    redacted_reply: str | None = None
    redacted_question: Question | None = None


class QuestionsResult(BaseModel):
    passage_id: str
    questions: list[Question]
    provenance: dict[str, Any] = Field(default_factory=dict)
    # set on a result kept redacted (``reidentify=False``): the pseudonyms' session
    session_id: str | None = Field(default=None, exclude=True)


def build_services(settings: Settings) -> Services:
    """Load every model and store once (Presidio, spaCy, embeddings, Chroma)."""
    from readloom.guardrails import GuardrailSuite
    from readloom.guardrails.keys import load_key
    from readloom.guardrails.sealing import PassageSealer
    from readloom.llm.gate import LLMGate
    from readloom.retrieval.store import PassageStore
    from readloom.storage.catalogue import CatalogueWriter
    from readloom.storage.db import migrate
    from readloom.tools.mastery import MasteryStore
    from readloom.tools.prerequisites import SkillGraph

    configure_offline_environment()
    settings.ensure_home()
    migrate(settings)  # idempotent; the catalogue table must exist before the first ingest
    guards = GuardrailSuite(settings)
    guards.trust_shipped(lambda pid, text: library.is_shipped(settings.corpus_path, pid, text))
    store = PassageStore(
        settings,
        passage_guard=guards.check_passage,
        sealer=PassageSealer(guards.redactor, load_key(settings)),
        catalogue=CatalogueWriter(settings),
    )
    store.ensure_corpus()
    library.seal_stored(settings, store)  # tenant text stored by an earlier release
    return Services(
        settings=settings,
        gate=LLMGate.from_settings(settings, redactor=guards.redactor),
        store=store,
        guards=guards,
        skills=SkillGraph.load(settings.skills_path),
        mastery=MasteryStore(settings),
    )


def _verbatim_evidence(q: Question, passage_text: str) -> Question:
    """Evidence the reader can find in the passage, word for word, and an answer in its
    words. The model quoted the redacted text; re-identification gives back each
    pseudonym's canonical value ("Nils Troll" where the sentence says "Nils"), so a quote
    that no longer matches is replaced by the passage sentence it came from (the closest),
    and a full name the sentence does not use is shortened to the part it does."""
    if not q.evidence or "<" in q.evidence:
        return q
    evidence = q.evidence
    if evidence not in passage_text:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", passage_text) if s.strip()]
        best = difflib.get_close_matches(evidence, sentences, n=1, cutoff=0.6)
        evidence = best[0].strip() if best else evidence
    answer = q.answer
    for name in set(_FULL_NAME.findall(answer)):
        if name not in evidence:
            parts = [w for w in name.split() if re.search(rf"\b{re.escape(w)}\b", evidence)]
            if parts:
                answer = answer.replace(name, " ".join(parts))
    if (evidence, answer) == (q.evidence, q.answer):
        return q
    return q.model_copy(update={"evidence": evidence, "answer": answer})


def _unsupported(q: Question, passage_text: str) -> bool:
    """A question whose evidence (as the viewer reads it) is not in the passage or does not
    support its answer: never shown (it passed on the redacted text, not on this one)."""
    from readloom.agents.evaluator import check_question

    bad = {"evidence_not_in_text", "answer_not_supported"}
    return bool(bad & set(check_question(q, passage_text, grade=12)))


_FULL_NAME = re.compile(r"\b[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)+\b")


class Readloom:
    """``async with Readloom(settings) as app: await app.tutor_turn(...)``"""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        services: Services | None = None,
        checkpointer: BaseCheckpointSaver | None = None,
    ):
        self.settings = settings or get_settings()
        self._services = services
        self._checkpointer = checkpointer
        self._stack = AsyncExitStack()
        self._paste_key: bytes | None = None
        self.graph: Any = None

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = build_services(self.settings)
        return self._services

    async def __aenter__(self) -> Readloom:
        svc = self.services
        if self._checkpointer is None:
            from readloom.storage.checkpoints import open_checkpointer

            self._checkpointer = await self._stack.enter_async_context(
                open_checkpointer(self.settings)
            )
        self._checkpointer.serde = checkpoint_serializer()
        self.graph = build_graph(svc).compile(checkpointer=self._checkpointer)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def close_stores(self) -> None:
        """Release Chroma and the catalogue engine, if built (a CLI run's fast exit)."""
        if self._services is not None:
            self._services.store.close()

    # --- tutoring -------------------------------------------------------------------

    async def tutor_turn(
        self,
        *,
        session_id: str,
        message: str,
        passage_id: str | None = None,
        grade: int | None = None,
        tenant: str = "default",
        role: str = "student",
        student_id: str = "anonymous",
        opening: bool = False,
        policy: TutorPolicy | None = None,
        arms: dict[str, str] | None = None,
    ) -> TurnResult:
        """One student message; ``opening`` runs the tutor's first turn instead (it greets
        and asks the first question before the child has typed anything). ``policy`` and
        ``arms``: the learner's experiment arms (``mlops.experiments.assignment``), which
        the tutor applies and the result records."""
        config = {"configurable": {"thread_id": session_id}}
        # The session's stored passage and grade, read only when the caller lacks them
        # (the API always has them: one checkpoint read fewer per turn).
        known = {} if passage_id and grade else (await self.graph.aget_state(config)).values
        passage_id = passage_id or known.get("passage_id")
        if not passage_id:
            raise InputError("a new tutoring session needs a passage (passage_id or a file)")
        passage = self.services.store.get(passage_id)  # NotFound for an unknown passage
        run_input: TurnInput = {
            "mode": "tutor",
            "session_id": session_id,
            "passage_id": passage_id,
            "grade": grade or known.get("grade") or passage.grade,
            "opening": opening,
        }
        policy = policy or TutorPolicy()
        context = TurnContext(
            raw_message=message, tenant=tenant, role=role, student_id=student_id,  # type: ignore[arg-type]
            policy=policy, arms=dict(arms or {}),
        )  # fmt: skip
        # In an experiment the turn's mastery gain is an outcome: P(mastered) before it.
        before = await asyncio.to_thread(self.services.mastery.get, student_id) if arms else {}
        with (
            turn_span("tutor_turn", session_id=session_id, tenant=tenant, mode="tutor"),
            turn_budget(self.settings.turn_budget_s),
        ):
            state = await self.graph.ainvoke(
                run_input, config, context=context, durability=self.settings.checkpoint_durability
            )
        # the registry is a synchronous store: never on the event loop (on SQLite it waited
        # there for the write lock that this loop's own async writer held: 30 s, then failed)
        models = await asyncio.to_thread(active_models, self.settings)
        provenance = {**(state.get("provenance") or {}), "models": models}
        graded = state.get("grade_result")
        gain = None
        if arms:
            provenance |= {
                "experiments": dict(arms),
                "policy": policy.model_dump(exclude_none=True),
            }
            if graded is not None:
                after = await asyncio.to_thread(self.services.mastery.get, student_id)
                prior = before.get(graded.skill, after.get(graded.skill, 0.0))
                gain = after.get(graded.skill, prior) - prior
        last = state.get("history", [])[-2:]
        reply, question = await asyncio.to_thread(  # the vault is a store: off the loop
            lambda: (
                self._reidentify(state.get("reply", ""), session_id, role),
                self._reidentify_question(state.get("current_question"), session_id, role),
            )
        )
        return TurnResult(
            session_id=session_id,
            reply=reply,
            blocked=bool(state.get("blocked")),
            block_reason=state.get("block_reason"),
            move=(state.get("draft").move if state.get("draft") else "safety"),
            intervention=state.get("intervention"),
            grade_result=graded,
            mastery_gain=gain,
            current_question=question,
            provider=provenance.get("provider", "offline"),
            model=provenance.get("model", ""),
            provenance=provenance,
            redacted_message=next((t.text for t in last if t.role == "student"), ""),
            redacted_reply=next((t.text for t in last if t.role == "tutor"), None),
            redacted_question=state.get("current_question"),
        )

    async def open_session(self, **kwargs: Any) -> TurnResult:
        """The tutor speaks first: a greeting and the first question (no student message)."""
        return await self.tutor_turn(message="", opening=True, **kwargs)

    async def session_exists(self, session_id: str) -> bool:
        state = await self.graph.aget_state({"configurable": {"thread_id": session_id}})
        return bool(state.values.get("passage_id"))

    async def stream_turn(self, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        """Token events of the *approved* reply, then the full result.

        The reply streams after the evaluator and guard_out have passed it: a child never
        sees an unvalidated draft (a leaked answer, or PII) that is later withdrawn.
        """
        result = await self.tutor_turn(**kwargs)
        words = result.reply.split(" ")
        for i in range(0, len(words), STREAM_CHUNK_WORDS):
            chunk = " ".join(words[i : i + STREAM_CHUNK_WORDS])
            yield {"type": "token", "text": chunk if i == 0 else " " + chunk}
        yield {"type": "done", "result": result.model_dump(mode="json")}

    async def history(self, session_id: str, *, reidentify: bool = True) -> list[Turn]:
        state = await self.graph.aget_state({"configurable": {"thread_id": session_id}})
        turns: list[Turn] = state.values.get("history", [])
        if not reidentify:
            return list(turns)
        # the local CLI: its user is the student (or their teacher) at the keyboard
        return await asyncio.to_thread(
            lambda: [
                t.model_copy(update={"text": self._reidentify(t.text, session_id, "student")})
                for t in turns
            ]
        )

    # --- teachers -------------------------------------------------------------------

    async def generate_questions(
        self,
        *,
        passage_id: str | None = None,
        text: str | None = None,
        title: str | None = None,
        count: int = 5,
        grade: int | None = None,
        types: list[str] | None = None,
        choices: bool = False,
        tenant: str = "default",
        role: str = "teacher",
        session_id: str | None = None,
        keep: bool = False,
        reidentify: bool = True,
    ) -> QuestionsResult:
        """Questions for a stored passage, or for ``text`` (kept in the library only with
        ``keep``; the API stores a teacher's text itself, owned by the teacher). With
        ``reidentify=False`` the questions stay as the model wrote them (pseudonyms), to be
        stored and shown later with ``present_questions``."""
        if not 1 <= count <= 50:
            raise InputError("count must be between 1 and 50")
        adhoc: str | None = None
        if text is not None:  # ad-hoc generation is not ingest: the text is removed after
            passage = self.text_passage(text, title=title, grade=grade, owner=tenant)
            passage_id = passage.passage_id
            if not keep and not self._stored(passage_id):
                adhoc = passage_id
            # embedding a long text: off the event loop; stored with placeholders
            await anyio.to_thread.run_sync(
                lambda: self.services.store.ingest_passages([passage], seal=True)
            )
        if not passage_id:
            raise InputError("give a passage_id or the passage text")
        try:
            return await self._generate_questions(
                passage_id, count=count, grade=grade, types=types, choices=choices,
                tenant=tenant, role=role, session_id=session_id, reidentify=reidentify,
            )  # fmt: skip
        finally:
            if adhoc is not None:
                await anyio.to_thread.run_sync(self.services.store.delete, adhoc)

    async def _generate_questions(
        self,
        passage_id: str,
        *,
        count: int,
        grade: int | None,
        types: list[str] | None,
        choices: bool,
        tenant: str,
        role: str,
        session_id: str | None,
        reidentify: bool = True,
    ) -> QuestionsResult:
        passage = self.services.store.get(passage_id)
        session_id = session_id or f"questions-{uuid.uuid4().hex}"
        run_input: TurnInput = {
            "mode": "questions",
            "session_id": session_id,
            "passage_id": passage_id,
            "grade": grade or passage.grade,
            "count": count,
            "types": types or [],  # type: ignore[typeddict-item]
            "choices": choices,
        }
        context = TurnContext(
            raw_message=f"questions for {passage.title}", tenant=tenant, role=role
        )  # type: ignore[arg-type]
        config = {"configurable": {"thread_id": session_id}}
        with (
            turn_span("generate_questions", session_id=session_id, tenant=tenant, mode="questions"),
            turn_budget(self.settings.questions_budget_s),
        ):
            state = await self.graph.ainvoke(
                run_input, config, context=context, durability=self.settings.checkpoint_durability
            )
        if state.get("blocked"):
            raise InputError(
                f"request refused by guardrails ({state.get('block_reason')})", status=403
            )
        models = await asyncio.to_thread(active_models, self.settings)  # a synchronous store
        redacted = QuestionsResult(
            passage_id=passage_id,
            questions=[q for q in state.get("questions", []) if q],
            provenance={**(state.get("provenance") or {}), "models": models},
            session_id=session_id,
        )
        if not reidentify:
            return redacted
        return await asyncio.to_thread(self.present_questions, redacted, role=role)

    def present_questions(self, result: QuestionsResult, *, role: str) -> QuestionsResult:
        """Questions kept redacted, as ``role`` may read them: real names (from the session's
        vault) for the roles ``guardrails.policy`` names, checked once more against the real
        passage text; pseudonyms for the others."""
        if result.session_id is None:
            return result
        passage = self.services.store.get(result.passage_id)
        questions = [
            _verbatim_evidence(self._reidentify_question(q, result.session_id, role), passage.text)
            for q in result.questions
        ]
        if can_reidentify(role):  # the viewer reads real names: check against the real text
            questions = [q for q in questions if not _unsupported(q, passage.text)]
        return result.model_copy(
            update={"questions": [q for q in questions if q], "session_id": None}
        )

    def text_passage(
        self, text: str, *, title: str | None = None, grade: int | None = None, owner: str = ""
    ) -> Passage:
        """A teacher's pasted text as a passage record (not stored). Its id is a keyed digest
        (HMAC with a key derived from the vault key) of the owner and the text: two tenants
        pasting one text never share an id, and someone who guesses a child's name in a known
        essay cannot confirm the guess from the id."""
        text = text.strip()
        if len(text.split()) < 20:
            raise InputError("the passage text is too short: give at least 20 words")
        digest = hmac.new(
            self._paste_id_key(), f"{owner}\0{text}".encode(), hashlib.sha256
        ).hexdigest()[:16]
        from readloom.retrieval.readability import estimate_grade

        return Passage(
            passage_id=f"text-{digest}",
            title=title or text.split("\n", 1)[0][:60],
            text=text,
            grade=grade or max(1, min(12, round(estimate_grade(text)))),
            genre="other",
            source="pasted",
        )

    # --- helpers --------------------------------------------------------------------

    def _paste_id_key(self) -> bytes:
        if self._paste_key is None:
            from readloom.guardrails.keys import load_key

            vault = load_key(self.settings)
            self._paste_key = hmac.new(
                vault, b"readloom pasted-passage id", hashlib.sha256
            ).digest()
        return self._paste_key

    def _stored(self, passage_id: str) -> bool:
        try:
            self.services.store.get(passage_id)
        except NotFound:
            return False
        return True

    def _reidentify(self, text: str, session_id: str, role: str) -> str:
        """Real values back only for the roles ``guardrails.policy`` names; others keep
        the pseudonyms."""
        if not can_reidentify(role):
            return text
        return self.services.guards.redactor.reidentify(text, session_id=session_id)

    def _reidentify_question(
        self, q: Question | None, session_id: str, role: str
    ) -> Question | None:
        if q is None:
            return None
        fields = ("question", "answer", "evidence")
        update: dict[str, object] = {
            f: self._reidentify(getattr(q, f), session_id, role) for f in fields
        }
        # the options too: a teacher saw "<PERSON_2>" among them, and the answer twice over
        update["choices"] = [self._reidentify(c, session_id, role) for c in q.choices]
        return q.model_copy(update=update)
