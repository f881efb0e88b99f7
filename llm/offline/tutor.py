"""Socratic tutoring replies from the retrieved passage, without ever stating the answer.

A reply is a warm opener, a pointer back to the text and one guiding question. The
pointer grows more specific with ``hint_level``: 0 a reading strategy, 1 where to look,
2 a quote from next to the answer, 3 the evidence sentence with the answer blanked out.
Every piece is checked against the answer's key terms (``leak.key_terms``) and skipped
when it would give one away; the finished reply is checked once more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel, ConfigDict, field_validator

from readloom.llm.offline import phrases as P
from readloom.llm.offline import phrases_dialogue as D
from readloom.llm.offline.leak import key_terms, mentioned
from readloom.llm.offline.nlp import (
    DEFAULT_MODEL,
    PLACEHOLDER,
    content_lemmas,
    crude_stem,
    is_content,
    padded_words,
    parse,
    stable_index,
)
from readloom.llm.offline.nlp import passage_sentences as split_sentences
from readloom.llm.offline.textref import Located, TextRef
from readloom.state import Move

_INTRO = re.compile(
    rf"\b(?:i am|i'm|im|my name is|my name's|call me|this is)\s+({PLACEHOLDER.pattern})",
    re.IGNORECASE,
)
_QUOTED_WORD = re.compile(r"\bword [\"“']([^\"”']+)[\"”']")
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


class TutorInput(BaseModel):
    """The variables of the ``tutor_reply`` and ``explain`` prompts (already redacted)."""

    model_config = ConfigDict(extra="ignore")

    passage_title: str = ""
    excerpts: list[str] = []
    student_message: str = ""
    question: str | None = None
    answer: str | None = None
    evidence: str | None = None
    move: Move = "hint"
    hint_level: int = 0
    grade: int = 5
    student_correct: bool | None = None
    variant: int = 0  # > 0 on a rewrite: other wording, so no reply repeats an earlier one
    recent: list[str] = []  # the session's last tutor replies: wording not to reuse

    @field_validator("hint_level")
    @classmethod
    def _clamp_hint(cls, v: int) -> int:
        return min(3, max(0, v))

    @field_validator("grade")
    @classmethod
    def _clamp_grade(cls, v: int) -> int:
        return min(12, max(0, v))

    @field_validator("excerpts", mode="before")
    @classmethod
    def _listify(cls, v: object) -> object:
        return [v] if isinstance(v, str) else ([] if v is None else v)


def question_type(question: str | None) -> str:
    q = (question or "").strip().lower()
    if re.search(r"\bwhat does the word\b|\bmean\b.*\?$", q):
        return "vocabulary"
    if re.search(r"\bmain idea\b|\bcentral idea\b|\bmostly about\b", q):
        return "main_idea"
    if re.match(r"what (?:happened|did .+ do) (?:after|before)\b", q):
        return "sequence"
    for wh in ("who", "when", "where", "why"):
        if q.startswith(wh) or f" {wh} " in q[:30]:
            return wh
    return "what"


@dataclass
class _Turn:
    inp: TutorInput
    explain: bool
    qtype: str
    young: bool
    ref: TextRef
    located: Located | None

    def pick(self, options: Sequence[str], slot: str, **fmt: str) -> str | None:
        """A deterministic, turn-dependent variant that gives nothing away (or None)."""
        if not options:
            return None
        start = stable_index(
            len(options), slot, self.inp.move, self.inp.hint_level, self.inp.student_message,
            self.inp.question, self.inp.passage_title, self.explain, self.inp.variant,
        )  # fmt: skip
        for option in self.fresh_first(options, start):
            text = option.format(**fmt)
            if self.ref.safe(text):
                return text
        return None

    def fresh_first(self, options: Sequence[str], start: int) -> list[str]:
        """The options from ``start`` on, those the recent replies have not used first and
        the rest least recently used first: a child stuck for several turns hears other
        words each time."""
        order = [options[(start + k) % len(options)] for k in range(len(options))]

        def last_heard(option: str) -> int:
            return max((i for i, h in enumerate(self.heard) if _skeleton_in(option, h)), default=-1)

        return sorted(order, key=last_heard)  # stable: unheard (-1) keep the start's order

    @cached_property
    def heard(self) -> list[str]:
        """The recent replies' words, read once a turn for every slot's choice."""
        return [padded_words(r) for r in self.inp.recent]

    @property
    def register(self) -> str:
        return "young" if self.young else "older"

    @property
    def title(self) -> str:
        t = self.inp.passage_title.strip()
        return f'"{t}"' if t else ("the story" if self.young else "the passage")


def tutor_reply(inp: TutorInput, *, explain: bool = False, model: str = DEFAULT_MODEL) -> str:
    """One tutoring turn for ``inp.move`` (``explain`` forces an alternate explanation)."""
    terms = key_terms(inp.answer or "", inp.question, model=model) if inp.question else []
    ref = TextRef(inp.excerpts, terms, model)
    hint = " ".join(filter(None, [inp.question, inp.student_message]))
    located = ref.locate(inp.evidence, hint) if inp.excerpts else None
    turn = _Turn(inp, explain, question_type(inp.question), inp.grade <= 3, ref, located)
    reply = _compose(turn)
    if inp.move == "worked_explanation" and not explain:
        pass  # modelling the answer after repeated tries is the point of this move
    elif terms and mentioned(terms, reply, model=model):
        reply = _fallback(turn)  # belt and braces: never send a reply that names the answer
    return " ".join(_join([_greeting(inp.student_message), reply]).split())


def _compose(t: _Turn) -> str:
    move = "alternate_explanation" if t.explain else t.inp.move
    if move == "ask_question":
        return _ask(t)
    if move == "affirm":
        return _affirm(t)
    if move == "redirect":
        return _redirect(t)
    if move == "encourage":
        return _encourage(t)
    if move == "answer_question":
        return _own_question(t)
    if not t.inp.question:
        return _free(t)
    if move == "alternate_explanation":
        return _alternate(t)
    if move == "probe":
        return _probe(t)
    if move == "ask_to_choose":
        return _join([t.pick(D.CHOOSE, "choose"), _place_sentence(t, level=1)])
    if move == "worked_explanation":
        return _worked(t)
    return _hint(t)


_WORD_ASKED = re.compile(
    r"what(?:'s| is| does| do)? (?:the word |a |an )?[\"'“]?([a-z][a-z-]+)[\"'”]?(?: mean|\s*\?)",
    re.I,
)


def _own_question(t: _Turn) -> str:
    """The child asked about the text or a word: answer briefly from the passage, then
    return to the question on the table."""
    answer = None
    match = _WORD_ASKED.search(t.inp.student_message or "")
    sentences = [s for e in t.ref.excerpts for s in split_sentences(parse(e, t.ref.model))]
    if match:
        word = match.group(1)
        hit = next(
            (s for s in sentences if re.search(rf"\b{re.escape(word)}\b", s.text, re.I)), None
        )
        if hit is not None:
            answer = t.pick(D.WORD_IN_TEXT, "word", word=word, sentence=_short(hit.text))
    else:
        asked = set(content_lemmas(parse(t.inp.student_message or "", t.ref.model, light=True)))
        best = max(
            sentences,
            key=lambda s: len(asked & set(content_lemmas(parse(s.text, t.ref.model, light=True)))),
            default=None,
        )
        if best is not None and asked:
            answer = t.pick(D.TEXT_SAYS, "says", sentence=_short(best.text))
    if answer is None:
        answer = _place_sentence(t, level=1) or "Let's look back at the text together."
    back = t.pick(D.BACK_TO, "back", question=t.inp.question.strip()) if t.inp.question else None
    return _join([t.pick(D.OWN_QUESTION_OPEN, "own"), answer, back])


def _short(text: str, words: int = 28) -> str:
    parts = " ".join(text.split()).split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _worked(t: _Turn) -> str:
    """Model the reasoning: where the evidence is and how it answers the question."""
    evidence = t.inp.evidence or (
        t.located.evidence.text if t.located and t.located.evidence else ""
    )
    answer = (t.inp.answer or "").strip().rstrip(".")
    steps = D.WORKED_STEPS
    start = stable_index(len(steps), "worked", t.inp.question, t.inp.variant)
    step = steps[start].format(
        question=(t.inp.question or "").strip(), evidence=_short(evidence, 40), answer=answer
    )
    start = stable_index(len(D.WORKED_OPEN), "wopen", t.inp.question, t.inp.variant)
    opener = t.fresh_first(D.WORKED_OPEN, start)[0]
    own = D.WORKED_OWN_WORDS[stable_index(len(D.WORKED_OWN_WORDS), "own", t.inp.question)]
    return _join([opener, step, own])


def _ask(t: _Turn) -> str:
    if not t.inp.question:
        return _join([t.pick(P.DONE, "done", title=t.title), _place_sentence(t)])
    long_question = len(t.inp.question.split()) > 14
    intro = "" if long_question else t.pick(P.ASK_INTRO, "ask-intro", title=t.title) or ""
    asked = intro + t.inp.question.strip()
    tail = t.pick(P.ASK_TAIL, "ask-tail")
    if len(_join([asked, tail]).split()) > 25:  # a long reply reads easier in short sentences
        short = P.ASK_TAIL_WORD if t.qtype == "vocabulary" else P.ASK_TAIL_SHORT
        tail = t.pick(short, "ask-tail")
    return _join([asked, tail])


def _affirm(t: _Turn) -> str:
    praise = P.PRAISE.get(t.qtype, P.PRAISE["what"]) if t.inp.question else None
    backing = None
    s = t.located.evidence if t.located else None
    words = t.ref.opening_words(s, 5 if t.young else 7)
    if words:
        backing = f'The sentence that begins "{words}…" backs you up.'
    praise = praise if praise and t.ref.safe(praise) else None
    return _join([t.pick(P.PRAISE_OPEN, "praise"), praise, backing, t.pick(P.MOVE_ON, "move-on")])


def _redirect(t: _Turn) -> str:
    first = t.pick(P.REDIRECT, "redirect", title=t.title)
    if t.inp.question:
        return _join([first, f"We were working on this question: {t.inp.question.strip()}",
                      _place_sentence(t, level=1)])  # fmt: skip
    return _join([first, _place_sentence(t, level=1), "What do you notice there?"])


def _encourage(t: _Turn) -> str:
    place = _place(t, level=1)
    step = t.pick(P.SMALL_STEP, "small-step", place=place) if place else None
    return _join(
        [t.pick(P.ENCOURAGE, "encourage"), step or "Let's look back at the text together."]
    )


def _free(t: _Turn) -> str:
    """No question on the table: answer a question about the text with a pointer."""
    place = _place(t, level=1, sentence=True)
    topic = _topic(t)
    if place and topic:
        return t.pick(P.FREE, "free", place=place, topic=topic) or ""
    if place:
        return t.pick(P.FREE_NO_TOPIC, "free", place=place) or ""
    return "Let's look back at the text together. What do you notice?"


def _alternate(t: _Turn) -> str:
    if t.qtype == "main_idea":
        place = _paragraph_place(t) or "the first paragraph"
    else:
        place = _place(t, level=max(1, t.inp.hint_level)) or "the part the question is about"
    options = P.ALTERNATE.get(t.qtype, P.ALTERNATE["what"])
    text = t.pick(options, "alternate", place=place, title=t.title)
    return text or _fallback(t)


def _probe(t: _Turn) -> str:
    opener = t.pick(P.PROBE_OPEN[t.inp.student_correct], "probe-open")
    if t.inp.hint_level == 0:
        return _join([opener, t.pick(P.PROBE_ASK, "probe-ask")])
    return _join([opener, _pointer(t), _guide(t)])


def _hint(t: _Turn) -> str:
    return _join([t.pick(P.HINT_OPEN[t.register], "hint-open"), _pointer(t), _guide(t)])


def _pointer(t: _Turn) -> str | None:
    """The escalating part of a hint (see the module docstring)."""
    level = t.inp.hint_level
    if t.qtype == "main_idea" and level >= 1:
        return _main_idea_pointer(t, level)
    evidence = t.located.evidence if t.located else None
    shown = _answer_in(t, evidence.text) if evidence is not None else t.inp.answer
    if level >= 3 and evidence is not None:
        if t.qtype == "vocabulary" and _find_in(evidence.text, t.inp.answer) is None:
            word = _vocab_word(t.inp.question)
            frame = t.pick(P.VOCAB_FRAME, "frame", word=word) if word else None
            if frame:
                return frame
        blank = _blank_answer(t, evidence.text, shown) or t.ref.blanked(
            evidence, shown, 16 if t.young else 24
        )
        gaps = _gap_words(blank)
        if t.ref.safe(blank) and gaps and gaps == _missing_words(evidence.text, shown, blank):
            fill = t.pick(P.FILL, "fill", blank=blank)
            count = (
                t.pick(D.HOW_MANY_ONE, "how-many") if gaps == 1
                else t.pick(D.HOW_MANY, "how-many", n=str(gaps))
            )  # fmt: skip
            if fill:
                return _join([fill, count])
    if level >= 2 and evidence is not None:
        near = t.ref.around_answer(evidence, shown, 8 if t.young else 12)
        if near is not None:
            side, words = near
            quote = f'"{words}…"' if side == "before" else f'"…{words}"'
            read = t.pick(P.READ_AGAIN, "read", quote=quote)
            if read:
                return _join([read, t.pick(P.AFTER_QUOTE[side], side)])
    if level >= 1:
        place = _place(t, level=level)
        look = t.pick(P.LOOK_AT, "look", place=place) if place else None
        if look:
            return look
    return t.pick(P.STRATEGY.get(t.qtype, P.STRATEGY["what"])[t.register], "strategy")


def _answer_in(t: _Turn, text: str) -> str | None:
    """The answer as the sentence words it: the answer itself when the sentence holds it
    verbatim, else the longest run of its words that the sentence holds and that names a
    key term ("Grandma Rosa's knee hurt" is "her knee hurt" in the text: "knee hurt").
    Hints quote around and blank out that run, so a reworded answer escalates too."""
    answer = (t.inp.answer or "").strip().rstrip(".")
    words = answer.split()
    if not words or t.qtype == "vocabulary" or _find_in(text, answer) is not None:
        return t.inp.answer  # a word's meaning is not the text's wording: no run to find
    flat = " ".join(text.split())
    for size in range(len(words) - 1, 0, -1):
        for lo in range(len(words) - size + 1):
            run = " ".join(words[lo : lo + size]).strip(" ,;:!?\"'")
            if not run or t.ref.safe(run):
                continue  # no key term in it: it would not point at the answer
            if re.search(rf"(?<!\w){re.escape(run)}(?!\w)", flat, re.IGNORECASE):
                return run
            worded = _inflected_run(run, flat)  # "to thank Tobias": "thanked Tobias"
            if worded and not t.ref.safe(worded):
                return worded
    return t.inp.answer


def _inflected_run(run: str, text: str) -> str | None:
    """The text's own words for ``run`` when they differ only in inflection."""
    want = [crude_stem(w) for w in re.findall(r"[\w']+", run.lower())]
    words = [w.strip(" ,;:!?\"'.()") for w in text.split()]
    stems = [crude_stem(w.lower()) for w in words]
    if len(want) < 2:
        return None
    for lo in range(len(words) - len(want) + 1):
        if stems[lo : lo + len(want)] == want:
            return " ".join(words[lo : lo + len(want)])
    return None


