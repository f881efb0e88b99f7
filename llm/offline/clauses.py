"""Question candidates read off a sentence's clauses: who/what/when/where, why, sequence.

Each answer is the source text of the phrase the question removed, so it can be found
in (and checked against) the evidence sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from spacy.tokens import Token

from readloom.llm.offline.nlp import TIME_NOUNS, Sentence, wordset
from readloom.llm.offline.passage import Candidate, PassageView
from readloom.llm.offline.syntax import (
    Clause,
    analyse,
    core_prefix,
    declarative,
    inverted_question,
    noun_phrase_ids,
    phrase,
    render,
    subject_of,
    subject_question,
    subtree_ids,
)
from readloom.state import QuestionType

PLACE_PREPS = wordset("""in at on inside into onto under near behind beside across through toward towards
    along around above below beneath over outside between among""")
# With these, any concrete noun is a place; "in/at/on/over" need a known place noun.
_SPATIAL_PREPS = PLACE_PREPS - {"in", "at", "on", "over"}
PLACE_NOUNS = wordset("""house home school room kitchen garden yard park forest woods wood river stream lake
    pond sea ocean beach harbor harbour tower lighthouse city town village street road field
    farm barn mountain hill cave island shore window door table desk shelf library gym
    gymnasium classroom museum store shop market attic basement bridge boat ship castle camp
    tent nest dam lodge den burrow ground floor sky top middle bottom edge corner country
    state world valley desert jungle meadow path trail station porch hallway bedroom
    playground zoo hospital office church stage bank cabin hut canyon cliff coast bay
    channel creek swamp marsh""")
_NOT_PLACES = wordset(
    "way order fact case hurry silence surprise fear love trouble danger secret turn "
    "addition general particular time moment mind life rest"
)
_ABSTRACT = ("ness", "tion", "sion", "ment", "ity", "ance", "ence", "ship", "dom", "ism")
_TIME_PREPS = wordset("at in on during before after until by")
_TIME_ADVERBS = wordset("yesterday today tonight tomorrow")
_TIME_ENTS = frozenset({"DATE", "TIME"})
_PLACE_ENTS = frozenset({"GPE", "LOC", "FAC"})
_SEQUENCE_OPENERS = (
    "then", "next", "later", "soon", "afterward", "afterwards", "finally", "eventually",
    "after that", "at last", "the next day", "the next morning", "that night", "the following",
)  # fmt: skip

_STATIVE = wordset("be have live know want like love seem belong need own contain mean remember")
_VAGUE_PRONOUNS = wordset("it them this that these those")

Make = Callable[[Clause], str | None]


def literal(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """who/what/when/where from the sentence's main clause(s)."""
    if not view.usable(s):
        return
    root = s.span.root
    verbs = [root] + [c for c in root.children if c.dep_ == "conj" and subject_of(c) is not None]
    within = {t.i for t in s.span}
    for verb in verbs:
        if verb.pos_ not in ("VERB", "AUX"):
            continue
        if any(c.dep_ == "neg" for c in verb.children) and any(True for _ in _causes(verb)):
            continue  # "did not climb the tree, since it was too tall": ask why, not what
        base = analyse(verb, within=within)
        if base is None:
            continue
        named = view.subject_text(base)
        yield from _subject_questions(view, s, base, named)
        if named is None:
            continue
        subject, resolved = named
        penalty = 0.1 if resolved else 0.0
        for child in verb.children:
            if child.i not in within:
                continue
            kind = _adjunct_kind(child)
            if kind is None:
                continue
            wh, qtype, score = kind
            made = _fit(
                view,
                verb,
                within,
                [child],
                lambda c, wh=wh, subject=subject: inverted_question(c, wh, subject),
            )
            if made:
                answer = phrase(view.doc, subtree_ids(child))
                yield Candidate(qtype, made, answer, s.index, score - penalty)
        yield from _appositive_questions(view, s, verb)


