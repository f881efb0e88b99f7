"""Recognizers for the numbers, handles and places that identify a child.

Student and lunch numbers, usernames and gamer tags, birthdays, ages, street addresses,
ZIP codes and phone numbers, as children type them ("my lunch code is 55421", "add me on
roblox xX_Dragon_Xx", "im turning 11", "i live at 55 elm st apt 2b"). The regex match
*group* named ``v`` is the personal data; the cue around it stays in clear.
"""

from __future__ import annotations

import re

from readloom.guardrails.lexicon import Lexicon
from readloom.guardrails.recognizers import KIN, Rule, RuleRecognizer

I = re.IGNORECASE  # noqa: E741 - the usual regex flag alias

# --- shared regex pieces ---------------------------------------------------------------

NUM_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen)"
)
AGE_NUM = rf"(?:\d{{1,2}}|{NUM_WORD})"
# what may follow "i'm 10" when the number is not an age
NOT_AGE_AFTER = (
    r"(?!\s*(?:%|percent|pages?|points?|minutes?|mins?|hours?|hrs?|seconds?|days?|weeks?"
    r"|months?|chapters?|words?|questions?|problems?|times?|out\b|of\b|/|\.\d|feet|foot|ft\b"
    r"|inches|cm\b|pounds|lbs?\b|kg\b|books?|stars?|dollars?|\$|more\b|left\b|steps?|lines?"
    r"|paragraphs?|sentences?|pieces?|things?|people|kids|x\b))"
)
MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
YEAR = r"(?:19|20)\d{2}"
DATE = (
    rf"(?:{MONTH}\s+{DAY}(?:,?\s*{YEAR})?|(?:the\s+)?{DAY}\s+(?:of\s+)?{MONTH}(?:,?\s*{YEAR})?"
    rf"|\d{{1,2}}[/.-]\d{{1,2}}(?:[/.-](?:{YEAR}|\d{{2}}))?|{YEAR}-\d{{2}}-\d{{2}}|{YEAR})"
)
STREET_SUFFIX = (
    r"(?:street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|circle|cir"
    r"|way|place|pl|terrace|ter|parkway|pkwy|highway|hwy|trail|trl|square|sq|loop|alley"
    r"|crescent|cres|row|pike|plaza|ridge|walk)"
)
UNIT = r"(?:\s*,?\s*(?:apt|apartment|unit|suite|ste|#)\s*\.?\s*#?\s*[a-z0-9-]{1,6}\b)?"
# a word inside a street name: not a function word or a counted thing ("5 pages on the way")
STREET_WORD = (
    r"(?!(?:the|a|an|on|in|at|to|of|and|or|my|our|his|her|their|your|its|this|that|with|for"
    r"|by|from|every|one|which|what|all|pages?|minutes?|hours?|days?|times?|chapters?|miles?"
    r"|blocks?|steps?|kids|people|books?|words?)\b)[^\W_][\w'’.-]*"
)
US_STATES = (
    r"(?:alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware|florida"
    r"|georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|louisiana|maine|maryland"
    r"|massachusetts|michigan|minnesota|mississippi|missouri|montana|nebraska|nevada"
    r"|new hampshire|new jersey|new mexico|new york|north carolina|north dakota|ohio|oklahoma"
    r"|oregon|pennsylvania|rhode island|south carolina|south dakota|tennessee|texas|utah"
    r"|vermont|virginia|washington|west virginia|wisconsin|wyoming)"
)
US_STATE_CODES = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE"
    r"|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC)"
)
# --- numbers that identify a student -------------------------------------------------------

ID_CUE = (
    r"(?:student\s*(?:id|i\.d\.?|number|num|no\.?|#)|\bid\s*(?:number|num|no\.?|#)?|i\.d\.?"
    r"\s*(?:number|#)?|lunch\s*(?:number|num|no\.?|code|pin|id|#)|\bpin\s*(?:number|code|#)?"
    r"|locker\s*(?:number|combo|combination|#)?|library\s*card(?:\s*(?:number|#))?"
    r"|badge\s*(?:number|#)?|login\s*(?:number|id)?|account\s*(?:number|#))"
)