def _blank_answer(t: _Turn, text: str, answer: str | None) -> str | None:
    """The sentence with each word of the answer replaced by its own blank (so the child
    sees how many words are missing), or None when the answer is not there verbatim."""
    words = (answer or "").strip().rstrip(".").split()
    flat = " ".join(text.split())
    i = _find_in(flat, answer)
    if i is None or not words or len(words) > 12:
        return None
    end = i + len(" ".join(words))
    kept = 1 if words[0].lower() in ("because", "so", "to", "since") and len(words) > 1 else 0
    gap = " ".join([*words[:kept], *["___"] * (len(words) - kept)])
    out = flat[:i] + gap + flat[end:]
    limit = 16 if t.young else 24
    parts = out.split()
    if len(parts) > limit:  # keep the gap inside the window
        first = next(k for k, w in enumerate(parts) if "___" in w)
        lo = max(0, min(first - 4, len(parts) - limit))
        out = (
            ("…" if lo else "")
            + " ".join(parts[lo : lo + limit])
            + ("…" if lo + limit < len(parts) else "")
        )
        if out.count("___") != len(words) - kept:
            return None
    return out


def _gap_words(blank: str) -> int:
    return blank.count("___")


def _missing_words(text: str, answer: str | None, blank: str) -> int:
    """How many words the blank hides: the answer's words when the sentence holds the
    answer verbatim (the blanking caps a longer answer at four blanks: then no match)."""
    words = (answer or "").strip().rstrip(".").split()
    if _find_in(text, answer) is None or not words:
        return -1
    first = words[0].lower()
    kept = 1 if first in ("because", "so", "to", "since") and len(words) > 1 else 0
    return len(words) - kept


