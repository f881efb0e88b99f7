"""Story questions the clause readers (``clauses``) do not ask: feelings, traits, reactions,
what a character did when something happened, what came of it, and what comes next.

These are the FairytaleQA element types experts ask most after plain actions (feeling,
character, causal relationship, outcome resolution, prediction). Every answer is copied
from one evidence sentence, with its pronouns named (``standalone.resolved``); an
answer that needs the reader to connect two sentences is labelled inference.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from spacy.tokens import Token

from readloom.llm.offline.nlp import Sentence, wordset
from readloom.llm.offline.passage import SPEECH_VERBS, Candidate, PassageView
from readloom.llm.offline.standalone import resolved
from readloom.llm.offline.syntax import analyse, declarative, subject_of, subtree_ids

EMOTIONS = wordset("""happy glad sad angry afraid frightened scared sorry pleased delighted joyful
    terrified surprised astonished amazed ashamed proud lonely jealous envious anxious worried
    curious grateful thankful furious miserable unhappy sorrowful merry overjoyed disappointed
    nervous excited annoyed vexed enraged alarmed upset cross grieved troubled uneasy content
    contented cheerful hopeful homesick embarrassed shy eager fearful wretched heartbroken
    startled horrified puzzled confused relieved satisfied glum gloomy joyous bewildered""")
EMOTION_NOUNS = wordset("""joy fear grief anger delight sorrow astonishment terror rage pleasure
    surprise fright horror shame pride envy jealousy despair dismay gladness sadness happiness
    wonder amazement relief""")
TRAITS = wordset("""kind brave clever wise foolish lazy greedy selfish generous honest cruel wicked
    gentle good bad proud humble poor rich rich beautiful ugly strong weak clumsy stupid
    cunning sly patient hardworking industrious faithful loyal bold timid cowardly mean
    stingy friendly helpful careless careful polite rude obedient naughty handsome pretty
    old young tiny little big tall short skillful skilful diligent idle""")
_WHEN_MARKS = wordset("when as after once")
_MAX_EVENT_WORDS = 12
_PERCEIVE = wordset("see hear notice spot find smell realize realise discover")
_STATES = wordset("be have seem feel know")
_MOTION = wordset("go visit return hurry travel rush hasten")
_TOWARD = wordset("to into towards toward")
_COMPLEMENTS = frozenset({"dobj", "ccomp", "xcomp", "dative", "attr", "acomp", "prep"})
_INTENT = wordset("decide want plan mean intend promise resolve determine hope wish long try")


def feelings(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """'The king was very angry when he heard it.' -> 'How did the king feel when he heard…'"""
    if not view.usable(s):
        return
    for tok in s.span:
        word = tok.lemma_.lower()
        shown = None  # "waited nervously": the feeling shows in how it was done
        if tok.dep_ == "acomp" and word in EMOTIONS:
            verb, answer_ids = tok.head, _with_conj(tok)
        elif tok.dep_ == "pobj" and word in EMOTION_NOUNS and tok.head.lower_ in ("with", "in"):
            verb, answer_ids = tok.head.head, subtree_ids(tok.head)
        elif tok.dep_ == "advmod" and (shown := _feeling_of_manner(tok.lower_)):
            verb, answer_ids = tok.head, set()
        else:
            continue
        if verb.pos_ not in ("VERB", "AUX") or shown and verb.lemma_ in ("be", "feel"):
            continue
        who = person_named(view, verb)
        if who is None:
            continue
        answer = shown or resolved(view, answer_ids)
        if not answer:
            continue
        tense = "does" if verb.tag_ in ("VBZ", "VBP") else "did"
        when = _when_clause(view, verb)
        question = f"How {tense} {who} feel{f' {when}' if when else ''}?"
        if len(question.split()) > view.max_question_words + 4:
            question = f"How {tense} {who} feel?"
        level = "inference" if shown else "literal"
        yield Candidate("feeling", question, answer, s.index, 0.95 if when else 0.8, level)
        if shown:  # "Why did Grandma Rosa smile proudly?" what happened just before
            cause = _cause_before(view, s)
            bare = not any(c.dep_ in _COMPLEMENTS for c in verb.children)  # "smiled proudly"
            if (cause and bare and verb.tag_ == "VBD" and verb.lemma_ not in SPEECH_VERBS
                    and min(subtree_ids(verb) - _left_of(verb)) == verb.i):  # fmt: skip
                why = f"Why did {who} {verb.lemma_} {tok.lower_}?"
                yield Candidate("causal_relationship", why, cause[0], cause[1], 0.7, "inference")
            continue
        # Why was the king angry? The cause: the sentence's because-clause, else (read
        # across sentences) what happened just before.
        cause = _cause_before(view, s)
        if cause and tok.dep_ == "acomp" and tense == "did":
            be = "was" if verb.tag_ == "VBD" else "is"
            why = f"Why {be} {who} {tok.text.lower()}?"
            yield Candidate("causal_relationship", why, cause[0], cause[1], 0.75, "inference")


def _feeling_of_manner(adverb: str) -> str | None:
    """'nervously' -> 'nervous', 'happily' -> 'happy': an adverb of a feeling we list."""
    if not adverb.endswith("ly"):
        return None
    stem = adverb[:-2]
    for word in (stem, stem[:-1] + "y" if stem.endswith("i") else stem, stem + "e"):
        if word in EMOTIONS:
            return word
    return None


def traits(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """'The miller was a greedy man' / 'The princess was clever' -> 'What was X like?'"""
    if not view.usable(s):
        return
    root = s.span.root
    if root.lemma_ != "be" or any(c.dep_ == "neg" for c in root.children):
        return  # "he was never short of money" says nothing he was like
    subj = subject_of(root)
    if subj is None or not view.is_person(subj) and subj.pos_ != "PRON":
        return
    adjs = [
        c
        for c in root.children
        if c.dep_ == "acomp"
        and c.lemma_.lower() in TRAITS
        and not any(p.dep_ == "prep" for p in c.children)  # "short of money": not a trait
    ] + [  # fmt: skip
        a
        for c in root.children
        if c.dep_ == "attr"
        for a in c.children
        if a.dep_ == "amod" and a.lemma_.lower() in TRAITS
    ]
    if not adjs:
        return
    who = person_named(view, root)
    if who is None:
        return
    words = [a.text.lower() for adj in adjs for a in _conj_tokens(adj)]
    words = [w for w in dict.fromkeys(words) if w not in ("old", "young", "little", "big")] or words
    answer = " and ".join(dict.fromkeys(words))
    tense = "was" if root.tag_ == "VBD" else "is"
    yield Candidate("character", f"What {tense} {who} like?", answer, s.index, 0.7)


def reactions(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """'When the prince saw the bird, he ran to it.' -> 'What did the prince do when he saw
    the bird?' (action), or with a thing as subject, 'What happened when …?' (outcome)."""
    if not view.usable(s):
        return
    root = s.span.root
    if root.pos_ not in ("VERB", "AUX") or root.lemma_ in ("be", "have"):
        return
    advcl = next(
        (
            c
            for c in root.children
            if c.dep_ == "advcl"
            and any(m.dep_ == "mark" and m.lower_ in _WHEN_MARKS for m in c.children)
        ),
        None,
    )
    if advcl is None:
        return
    mark = next(m for m in advcl.children if m.dep_ == "mark")
    event = resolved(view, {i for i in subtree_ids(advcl) if i > mark.i})  # not "just as"
    if not event or len(event.split()) > _MAX_EVENT_WORDS:
        return
    clause = analyse(root, drop=[advcl], within={t.i for t in s.span})
    if clause is None:
        return
    who = person_named(view, root)
    rest = resolved(view, clause.ids - clause.subject_ids, who)
    if not rest or len(rest.split()) < 2:
        return
    rel = mark.lower_
    inner = subject_of(advcl)
    pronoun = who is not None and inner is not None and inner.pos_ == "PRON"
    if pronoun and _bare(event).startswith(_bare(who) + " "):
        # "What do the seeds do as they fall?", not "… as seeds fall?"
        event = f"{inner.lower_} {_bare(event)[len(_bare(who)) + 1 :]}"
    present = root.tag_ in ("VBZ", "VBP")
    does = ("do" if root.tag_ == "VBP" else "does") if present else "did"
    if who is not None and root.lemma_ not in SPEECH_VERBS:
        question = f"What {does} {who} do {rel} {event}?"
        if len(question.split()) > view.max_question_words + 4:
            return
        yield Candidate("action", question, rest, s.index, 0.9)
    elif who is None:
        subj = resolved(view, clause.subject_ids)
        if subj:
            yield Candidate(
                "outcome_resolution", f"What {'happens' if present else 'happened'} {rel} {event}?",
                f"{subj} {rest}", s.index,
                0.8,
            )  # fmt: skip


