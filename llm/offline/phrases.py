"""Wording for the offline tutor: several variants per slot, in two registers.

``young`` is grades K-3 (short, everyday words); ``older`` is grades 4 and up. Slots
are formatted with ``str.format``; variants are chosen deterministically per turn.
"""

from __future__ import annotations

Register = dict[str, tuple[str, ...]]

STRATEGY: dict[str, Register] = {
    "who": {
        "young": ("Find the part where that happens. Look for a name or a person.",
                  "Go back to the story and look for who is doing that."),
        "older": ("Go back to the passage and find where that action happens; names and people nearby are your clues.",
                  "Scan the text for the action in the question, then look at who is doing it."),
    },
    "what": {
        "young": ("Find the part of the story about this and read it again slowly.",
                  "Go back and reread the part that talks about this."),
        "older": ("Find the part of the passage that talks about this and reread it slowly.",
                  "Skim for the key words from the question, then read that part closely."),
    },
    "when": {
        "young": ("Look for time words, like a time of day, a day, or a season.",
                  "Time clues are words that tell when, like a day or a time."),
        "older": ("Look for time clues: a time of day, a date, a season, or words like \"after\" and \"during\".",
                  "Scan for words that tell when something happened."),
    },
    "where": {
        "young": ("Look for place words, like \"in\", \"on\", \"near\", or \"under\".",
                  "Place clues tell where. Look for words like \"in\" or \"at\"."),
        "older": ("Look for place clues, often after words like \"in\", \"at\", \"near\", or \"behind\".",
                  "Scan for words that tell you the setting or location."),
    },
    "why": {
        "young": ("Reasons often come after words like \"because\" or \"so\".",
                  "Look for the word \"because\" or \"so\". A reason is close by."),
        "older": ("Cause-and-effect clues include \"because\", \"so\", \"since\", and \"in order to\".",
                  "Find the event in the text, then look for a signal word like \"because\" or \"so\"."),
    },
    "vocabulary": {
        "young": ("Read the whole sentence with that word, and the sentence before it.",
                  "The words around a new word can help you figure it out."),
        "older": ("Context clues are nearby: a definition, an example, or a word that means the opposite.",
                  "Reread the sentence and the one before it; authors often explain hard words nearby."),
    },
    "main_idea": {
        "young": ("Think about what most of the story talks about, not just one part.",
                  "Look at the title and think: what is almost every part about?"),
        "older": ("Think about what the title and most paragraphs have in common.",
                  "A main idea covers the whole passage, not one detail. What do most paragraphs discuss?"),
    },
    "sequence": {
        "young": ("Order words like \"first\", \"then\", and \"after\" can help.",
                  "Think about what happened first, next, and last."),
        "older": ("Track the order of events; signal words like \"then\", \"after\", and \"finally\" help.",
                  "Find that event in the text, then read what comes right after it."),
    },
}  # fmt: skip

GUIDE: dict[str, tuple[str, ...]] = {
    "who": ("Which person do you see there?", "Who is doing the action in that part?"),
    "what": ("What does that part say happens?", "What detail there answers the question?"),
    "when": ("Which words there tell you when?", "What time clue do you notice?"),
    "where": ("Which words there tell you where?", "What place clue do you notice?"),
    "why": ("Which words there explain the reason?", "What clue word points to the cause?"),
    "vocabulary": ("What do the nearby words tell you about its meaning?",
                   "Which nearby words explain it?"),
    "main_idea": ("What is the big idea that ties it all together?",
                  "What do most sentences talk about?"),
    "sequence": ("What happens right after that?", "Which event comes next in the text?"),
}  # fmt: skip

AFTER_QUOTE = {
    "before": ("Read on to the end of that sentence.", "Keep reading that sentence to the end."),
    "after": ("Now read the words just before that part.", "Look at the words that come right before it."),
}  # fmt: skip

HINT_OPEN = {
    "young": ("Let's look together.", "Good thinking so far.", "You can do this."),
    "older": ("Let's work through it.", "Here's a nudge.", "You're close to finding it."),
}
PROBE_OPEN = {
    False: ("Hmm, let's check that against the text.", "Good try! Let's check again.",
            "Not quite yet, but you're thinking."),
    None: ("Tell me more about your thinking.", "Interesting idea!", "Let's test that idea."),
    True: ("You might be onto something!", "That sounds promising!"),
}  # fmt: skip
PROBE_ASK = (
    "Which sentence in the text supports your answer?",
    "What part of the text made you think that?",
)

PRAISE = {
    "who": "You found the right person by looking closely at the text.",
    "what": "You found the detail right in the text.",
    "when": "You spotted the time clue.",
    "where": "You spotted the place clue.",
    "why": "You found the reason, and noticing cause-and-effect clues is what strong readers do.",
    "vocabulary": "You used context clues to work out the meaning.",
    "main_idea": "You looked at the big picture, not just one detail.",
    "sequence": "You kept track of the order of events.",
}
PRAISE_OPEN = ("Yes, that's it!", "Great work!", "Exactly right!", "Nice job!")
MOVE_ON = ("Let's keep going.", "Ready for the next one?", "On to the next question.")

