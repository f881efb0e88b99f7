"""Wording for the dialogue moves added with the grader: choosing among guesses, answering
the child's own question, and the worked explanation. Several variants per slot."""

from __future__ import annotations

CHOOSE = (
    "You gave me a few ideas. Pick the one you think is right, and tell me why.",
    "That's more than one answer! Choose just one, and tell me what in the text makes you think so.",
    "Which one of those do you really think it is? Pick one and show me the words in the text that helped.",
)
OWN_QUESTION_OPEN = ("Good question!", "I like that you asked.", "Great thing to wonder about.")
WORD_IN_TEXT = (
    'The word "{word}" is in this sentence: "{sentence}" The words around it are clues to what it means.',
    'Here is where the text uses "{word}": "{sentence}" Read the words around it for clues.',
)
WORD_MEANING = ('"{word}" means {meaning}.', 'Here "{word}" means {meaning}.')
TEXT_SAYS = ('The text says: "{sentence}"', 'Here is the part that helps: "{sentence}"')
BACK_TO = (
    "Now, back to our question: {question}",
    "Let's go back to the question: {question}",
    "Now try our question again: {question}",
)
WORKED_OPEN = (
    "Let's work this one out together.",
    "This one is tricky, so let me show you how I find it.",
    "Let's solve it side by side.",
)
WORKED_STEPS = (
    'The question asks: {question} The text says: "{evidence}" That sentence answers it: {answer}.',
    'First I look for the part of the text that matches the question: {question} I find it here: "{evidence}" So the answer is {answer}.',
)
WORKED_OWN_WORDS = (
    "Can you say that answer in your own words?",
    "Try telling me that answer your own way.",
    "Now say it in your own words, so it sticks.",
)
HOW_MANY = ("({n} words go in the gap.)", "(The gap is {n} words.)")
HOW_MANY_ONE = ("(One word goes in the gap.)", "(The gap is one word.)")