def student_id_recognizer() -> RuleRecognizer:
    return RuleRecognizer(
        "STUDENT_ID",
        [
            Rule(
                re.compile(
                    rf"{ID_CUE}\s*(?:is|was|=|:|#|-)?\s*(?:is\s+)?#?\s*(?P<v>[a-z]{{0,3}}-?\d[\d-]{{2,15}})",
                    I,
                ),
                0.85,
            ),
            # long bare digit runs in a child's message are ids far more often than not
            Rule(re.compile(r"(?<![\d\-+(.])(?P<v>\d{6,12})(?![\d-])"), 0.45),
            Rule(re.compile(r"(?<![\w-])(?P<v>(?-i:[A-Z]{1,2})\d{6,10})\b"), 0.6),
        ],
        name="StudentIdRecognizer",
    )


# --- usernames and handles ------------------------------------------------------------------

PLATFORM = (
    r"(?:user\s*name|username|user|handle|gamer\s*tag|gamertag|screen\s*name|ign|account|acc"
    r"|profile|channel|discord|roblox|minecraft|fortnite|xbox|psn|playstation|steam|twitch"
    r"|insta|instagram|ig|tiktok|tik\s*tok|snap|snapchat|youtube|yt|twitter|kik|whatsapp"
    r"|facebook|fb|epic|pinterest|scratch)"
)


def username_recognizer(lex: Lexicon) -> RuleRecognizer:
    def handle_ok(m: re.Match[str], text: str) -> bool:
        handle = m.group("v").strip(".")
        if "@" in handle[1:]:  # an email address, not a handle
            return False
        marked = any(c.isdigit() or c in "_.#@" for c in handle) or (
            handle[1:] != handle[1:].lower() and handle != handle.upper()
        )
        if marked:
            return True
        cue = m.group(0).lower()
        strong = any(k in cue for k in ("name", "tag", "handle", "ign"))
        return not lex.is_word(handle) and (strong or len(handle) >= 5)

    return RuleRecognizer(
        "USERNAME",
        [
            Rule(re.compile(r"(?<![\w@.])(?P<v>@[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,29}))"), 0.85),
            Rule(
                re.compile(
                    # the cue ends where the word does: "Ignatius" is not "ign" + "atius"
                    rf"\b{PLATFORM}(?:\s*(?:user\s*name|username|name|id|tag|handle|channel|account"
                    r"|acc)|(?![A-Za-z]))"
                    r"\s*(?:is|was|=|:|-|its|it's)?\s*(?:is\s+)?"
                    r"(?P<v>@?[A-Za-z0-9_][A-Za-z0-9_.#\-]{2,31})",
                    I,
                ),
                0.8,
                check=handle_ok,
            ),
        ],
        name="UsernameRecognizer",
    )


# --- birthdays and ages ------------------------------------------------------------------------


def dob_recognizer() -> RuleRecognizer:
    cue = (
        r"\b(?:birthday|bday|b-day|birth\s*day|birthdate|birth\s*date|date\s*of\s*birth|dob"
        r"|d\.o\.b\.?|born)\b"
    )
    return RuleRecognizer(
        "DATE_OF_BIRTH",
        [
            Rule(
                re.compile(
                    rf"{cue}(?:\s+(?:is|was|on|in|=|its|it's|it\s+is))*\s*:?\s*(?P<v>{DATE})\b", I
                ),
                0.85,
            )
        ],
        name="DateOfBirthRecognizer",
    )


def age_recognizer(lex: Lexicon) -> RuleRecognizer:
    def prev_is_name(m: re.Match[str], text: str) -> bool:
        word = m.group("who")
        return lex.is_name(word) or (word[0].isupper() and not lex.is_word(word))

    return RuleRecognizer(
        "AGE",
        [
            Rule(
                re.compile(rf"\b(?P<v>{AGE_NUM})\s*-?\s*(?:years?|yrs?|yr)\s*-?\s*old\b", I), 0.85
            ),
            Rule(re.compile(rf"\b(?P<v>{AGE_NUM})\s*(?:yo|y/o|y\.o\.?)(?!\w)", I), 0.7),
            Rule(re.compile(rf"\b(?:age|aged)\s*:?\s*(?P<v>{AGE_NUM})\b{NOT_AGE_AFTER}", I), 0.8),
            Rule(
                re.compile(
                    rf"\b(?:i'?m|i\s+am)\s+(?:only\s+|almost\s+|nearly\s+|just\s+)?"
                    rf"(?P<v>{AGE_NUM})\b{NOT_AGE_AFTER}",
                    I,
                ),
                0.75,
            ),
            Rule(
                re.compile(
                    rf"\b(?:turning|turned|turn|turns)\s+(?P<v>{AGE_NUM})\b{NOT_AGE_AFTER}", I
                ),
                0.7,
            ),
            Rule(
                re.compile(
                    rf"\b(?:{KIN}|he|she)(?:\s+[^\W\d_]+)?\s+(?:is|was|turned|turns|just\s+turned)"
                    rf"\s+(?:only\s+|almost\s+)?(?P<v>{AGE_NUM})\b{NOT_AGE_AFTER}",
                    I,
                ),
                0.7,
            ),
            Rule(
                re.compile(
                    r"\b(?P<who>[^\W\d_]{2,})\s+(?:is|was)\s+(?P<v>\d{1,2})(?=\s*(?:$|[.,!?]"
                    r"|and\b|but\b|so\b|too\b|years?\b|now\b))",
                    I,
                ),
                0.6,
                check=prev_is_name,
            ),
        ],
        name="AgeRecognizer",
    )