def _main_idea_pointer(t: _Turn, level: int) -> str | None:
    words = t.ref.opening_words(t.located.evidence if t.located else None, 6)
    place = f'the sentence that begins "{words}…"' if words else _paragraph_place(t)
    place = place or "the first sentence"
    name = t.inp.passage_title.strip() or ("This story" if t.young else "This passage")
    return t.pick(P.MAIN_IDEA_POINTER[min(level, 3)], "main", title=t.title, place=place, name=name)


def _paragraph_place(t: _Turn) -> str | None:
    """A paragraph whose opening words are safe to quote (for ideas that span the text)."""
    unit = "part" if t.young else "paragraph"
    for excerpt in t.ref.excerpts:
        sents = split_sentences(parse(excerpt, t.ref.model))
        words = t.ref.opening_words(sents[0] if sents else None, 5 if t.young else 7)
        if words:
            return f'the {unit} that begins "{words}…"'
    return None


def _vocab_word(question: str | None) -> str | None:
    match = _QUOTED_WORD.search(question or "")
    return match.group(1) if match else None


def _find_in(text: str, answer: str | None) -> int | None:
    flat, needle = " ".join(text.split()).lower(), " ".join((answer or "").split()).lower()
    i = flat.find(needle.rstrip(".")) if needle else -1
    return None if i < 0 else i