def introductions(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """'There was once a king who had three daughters.' -> 'Who had three daughters?': a
    story brings its people in with a relative clause, and the experts ask who it was."""
    if not view.usable(s):
        return
    for verb in s.span:
        subj = subject_of(verb) if verb.dep_ == "relcl" else None
        if subj is None or subj.lower_ not in ("who", "that"):
            continue
        person = verb.head
        if not view.is_person(person) or person.pos_ == "PRON" or not _introduces(verb, person):
            continue
        clause = analyse(verb, within=subtree_ids(verb))
        if clause is not None and any(view.doc[i].lower_ in _OBJECT_PRONOUNS for i in clause.ids):
            continue  # "Who loved him dearly?": whom, the question does not say
        made = subject_question(clause, "Who") if clause is not None else None
        if not made or not 3 <= len(made.split()) <= view.max_question_words + 2:
            continue
        while person.dep_ == "conj" and view.is_person(person.head):
            person = person.head  # "a king and a queen who had": the clause is theirs
        ids = noun_phrase_ids(person)
        if any(c.dep_ == "conj" for c in person.children):  # "a King and a Queen"
            for c in person.children:
                ids |= noun_phrase_ids(c) if c.dep_ in ("conj", "cc") else set()
        yield Candidate("who", made, phrase(view.doc, ids), s.index, 0.9)


_OBJECT_PRONOUNS = frozenset({"him", "her", "them", "it", "me", "us", "you"})
_COMPLEMENTS = frozenset({"dobj", "attr", "acomp", "prep", "xcomp", "ccomp", "dative"})


def _introduces(verb: Token, person: Token) -> bool:
    """A relative clause that says something about the person: an active verb with what it
    does or is ("who had three daughters"), not "the handsomest youth that ever was seen";
    and a person the story brings in ("There was a king who…"), not one named in passing
    ("…your time over a man who is as poor as a rat")."""
    if any(c.dep_ in ("auxpass", "nsubjpass") for c in verb.children):
        return False
    if not any(c.dep_ in _COMPLEMENTS for c in verb.children):
        return False
    indefinite = any(c.lower_ in ("a", "an") for c in person.children if c.dep_ == "det")
    return not (indefinite and person.dep_ == "pobj")


def _subject_questions(
    view: PassageView, s: Sentence, base: Clause, named: tuple[str, bool] | None
) -> Iterator[Candidate]:
    subj, verb = base.subject, base.verb
    if named is None:
        return
    pronoun = subj.pos_ == "PRON"  # resolved: fine inside a question, never as an answer
    listed = any(c.dep_ == "conj" for c in subj.children)  # "Ducks, frogs, and fish"
    own = set() if listed else noun_phrase_ids(subj) & base.subject_ids
    answer = phrase(view.doc, own or base.subject_ids)
    attr = next((c for c in verb.children if c.dep_ == "attr"), None)
    if verb.lemma_ == "be" and attr is not None and not pronoun:
        wh = "Who" if view.is_person(subj) else "What"
        made = _fit(view, verb, None, [attr], lambda c: inverted_question(c, wh, named[0]))
        if made:
            qtype = "who" if wh == "Who" else "what"
            yield Candidate(qtype, made, phrase(view.doc, subtree_ids(attr)), s.index, 0.7)
        return
    if verb.lemma_ == "do" or pronoun:
        pass  # "What did the opposite?" asks nothing; "Who carried it?" -> "he"
    elif verb.lemma_ == "be" and any(c.dep_ == "neg" for c in verb.children):
        pass  # "Who was not lazy?" asks for nobody in particular
    elif view.is_person(subj):
        made = _fit(view, verb, None, [], lambda c: subject_question(c, "Who"))
        score = 1.0 if subj.pos_ == "PROPN" else 0.85
        if made:
            yield Candidate("who", made, answer, s.index, score)
    elif subj.pos_ in ("NOUN", "PROPN") and verb.lemma_ != "be":  # not "What was not lazy?"
        wh = "Who" if verb.lemma_ in _MINDS else "What"  # only people think ruefully
        made = _fit(view, verb, None, [], lambda c, wh=wh: subject_question(c, wh))
        if made:
            yield Candidate("what", made, answer, s.index, 0.5)
    obj = next((c for c in verb.children if c.dep_ == "dobj"), None)
    if obj is not None and obj.pos_ in ("NOUN", "PROPN") and verb.lemma_ != "do":
        wh = "Who" if view.is_person(obj) and not view.is_animal(obj) else "What"
        if verb.lemma_ in _LINKING:  # "the sky turned a dark gray": a colour, not a thing
            if obj.lemma_.lower() not in _COLOURS:
                return  # "What did the sky turn?" asks nothing a child can picture
            wh = "What color"
        made = _fit(view, verb, None, [obj], lambda c: inverted_question(c, wh, named[0]))
        if made:
            qtype = "who" if wh == "Who" else "what"
            answer = phrase(view.doc, noun_phrase_ids(obj))
            score = (0.8 if wh == "Who" else 0.75) - (0.1 if named[1] else 0.0)
            yield Candidate(qtype, made, answer, s.index, score)


_LINKING = wordset("turn grow become go get fall seem look appear remain stay prove")
_COLOURS = wordset("""red orange yellow green blue purple violet pink brown black white gray grey
    silver gold golden crimson scarlet""")


def _appositive_questions(view: PassageView, s: Sentence, verb: Token) -> Iterator[Candidate]:
    """'Dr. Okafor, a botanist from the university, studied…' -> 'Who was Dr. Okafor?'"""
    tense = "was" if verb.tag_ == "VBD" or verb.tag_ == "VBN" else "is"
    for tok in s.span:
        appos = next((c for c in tok.children if c.dep_ == "appos"), None)
        if appos is None or tok.ent_type_ != "PERSON" or appos.pos_ != "NOUN":
            continue
        name = view._name(tok)
        answer = phrase(view.doc, subtree_ids(appos))
        if name and answer and len(answer.split()) <= 10:
            yield Candidate("who", f"Who {tense} {name}?", answer, s.index, 0.8)


def _adjunct_kind(child: Token) -> tuple[str, QuestionType, float] | None:
    dep, low = child.dep_, child.lower_
    if dep == "prep":
        if low == "by" and any(c.dep_ == "pcomp" and c.tag_ == "VBG" for c in child.children):
            return "How", "what", 0.85  # "gained a living by selling them": the means
        pobj = next((c for c in child.children if c.dep_ == "pobj"), None)
        if pobj is None or pobj.pos_ == "PRON":
            return None
        if low in _TIME_PREPS and (pobj.ent_type_ in _TIME_ENTS or pobj.lower_ in TIME_NOUNS):
            return "When", "when", 1.0 if pobj.ent_type_ in _TIME_ENTS else 0.85
        if low in PLACE_PREPS and _is_place(pobj):
            if pobj.ent_type_ in _PLACE_ENTS:
                return "Where", "where", 1.0
            if _place_noun(pobj):
                return "Where", "where", 0.9
            if low in _SPATIAL_PREPS:
                return "Where", "where", 0.65
        return None
    if dep == "npadvmod" and (child.ent_type_ in _TIME_ENTS or child.lower_ in TIME_NOUNS):
        return "When", "when", 0.9
    if dep == "advmod" and low in _TIME_ADVERBS:
        return "When", "when", 0.8
    if dep == "advcl":
        mark = next((c for c in child.children if c.dep_ == "mark"), None)
        if mark is not None and mark.lower_ in ("when", "while"):
            return "When", "when", 0.85
    return None


def _is_place(tok: Token) -> bool:
    low = tok.lemma_.lower()
    if tok.ent_type_ in _PLACE_ENTS:
        return True
    if tok.ent_type_ in _TIME_ENTS or low in TIME_NOUNS or low in _NOT_PLACES:
        return False
    return tok.pos_ == "NOUN" and not low.endswith(_ABSTRACT)


def _place_noun(tok: Token) -> bool:
    return tok.lemma_.lower() in PLACE_NOUNS


def _fit(
    view: PassageView, verb: Token, within: set[int] | None, drop: list[Token], make: Make
) -> str | None:
    """Build the question, dropping optional prepositional phrases until it is short enough
    (a storybook "once upon a time" always: "Where did a farmer live upon a time?")."""
    drop = drop + [c for c in verb.children if _upon_a_time(c) and c not in drop]
    optional = [
        c for c in reversed(list(verb.children))
        if c.dep_ == "prep" and c not in drop and (verb.lemma_, c.lower_) not in _PHRASAL
    ]  # fmt: skip
    best: str | None = None
    for k in range(len(optional) + 1):
        clause = analyse(verb, drop=drop + optional[:k], within=within)
        if clause is None:
            return best
        pronouns = _pronoun_objects(clause)
        named = {i: view.antecedent(clause.doc[i]) for i in pronouns}
        if any(v is None for v in named.values()):
            continue  # "What repairs it?" names nothing a reader can find
        made = make(replace(clause, replace=tuple(sorted(named.items()))) if named else clause)
        if made is None:
            continue
        if len(made.split()) <= view.max_question_words:
            return made
        best = best or made
    return None


# A verb and the preposition it needs: "looked closely" without "at the burrs" is cut off.
_PHRASAL = frozenset(
    (verb, prep)
    for verb, preps in {
        "look": "at for into after", "stare": "at", "listen": "to", "wait": "for",
        "point": "at to", "belong": "to", "depend": "on", "search": "for", "ask": "for",
        "reach": "for", "care": "for", "think": "about of", "talk": "about to",
        "laugh": "at", "long": "for", "hope": "for", "pray": "for", "rely": "on",
    }.items()
    for prep in preps.split()
)  # fmt: skip


def _upon_a_time(tok: Token) -> bool:
    return (
        tok.dep_ == "prep"
        and tok.lower_ == "upon"
        and any(c.lower_ == "time" for c in tok.children)
    )


def _pronoun_objects(clause: Clause) -> list[int]:
    doc = clause.doc
    return [
        i
        for i in sorted(clause.ids - clause.subject_ids)
        if doc[i].lower_ in _VAGUE_PRONOUNS and doc[i].dep_ in ("dobj", "pobj", "attr")
    ]


# --- why -----------------------------------------------------------------------------


def causal(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """'X because Y', 'Y, so X', 'X to/in order to Y' -> 'Why …X?' answered by Y."""
    if not view.usable(s):
        return
    within = {t.i for t in s.span}
    for verb in s.span:
        if verb.pos_ not in ("VERB", "AUX") or subject_of(verb) is None:
            continue
        for cause, score in _causes(verb):
            answer = phrase(view.doc, core_prefix(view.doc, _what_was_known(view.doc, cause)))
            if answer[:4].lower() == "for ":  # "for he had a purse": the reason is the clause
                answer = answer[4:]
            base = analyse(verb, within=within - cause)
            if base is None or not answer:
                continue
            named = view.subject_text(base)
            if named is None:
                continue
            subject, resolved = named
            drop = [view.doc[i] for i in cause if view.doc[i].head.i not in cause]
            made = _fit(
                view,
                verb,
                within - cause,
                drop,
                lambda c, subject=subject: inverted_question(c, "Why", subject),
            )
            if made:
                yield Candidate("why", made, answer, s.index, score - (0.1 if resolved else 0))


_MINDS = wordset("""think say tell ask answer reply cry shout whisper wish hope decide promise
    love hate want wonder pray laugh weep smile""")
_MENTAL = wordset("know see realize realise think hear remember notice fear believe")


def _what_was_known(doc, cause: set[int]) -> set[int]:
    """'because she knew that the boats were still at sea' -> 'the boats were still at sea':
    the reason is what the person knew, and the answer needs no pronoun."""
    head = next((doc[i] for i in cause if doc[i].head.i not in cause), None)
    if head is None or head.lemma_ not in _MENTAL:
        return cause
    subj = subject_of(head)
    comp = next((c for c in head.children if c.dep_ == "ccomp"), None)
    if subj is None or subj.pos_ != "PRON" or comp is None or subject_of(comp) is None:
        return cause
    return subtree_ids(comp) - {c.i for c in comp.children if c.dep_ == "mark"}


def _causes(verb: Token) -> Iterator[tuple[set[int], float]]:
    doc = verb.doc
    for child in verb.children:
        first = doc[child.left_edge.i]
        if child.dep_ == "advcl":
            mark = next((c for c in child.children if c.dep_ == "mark"), None)
            if mark is not None and mark.lower_ == "because":
                yield subtree_ids(child), 1.0
            elif mark is not None and mark.lower_ == "since" and not _has_time(child):
                yield subtree_ids(child), 0.7
            elif mark is not None and mark.lower_ == "so" and child.i > verb.i:
                yield subtree_ids(child), 0.85
            elif mark is not None and mark.lower_ == "for" and child.i > verb.i:
                yield subtree_ids(child), 0.85  # the storyteller's "…, for he had a purse"
            elif _infinitive(child) and (
                first.lower_ == "to"
                or (first.lower_ == "in" and doc[first.i + 1].lower_ == "order")
            ):  # "to seek her fortune"; not "to whom the forest belonged"
                yield subtree_ids(child), 0.9 if first.lower_ == "in" else 0.8
        elif child.dep_ == "prep" and child.lower_ == "because":
            yield subtree_ids(child), 0.9
        elif child.dep_ == "prep" and child.lower_ == "for" and verb.lemma_ in _FOR_REASON:
            yield subtree_ids(child), 0.85  # "thanked Tobias for his courage"
        elif child.lower_ == "so" and child.dep_ in ("advmod", "mark", "cc") and child.i < verb.i:
            prev = doc[child.i - 1] if child.i > 0 else None
            cause = [c for c in verb.lefts if c.dep_ in ("advcl", "ccomp") and c.i < child.i]
            if prev is not None and prev.text == "," and cause:
                ids = subtree_ids(cause[0])
                inner = subject_of(cause[0])
                if inner is not None:
                    ids = {i for i in ids if i >= doc[inner.left_edge.i].i}
                yield ids, 0.95


_FOR_REASON = wordset("thank praise reward punish blame forgive scold admire honour honor")


def _infinitive(verb: Token) -> bool:
    return any(c.dep_ == "aux" and c.lower_ == "to" for c in verb.children)


def _has_time(tok: Token) -> bool:
    return any(t.ent_type_ in _TIME_ENTS for t in tok.subtree)


# --- sequence ------------------------------------------------------------------------


def sequence(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """'After X, Y.' -> 'What happened after X?'; 'Then Y.' after 'X.' likewise."""
    if not view.usable(s):
        return
    root = s.span.root
    within = {t.i for t in s.span}
    for child in root.children:
        if child.dep_ != "advcl":
            continue
        # "after" is a mark to the parser; "when" an adverb opening the clause
        mark = next((c for c in child.children if c.dep_ == "mark"), None) or next(
            (c for c in child.children if c.dep_ == "advmod" and c.i == child.left_edge.i), None
        )
        if mark is None:
            continue
        if mark.lower_ not in ("after", "before", "once", "when") or subject_of(child) is None:
            continue
        event = render(view.doc, subtree_ids(child) - {mark.i})
        # "When it was time to marry, she had her suitors assemble": what a person does
        # when something happens is the story's action, the experts' commonest question
        score = 0.9 if mark.lower_ == "when" else 1.0
        made = _event_question(
            view, s, root, within - subtree_ids(child), mark.lower_, event, score
        )
        if made:
            yield made
    if s.index == 0 or not _opens_with_sequence_word(s):
        return
    prev = view.sentences[s.index - 1]
    if view.usable(prev):
        event = statement(view, prev)
        if event:
            made = _event_question(view, s, root, within, "after", event, 0.85)
            if made:
                yield made


def narrative_sequence(view: PassageView, s: Sentence) -> Iterator[Candidate]:
    """Consecutive past-tense events in one paragraph, for stories without order words."""
    if s.index == 0 or not view.usable(s):
        return
    prev = view.sentences[s.index - 1]
    if prev.paragraph != s.paragraph or not view.usable(prev):
        return
    if s.span.root.tag_ != "VBD" or prev.span.root.tag_ != "VBD":
        return
    if s.span.root.lemma_ in _STATIVE or prev.span.root.lemma_ in _STATIVE:
        return
    event = statement(view, prev)
    if event:
        made = _event_question(view, s, s.span.root, {t.i for t in s.span}, "after", event, 0.5)
        if made:
            yield made


def _opens_with_sequence_word(s: Sentence) -> bool:
    low = s.text.lower()
    return any(low.startswith(w + " ") or low.startswith(w + ",") for w in _SEQUENCE_OPENERS)


def statement(view: PassageView, s: Sentence) -> str | None:
    root = s.span.root
    clause = analyse(root, drop=[c for c in root.children if c.dep_ == "prep"][1:])
    if clause is None or root.pos_ not in ("VERB", "AUX"):
        return None
    named = view.subject_text(clause)
    if named is None:
        return None
    text = declarative(clause, named[0])
    return text if 3 <= len(text.split()) <= 10 else None


def _event_question(
    view: PassageView, s: Sentence, root: Token, within: set[int], rel: str, event: str,
    score: float,
) -> Candidate | None:  # fmt: skip
    clause = analyse(root, within=within)
    if clause is None or root.pos_ not in ("VERB", "AUX"):
        return None
    named = view.subject_text(clause)
    if named is None:
        return None
    subject, _ = named
    if rel == "when" and root.lemma_ in ("be", "seem", "feel", "know", "remember"):
        return None  # "What did the king do when he heard? was angry": no deed
    subj = clause.subject
    person = view.is_person(subj) or (subj.pos_ == "PRON" and subj.lower_ in ("he", "she"))
    present = root.tag_ in ("VBZ", "VBP")  # prose: "What happens when the wind blows?"
    if person and (subj.pos_ != "PRON" or rel == "when"):
        if subj.pos_ == "PRON" and event.lower().startswith(subject.lower() + " "):
            event = f"{subj.lower_} {event[len(subject) + 1 :]}"  # "…do when she reached…"
        does = "do" if subj.tag_ in ("NNS", "NNPS") or subj.lower_ == "they" else "does"
        question = f"What {does + ' ' if present else 'did '}{subject} do {rel} {event}?"
        answer = render(view.doc, clause.ids - clause.subject_ids)
        qtype = "what" if rel == "when" else "sequence"  # "when": the story's action
    else:
        happens = "happens" if present else "happened"
        question, qtype = f"What {happens} {rel} {event}?", "sequence"
        answer = declarative(clause, subject)  # "the suitors …", not "they …"
    if len(question.split()) > view.max_question_words + 4 or len(answer.split()) < 2:
        return None
    return Candidate(qtype, question[:1].upper() + question[1:], answer, s.index, score)