def noticed_causes(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """'The captain saw the light and turned the boat.' -> 'Why did the captain turn the
    boat …? the captain saw the light': what a character saw or heard explains what the
    character did next, though the text never says "because" (an inference question)."""
    if not view.usable(s):
        return
    for seen in s.span:
        if seen.lemma_ not in _PERCEIVE or seen.tag_ != "VBD":
            continue
        done = next(
            (c for c in seen.children if c.dep_ == "conj" and c.tag_ == "VBD" and c.i > seen.i),
            None,
        )
        if done is None or done.lemma_ in _STATES or subject_of(done) is not None:
            continue  # "saw … and he ran" has its own subject: the parser's link is weaker
        if any(c.dep_ == "dobj" and c.lower_.endswith(("self", "selves")) for c in seen.children):
            continue  # "found herself at the gate": a place, not something noticed
        who = person_named(view, seen)
        if who is None:
            continue
        cut = {c.i for c in seen.children if c.dep_ in ("conj", "cc", "punct", "advcl")}
        perceived = subtree_ids(seen) - subtree_ids(subject_of(seen)) - {
            i for c in cut for i in subtree_ids(view.doc[c])
        }  # fmt: skip
        saw = resolved(view, perceived)
        deed_ids = subtree_ids(done) - {
            i for c in done.children if c.dep_ in ("conj", "cc", "punct", "advcl")
            for i in subtree_ids(c)
        }  # fmt: skip
        if min(deed_ids) != done.i:
            continue  # an adverb before the verb: no clean "Why did X <verb> …?"
        deed = resolved(view, deed_ids - {done.i}, who)
        if not saw or deed is None or not 2 <= len(saw.split()) <= _MAX_EVENT_WORDS:
            continue
        question = f"Why did {who} {done.lemma_}{' ' + deed if deed else ''}?"
        if len(question.split()) > view.max_question_words + 2:
            continue
        yield Candidate(
            "causal_relationship", question, f"{who} {saw}", s.index, 0.8, "inference"
        )  # fmt: skip


def purposes(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """'The captain visited the little house. He thanked Tobias for his courage.' -> 'Why did
    the captain visit the little house? to thank Tobias for his courage': where a character
    went is explained by what the character did on arriving (an inference question)."""
    if not view.usable(s) or s.index + 1 >= len(view.sentences):
        return
    nxt = view.sentences[s.index + 1]
    root, nroot = s.span.root, nxt.span.root
    if root.lemma_ not in _MOTION or root.tag_ != "VBD" or nroot.tag_ != "VBD":
        return
    if not view.usable(nxt) or nroot.lemma_ in _STATES | _MOTION | SPEECH_VERBS | _PERCEIVE:
        return
    if any(_gives_reason(c) for c in root.children) or any(
        t.lower_ in ("because", "so") for t in s.span
    ):  # fmt: skip
        return  # the sentence gives its own reason (the causal reader asks it)
    who = person_named(view, root)
    if who is None or person_named(view, nroot) != who:
        return
    went = analyse(root, drop=[c for c in root.children if c.dep_ in ("conj", "cc")])
    did = analyse(nroot, drop=[
        c for c in nroot.children if c.dep_ in ("conj", "cc", "advcl") or _unsure_extra(c)
    ])  # fmt: skip
    if went is None or did is None:
        return
    if not any(c.dep_ == "dobj" for c in nroot.children):
        return  # "crept softly": what one does on arriving is not always why one came
    if not any(c.dep_ == "dobj" or c.dep_ == "prep" and c.lower_ in _TOWARD for c in root.children):
        return  # a journey with somewhere to go to
    place = resolved(view, went.ids - went.subject_ids - {root.i}, who)
    deed = resolved(view, did.ids - did.subject_ids - {nroot.i}, who)
    if not place or not deed or min(did.ids - did.subject_ids) != nroot.i:
        return  # "quickly thanked …": no clean infinitive
    question = f"Why did {who} {root.lemma_} {place}?"
    answer = f"to {nroot.lemma_} {deed}"
    if len(question.split()) > view.max_question_words or len(answer.split()) > _MAX_EVENT_WORDS:
        return
    yield Candidate("causal_relationship", question, answer, nxt.index, 0.7, "inference")


def _gives_reason(child: Token) -> bool:
    """'…to light the lamp', '…, for he was cold': a purpose or a reason of the verb's own."""
    if child.dep_ == "xcomp":
        return True
    marks = {m.lower_ for m in child.children if m.dep_ in ("mark", "aux")}
    return child.dep_ == "advcl" and bool(marks & {"to", "because", "since", "for", "so"})


def predictions(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """From an event that says what a character means to do, what the character does next
    (answered by the next sentence)."""
    if not view.usable(s) or s.index + 1 >= len(view.sentences):
        return
    nxt = view.sentences[s.index + 1]
    if not view.usable(nxt) or nxt.paragraph != s.paragraph:
        return
    root, nroot = s.span.root, nxt.span.root
    if root.tag_ != "VBD" or nroot.tag_ != "VBD" or nroot.lemma_ in ("be", "have", "say"):
        return
    who, nwho = person_named(view, root), person_named(view, nroot)
    if who is None or nwho != who or not _foreshadows(s, nroot):
        return
    clause = analyse(root, drop=[c for c in root.children if c.dep_ in ("prep", "advcl")][1:])
    nclause = analyse(nroot, drop=[c for c in nroot.children if c.dep_ == "advcl"])
    if clause is None or nclause is None:
        return
    rest = resolved(view, clause.ids - clause.subject_ids, who)
    answer = resolved(view, nclause.ids - nclause.subject_ids, who)
    if not rest or not answer or len(rest.split()) > _MAX_EVENT_WORDS or len(answer.split()) < 2:
        return
    event = f"{who} {rest}"
    question = f"After {event}, what do you think {who} will do next?"
    if len(question.split()) > view.max_question_words + 4:
        return
    yield Candidate("prediction", question, answer, nxt.index, 0.6, "inference")


def _foreshadows(s: Sentence, next_verb: Token) -> bool:
    """The event states what the character means to do next ("decided to look for the
    stick", "wanted to see the castle") and the next sentence does it: a reader can
    predict it from a clue. Any next step without a clue is a guess, not a prediction."""
    for tok in s.span:
        if tok.lemma_ not in _INTENT:
            continue
        for c in tok.children:
            if c.dep_ == "xcomp" and c.pos_ == "VERB" and c.lemma_ == next_verb.lemma_:
                return True
    return False


def person_named(view: PassageView, verb: Token) -> str | None:
    """How a question names the verb's subject, when it is a person (pronouns resolved)."""
    subj = subject_of(verb)
    if subj is None:
        return None
    if subj.pos_ == "PRON":
        if subj.lower_ not in ("he", "she", "they"):
            return None
        name = view.antecedent(subj)
        if name is None:
            return None
        if re.match(r"(?:this|that|these|those)\b", name, re.I):
            return None  # "this greedy old woman": pointed at, not named
        determined = re.match(r"(?:the|a|an|his|her|their|its)\b", name, re.I)
        return name if name[:1].isupper() or determined else f"the {name}"
    if not view.is_person(subj):
        return None
    clause = analyse(verb)
    if clause is None:
        return None
    text = resolved(view, clause.subject_ids)
    return text if text and len(text.split()) <= 6 else None


def _when_clause(view: PassageView, verb: Token) -> str | None:
    for c in verb.children:
        mark = next((m for m in c.children if m.dep_ == "mark"), None)
        if c.dep_ == "advcl" and mark is not None and mark.lower_ in _WHEN_MARKS:
            text = resolved(view, subtree_ids(c))
            if text and len(text.split()) <= _MAX_EVENT_WORDS:
                return text
    return None


def _cause_before(view: PassageView, s: Sentence) -> tuple[str, int] | None:
    """The because-clause of the sentence, else the previous sentence as a short statement."""
    for tok in s.span:
        if tok.dep_ == "mark" and tok.lower_ == "because":
            text = resolved(view, subtree_ids(tok.head) - {tok.i})
            if text:
                return text, s.index
    if s.index == 0:
        return None
    prev = view.sentences[s.index - 1]
    if prev.paragraph != s.paragraph or not view.usable(prev):
        return None
    root = prev.span.root
    clause = analyse(root, drop=[
        c for c in root.children
        if c.dep_ in ("advcl", "conj", "cc") or _unsure_extra(c)
    ])  # fmt: skip
    if clause is None or root.pos_ not in ("VERB", "AUX"):
        return None
    subj = resolved(view, clause.subject_ids)
    rest = resolved(view, clause.ids - clause.subject_ids)
    if not subj or not rest:
        return None
    text = declarative(clause, subj) if not rest else f"{subj} {rest}"
    return (text, prev.index) if 3 <= len(text.split()) <= _MAX_EVENT_WORDS else None


def _unsure_extra(child: Token) -> bool:
    """'thanked Tobias for his courage': a phrase whose pronoun may name either person,
    dropped when the verb keeps its object (not "looked forward to seeing his …")."""
    return (
        child.dep_ == "prep"
        and any(t.pos_ == "PRON" for t in child.subtree)
        and any(c.dep_ == "dobj" for c in child.head.children)
    )


def _bare(text: str) -> str:
    return re.sub(r"^the ", "", text.lower())


def _left_of(verb: Token) -> set[int]:
    """The verb's subject and what precedes it: the rest is its predicate."""
    return {i for c in verb.lefts for i in subtree_ids(c)}


def _with_conj(tok: Token) -> set[int]:
    return {t.i for t in _conj_tokens(tok)} | {c.i for c in tok.children if c.dep_ == "cc"}


def _conj_tokens(tok: Token) -> list[Token]:
    out = [tok]
    for c in tok.children:
        if c.dep_ == "conj":
            out.extend(_conj_tokens(c))
    return out