def _guide(t: _Turn) -> str | None:
    return t.pick(P.GUIDE.get(t.qtype, P.GUIDE["what"]), "guide")


def _place(t: _Turn, level: int, sentence: bool = False) -> str | None:
    """'the paragraph that begins "…"' (level 1) or the sentence itself (level 2+)."""
    loc = t.located
    if loc is None:
        return None
    n = 5 if t.young else 7
    if (level >= 2 or sentence) and loc.evidence is not None:
        words = t.ref.opening_words(loc.evidence, n)
        if words:
            return f'the sentence that begins "{words}…"'
    unit = "part" if t.young else "paragraph"
    opening = t.ref.opening_words(loc.opening, n) or t.ref.opening_words(loc.opening, n, mask=True)
    if opening:
        index = loc.evidence.index if loc.evidence is not None else 0
        if 0 < index < len(_ORDINALS):
            return f'the {_ORDINALS[index]} sentence of the {unit} that begins "{opening}…"'
        return f'the {unit} that begins "{opening}…"'
    before = t.ref.opening_words(loc.before, n)
    if before:
        return f'the sentence that begins "{before}…" and the one after it'
    return _paragraph_place(t)


def _place_sentence(t: _Turn, level: int = 1) -> str | None:
    place = _place(t, level)
    return f"Look at {place}." if place else None


