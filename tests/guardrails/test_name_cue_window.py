"""Name cues are read from a bounded window before each word, so a long passage costs
linear time, and the window never starts inside a word."""

from __future__ import annotations

from readloom.guardrails.names import CUE_WINDOW, KIN_CUE, STRONG_CUE, _before


def test_the_window_holds_the_words_just_before_a_position():
    text = "The fox ran through the woods. " * 40 + "Her name is "
    window = _before(text, len(text))
    assert len(window) <= CUE_WINDOW and window.endswith("Her name is ")
    assert STRONG_CUE.search(window)
    assert _before("my name is ", 11) == "my name is "  # short prefixes are whole


def test_the_window_never_starts_inside_a_word():
    # the window's edge falls between "ene" and "my": "my friend" must not count as a cue
    tail = "my friend" + " " * (CUE_WINDOW - len("my friend"))
    text = "We met an enemy friend".removesuffix("my friend") + tail
    assert text.endswith("enemy friend" + tail[len("my friend") :])
    window = _before(text, len(text))
    assert not window.startswith("my")
    assert KIN_CUE.search(window) is None
    assert KIN_CUE.search("We met my friend ")  # the real cue still reads


def test_a_name_deep_in_a_long_text_is_still_found_from_its_cue(redactor):
    text = "The fox ran through the quiet woods at dawn. " * 400 + "My name is Zorblatt."
    found = [text[f.start : f.end] for f in redactor.analyze(text) if f.entity_type == "PERSON"]
    assert "Zorblatt" in found