# --- where a child lives --------------------------------------------------------------------------


def address_recognizer() -> RuleRecognizer:
    street = rf"(?:{STREET_WORD}\s+){{0,4}}?{STREET_SUFFIX}\b\.?{UNIT}"
    return RuleRecognizer(
        "STREET_ADDRESS",
        [
            Rule(re.compile(rf"\b(?P<v>\d{{1,6}}[a-z]?\s+{street})", I), 0.8),
            Rule(
                re.compile(
                    r"\b(?:live|lives|living|lived|stay|stays|staying|moved|move|house\s+is"
                    r"|home\s+is|address\s+is|address)\s*:?\s+(?:on|at|to|in)?\s*"
                    rf"(?P<v>(?:\d{{1,6}}[a-z]?\s+)?(?:{STREET_WORD}\s+){{1,4}}?{STREET_SUFFIX}\b\.?{UNIT})",
                    I,
                ),
                0.75,
            ),
            Rule(
                re.compile(
                    r"\b(?P<v>(?:apt|apartment|suite|unit)\s*\.?\s*#?\s*\d{1,5}[a-z]?)\b", I
                ),
                0.6,
            ),
            Rule(
                re.compile(rf"\bon\s+(?P<v>(?:{STREET_WORD}\s+){{1,3}}?{STREET_SUFFIX}\b\.?)", I),
                0.6,
            ),
            Rule(
                re.compile(
                    rf"\bon\s+(?P<v>(?-i:[A-Z])[\w'’.-]*\s+(?:(?-i:[A-Z])[\w'’.-]*\s+){{0,3}}"
                    rf"{STREET_SUFFIX}\b\.?)",
                    I,
                ),
                0.65,
            ),
        ],
        name="StreetAddressRecognizer",
    )


def zip_recognizer() -> RuleRecognizer:
    zip5 = r"\d{5}(?:-\d{4})?"
    return RuleRecognizer(
        "ZIP_CODE",
        [
            Rule(
                re.compile(
                    rf"\b(?:zip|zipcode|zip\s*code|postal\s*code)\s*(?:code)?\s*(?:is|:|#)?\s*(?P<v>{zip5})\b",
                    I,
                ),
                0.85,
            ),
            Rule(re.compile(rf"\b(?:{US_STATES}|{US_STATE_CODES})\.?,?\s+(?P<v>{zip5})\b", I), 0.8),
            Rule(re.compile(rf"\b{STREET_SUFFIX}\b\.?{UNIT}\s*,?\s+(?P<v>{zip5})\b", I), 0.75),
        ],
        name="ZipCodeRecognizer",
    )


def phone_recognizer() -> RuleRecognizer:
    return RuleRecognizer(
        "PHONE_NUMBER",
        [
            Rule(
                re.compile(
                    r"(?<![\w+])(?P<v>(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-]?)\d{3}[\s.-]?\d{4})(?!\d)"
                ),
                0.75,
            ),
            Rule(
                re.compile(
                    r"\b(?:call|text|phone|number|cell|tel|mobile|whatsapp)\b[^\d\n]{0,20}"
                    r"(?P<v>\+?\d[\d\s().-]{5,16}\d)(?!\d)",
                    I,
                ),
                0.6,
            ),
        ],
        name="KidPhoneRecognizer",
    )