def _topic(t: _Turn) -> str | None:
    """A word from the student's message that the passage also uses (never a pseudonym)."""
    if not t.inp.student_message or t.located is None:
        return None
    excerpt = set(content_lemmas(parse(t.located.excerpt, t.ref.model)))
    for tok in parse(t.inp.student_message, t.ref.model, light=True):
        noun = is_content(tok) and tok.pos_ == "NOUN" and not PLACEHOLDER.fullmatch(tok.text)
        if noun and tok.lemma_.lower() in excerpt and t.ref.safe(tok.text):
            return f'"{tok.text}"'
    return None


def _fallback(t: _Turn) -> str:
    strategy = t.pick(P.STRATEGY.get(t.qtype, P.STRATEGY["what"])[t.register], "strategy")
    return _join([strategy or "Let's look back at the text together.", _guide(t)])


def _greeting(message: str) -> str | None:
    """'I'm <PERSON_1>' -> 'Hi, <PERSON_1>!' (the pseudonym is copied, never rebuilt)."""
    match = _INTRO.search(message or "")
    return f"Hi, {match.group(1)}!" if match else None


_FIELD = re.compile(r"\{[^{}]*\}")
_SKELETON_WORDS = 4  # shorter fixed wording ("Look at {place}.") is in every other reply


def _skeleton_in(template: str, heard: str) -> bool:
    """Whether ``template``'s fixed wording (its phrases between fields) was all heard."""
    phrases = [padded_words(p) for p in _FIELD.split(template)]
    phrases = [p for p in phrases if len(p.split()) >= 2]
    if sum(len(p.split()) for p in phrases) < _SKELETON_WORDS:
        return False
    return all(p in heard for p in phrases)


def _join(parts: Sequence[str | None]) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())