ASK_INTRO = ("Here's a question about {title}: ", "Let's think about {title}. ", "Try this one: ")
ASK_TAIL = (
    "Look back at the text to find the answer.",
    "Find the sentence in the text that helps you answer.",
    "Use the text to help you.",
)

# after a question that already makes a long reply: short sentences keep it easy to read
ASK_TAIL_SHORT = (
    "Take your time. Use the text to help you.",
    "Take your time. Read it again. Then tell me.",
)
ASK_TAIL_WORD = (
    "Take your time. The words near it are clues.",
    "Read it again slowly. The words near it are clues.",
)

ALTERNATE: dict[str, tuple[str, ...]] = {
    "who": ("Let's try it another way. Picture the story as a movie. In {place}, who is on screen, and what are they doing?",
            "Let's make it smaller. First find the action from the question in {place}. Then ask: who is doing it?"),
    "what": ("Let's make it smaller. In {place}, who or what is doing something? What is the action word?",
             "Let's break it down. Read {place}, then tell me in your own words what is going on there."),
    "when": ("Think of the story as a timeline. Put your finger on {place}. Is there a time of day, a date, or a season there?",
             "Let's ask a smaller question. Read {place}. Is there a word that tells when it happened?"),
    "where": ("Picture the scene like a map. In {place}, which words name a place?",
              "Imagine you are standing in the scene. Read {place}: what can you see around you?"),
    "why": ("Let's break it into two small steps. First, what happened? Then look in {place} for a clue word like \"because\" or \"so\". What comes with it?",
            "Think of it like dominoes: one thing knocks over the next. In {place}, what is the first domino?"),
    "vocabulary": ("Try a swap test. Reread {place} and put a word you know in place of the new word. Which word still makes sense?",
                   "Be a word detective. Read {place}. Look for an example, a meaning, or an opposite nearby."),
    "main_idea": ("Imagine you get one sentence to tell a friend what {title} is about. Start with {place}. What do most parts of the text keep talking about?",
                  "Think of the main idea like an umbrella: it covers every part of {title}. Begin with {place}. What idea covers all the parts?"),
    "sequence": ("Think of it like steps in a recipe. Find that event in {place}, then read the very next words. What happens there?",
                 "Let's make a tiny timeline. Find that event in {place}, then ask: what happens next?"),
}  # fmt: skip

REDIRECT = (
    "That's an interesting thought! Let's bring it back to {title}.",
    "I like your curiosity! For now, let's get back to {title}.",
)
ENCOURAGE = (
    "It's okay to feel stuck. Tricky questions are how readers grow.",
    "Take a deep breath. You're doing real reading work, and that takes time.",
    "Feeling frustrated is normal, and you are not alone. We can figure this out together.",
    "Every reader gets stuck sometimes. You can keep going, one step at a time.",
)
SMALL_STEP = (
    "Let's take one small step: read {place} one more time. What is one word there that stands out to you?",
    "Just one small step: reread {place}. What do you notice?",
    "Try this: reread {place}. What do you notice?",
    "Let's go slowly: read {place} again. Which words there help you most?",
)
FREE = (
    "Good question! Look at {place}. What does it tell you about {topic}?",
    "Let's find out in the text. Read {place}. What do you notice about {topic}?",
)
FREE_NO_TOPIC = (
    "Good question! Look at {place}. What do you notice there?",
    "Let's check the text. Read {place}. What does it make you think?",
)
DONE = (
    "You've worked through my questions on {title}. Which part of the text would you like to talk about?",
)

FILL = (
    'Fill in the blank from the text: "{blank}" Which words from the text go there?',
    'Here is the sentence with a gap: "{blank}" What words from the text fill the gap?',
)
READ_AGAIN = ("Read this part again: {quote}", "Look closely at these words: {quote}")
LOOK_AT = ("Look at {place}.", "Reread {place}.")
VOCAB_FRAME = (
    'Finish this in your own words: "{word}" means something like ___. Read the words right before and after "{word}": which meaning fits the sentence best?',
    'Try this: "{word}" means about the same as ___. Read the sentence again with your word in place of "{word}". Does it still make sense?',
)
MAIN_IDEA_POINTER = {
    1: (
        "Look at the first sentence of each paragraph; they often hold the big ideas.",
        "Skim the whole text and notice which idea keeps coming back.",
    ),
    2: (
        "Reread the title, {title}, and then {place}. What idea do they share?",
        "Start with the title, {title}. Then reread {place}. How are they connected?",
    ),
    3: (
        'Finish this sentence: "{name} is mostly about ___." Does your answer cover the whole text, or just one part of it?',
        "Choose between two: is {title} mostly about one small moment, or about something almost every paragraph talks about?",
    ),
}
