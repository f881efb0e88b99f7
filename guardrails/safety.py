"""Content safety: a child's disclosure of harm gets a caring, scripted reply (no LLM).

Patterns are written for how children type ("i wanna die", "kms", "unalive myself", "my
step dad hits me", no apostrophes, stretched letters). They are first-person on purpose:
"the wolf wanted to kill the pigs" or "this homework is killing me" are not disclosures.
Every match has a severity tier and a confidence; low-confidence matches still get the
caring reply, and the alert goes to a human review queue instead of straight to a teacher.
Model output is checked separately for age-appropriateness (``age.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from readloom.guardrails.base import GuardContext, GuardResult, Severity

I = re.IGNORECASE  # noqa: E741

ME = r"(?:me|myself|my\s*self|mysef|myslef|meself)"
SELF = r"(?:myself|my\s*self|mysef|myslef|meself|mself)"
KIN = (
    r"(?:dad|daddy|father|mom|mommy|mum|mother|step\s*dad|step\s*mom|stepfather|stepmother"
    r"|uncle|aunt|auntie|brother|sister|cousin|grandpa|grandma|babysitter|mom'?s\s+boyfriend"
    r"|parents?|foster\s+(?:mom|dad|parent)|coach|teacher|neighbou?r)"
)
WEAPON = r"(?:gun|guns|knife|knives|rifle|pistol|bomb|weapon)"

REPLIES: dict[str, str] = {
    "self_harm": (
        "I'm really glad you told me. What you're feeling matters, and you deserve help "
        "right now. Please tell a grown-up you trust today, like a parent, a teacher, or your "
        "school counselor. If you might hurt yourself or you don't feel safe right now, call "
        "or text 988 or call 911. I'm letting your teacher know so a caring adult can check "
        "in with you."
    ),
    "abuse": (
        "Thank you for telling me. It is not your fault, and you don't have to handle this "
        "alone. Please tell a grown-up you trust, like a teacher or your school counselor, as "
        "soon as you can. You can also call or text the Childhelp hotline at 1-800-422-4453 "
        "any time. If you are in danger right now, call 911. I'm letting your teacher know so "
        "a caring adult can help."
    ),
    "crisis": (
        "Thank you for telling me. Your safety matters most. Please tell a grown-up you trust, "
        "like a teacher or your school counselor, right away. If you are in danger right now, "
        "call 911. I'm letting your teacher know so a caring adult can help."
    ),
    "harm_to_others": (
        "It sounds like you're having really big feelings right now. Feeling angry is okay, "
        "but hurting someone is not. Please talk to a grown-up you trust, like a teacher or "
        "your school counselor, about what's going on. I'm letting your teacher know so "
        "someone can help."
    ),
    "bullying": (
        "I'm sorry that's happening to you. You deserve to feel safe and respected. Talking "
        "to a grown-up you trust, like your teacher or school counselor, can really help. I'm "
        "letting your teacher know so they can check in with you. When you're ready, we can "
        "keep reading together."
    ),
    "distress": (
        "I'm sorry you're feeling this way. Your feelings matter, and you don't have to carry "
        "them alone. Talking to a grown-up you trust, like your teacher or school counselor, "
        "can help. I'm letting your teacher know so they can check in with you."
    ),
    "hate": (
        "Words like that can really hurt people, so let's leave them out. Let's get back to "
        "our reading together. What part of the story should we look at next?"
    ),
    "harassment": (
        "Sounds like this is frustrating, and that's okay! Let's take a breath and try it "
        "together. Which part feels tricky?"
    ),
    "profanity": ("Let's keep our words kind here. Can you tell me that again in a different way?"),
    "unsafe_request": (
        "That's not something I can help with here. Let's get back to our reading! What did "
        "you think about the story so far?"
    ),
}


@dataclass(frozen=True)
class SafetyRule:
    category: str
    severity: Severity
    confidence: float
    regex: re.Pattern[str]


def _r(category: str, severity: Severity, confidence: float, *patterns: str) -> list[SafetyRule]:
    return [SafetyRule(category, severity, confidence, re.compile(p, I)) for p in patterns]


NOT_FIGURATIVE = r"(?!\s*(?:of|from|laughing|lol|lmao|haha|if|when|cuz|because|for\s+(?:a|some|that|this|pizza)))"

RULES: list[SafetyRule] = [
    *_r(
        "self_harm",
        "critical",
        0.9,
        rf"\b(?:kill|kil|hurt|harm|cut|cutting|hang|shoot|stab|unalive|starve|burn)(?:ing)?\s+{SELF}\b",
        r"\b(?:i|im|i'?m|i\s+am)\s+(?:going\s+to|gonna|gona|want\s+to|wanna|wana|will|might|should)"
        rf"\s+(?:die|dye|end\s+it|end\s+my\s+life|not\s+be\s+here){NOT_FIGURATIVE}",
        r"\b(?:want|wanna|wana|wish)\s+(?:to\s+|2\s+)?(?:die|be\s+dead|not\s+be\s+alive|not\s+exist)"
        rf"\b{NOT_FIGURATIVE}",
        r"\bi\s+wish\s+i\s+(?:was|were|wasn'?t|was\s+never|had\s+never\s+been)\s+(?:dead|alive|born|here)",
        r"\b(?:kms|kys\s+myself|sewer\s*slide)\b",
        r"\b(?:i|im|i'?m|i\s+am|i\s+feel|i\s+have|having|been)\s+(?:so\s+|really\s+|kinda\s+)?"
        r"(?:suicidal|suicidle|sucidal|suicidal\s+thoughts)\b",
        r"\b(?:commit|commiting|committing|do|thinking\s+(?:about|of)|think\s+about)\s+"
        r"(?:suicide|suacide|sucide|suicde|suiside|sewer\s*slide)\b",
        r"\b(?:end|ending|take|taking)\s+my\s+(?:own\s+)?life\b",
        r"\b(?:no|nothing\s+to)\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living|being\s+alive)",
        r"\b(?:every(?:one|body)|they|my\s+family)\s+(?:would\s+be|is|are)\s+better\s+off\s+without\s+me",
        r"\bnobody\s+would\s+(?:miss|care\s+if)\s+(?:me|i)\b",
        r"\b(?:cut|cuts|cutting|scratch|scratching|burn|burning)\s+(?:on\s+)?my\s+(?:arms?|wrists?|legs?|skin|thighs?)",
        r"\b(?:take|took|swallow|swallowed)\s+(?:all\s+)?(?:the\s+|my\s+mom'?s\s+|a\s+bunch\s+of\s+)?pills\b",
        r"\bjump\s+off\s+(?:a|the|my)\s+(?:bridge|roof|building|balcony)",
        r"\bdon'?t\s+(?:want|wanna)\s+(?:to\s+)?(?:live|be\s+alive|exist|wake\s+up)\b",
    ),  # fmt: skip
    *_r(
        "abuse",
        "critical",
        0.9,
        rf"\b(?:my\s+)?{KIN}\s+(?:always\s+|keeps\s+|still\s+|sometimes\s+)?"
        rf"(?:hits|hit|beats|beat|punches|punched|kicks|kicked|chokes|choked|slaps|slapped|burns|burned"
        rf"|whips|whipped|hurts|hurt|bruised)\s+{ME}\b(?!\s+(?:back|in\s+(?:a\s+)?game))",
        r"\b(?:touches|touched|touching|touch)\s+(?:me|my)\s+(?:private|privates|down\s+there|where|in\s+(?:my|the))",
        r"\b(?:touches|touched)\s+me\b.*\b(?:secret|don'?t\s+tell|not\s+to\s+tell)",
        r"\bmade\s+me\s+(?:touch\s+(?:him|her|his|their)|take\s+off\s+my|get\s+naked|keep\s+(?:a\s+|it\s+)?secret)",
        r"\b(?:showed|shows)\s+me\s+(?:his|her|their)\s+(?:private|privates|body|pictures\s+of)",
        r"\b(?:hits?|beats?|whips?)\s+me\s+with\s+(?:a|his|her|the)\s+(?:belt|stick|shoe|cord|hanger|hand)",
        r"\b(?:scared|afraid|scarred)\s+(?:to\s+go|of\s+going)\s+home\b",
        rf"\b(?:scared|afraid)\s+of\s+my\s+{KIN}\b",
        r"\b(?:leaves?|left|locks?|locked)\s+me\s+(?:alone\s+)?(?:in\s+the\s+(?:closet|basement|room)|for\s+days|outside\s+all\s+night)",
    ),  # fmt: skip
    *_r(
        "crisis",
        "critical",
        0.85,
        r"\b(?:i'?m|im|i\s+am|i\s+don'?t\s+feel|i\s+dont\s+feel)\s+not\s+safe\b",
        r"\bi\s+(?:don'?t|dont|do\s+not)\s+feel\s+safe\b",
        r"\bsomeone\s+(?:online|on\s+\w+)\s+(?:asked|wants|told)\s+me\s+(?:for|to\s+send|to\s+meet)",
        r"\b(?:asked|wants?|told)\s+me\s+to\s+send\s+(?:him|her|them)?\s*(?:pics|pictures|photos|nudes)",
        r"\b(?:send|sent)\s+(?:me\s+)?nudes\b",
    ),  # fmt: skip
    *_r(
        "crisis",
        "high",
        0.75,
        r"\b(?:no|don'?t\s+have|dont\s+have|never\s+have)\s+(?:any\s+)?(?:enough\s+)?food\s+(?:at\s+home|in\s+(?:my|our)\s+house)",
        r"\bhaven'?t\s+eaten\s+(?:in|since|for|all)\s+(?:\d+|two|three|days|yesterday|day)",
        r"\b(?:i'?m|im|i\s+am|we'?re|we\s+are)\s+(?:going\s+to\s+|gonna\s+)?(?:run\s+away|running\s+away|homeless)",
        r"\bi\s+ran\s+away\s+from\s+home\b",
        r"\bsomeone\s+is\s+(?:following|hurting|stalking)\s+me\b",
    ),  # fmt: skip
    *_r(
        "harm_to_others",
        "critical",
        0.85,
        rf"\b(?:bring|bringing|brought|take|taking)\s+(?:a|my|my\s+dad'?s|my\s+mom'?s)\s+{WEAPON}\s+to\s+school",
        r"\bshoot\s+up\s+(?:the|my|our)\s+school\b",
        r"\b(?:blow\s+up|bomb)\s+(?:the|my|our)\s+school\b",
    ),  # fmt: skip
    *_r(
        "harm_to_others",
        "high",
        0.55,
        r"\b(?:i'?m|im|i\s+am|i'?ll|ill|i\s+will|i\s+want\s+to|i\s+wanna)\s+(?:going\s+to\s+|gonna\s+)?"
        r"(?:kill|stab|shoot|hurt|beat\s+up|punch)\s+(?:him|her|them|someone|somebody|everyone|everybody|people|my\s+\w+|\w+\s+at\s+school)\b"
        rf"{NOT_FIGURATIVE}",
        rf"\bi\s+(?:have|got|found)\s+a\s+{WEAPON}\b",
    ),  # fmt: skip
    *_r(
        "bullying",
        "medium",
        0.7,
        r"\b(?:they|kids|people|everyone|everybody|he|she|boys|girls|someone|somebody|classmates)"
        r"(?:\s+(?:at|in|on)\s+(?:school|class|the\s+bus|recess))?\s+(?:keep\s+|keeps\s+|always\s+|still\s+|are\s+|is\s+)?"
        r"(?:bully|bullies|bullying|pick(?:s|ing)?\s+on|mak(?:e|es|ing)\s+fun\s+of|laugh(?:s|ing)?\s+at"
        r"|teas(?:e|es|ing)|push(?:es|ing)?|shov(?:e|es|ing)|hit(?:s|ting)?|punch(?:es|ing)?|kick(?:s|ing)?"
        r"|threaten(?:s|ing)?|beat(?:s|ing)?\s+me\s+up|call(?:s|ing)?\s+me\s+names)\s*(?:me)?\b",
        r"\b(?:i'?m|im|i\s+am|i\s+get|i\s+got|been|being)\s+(?:getting\s+)?(?:bullied|jumped|beat\s+up|picked\s+on)\b",
        r"\bnobody\s+(?:wants\s+to\s+)?(?:plays?|sits?|talks?)\s+(?:with|to)\s+me\b",
    ),  # fmt: skip
    *_r(
        "distress",
        "medium",
        0.6,
        r"\bi\s+hate\s+(?:my\s+life|myself|my\s+self|being\s+alive)\b",
        r"\b(?:nobody|no\s+one|noone)\s+(?:likes|loves|cares\s+about|wants)\s+me\b",
        r"\bi\s+(?:feel|am|'m|m)\s+(?:so\s+|really\s+|very\s+)?(?:worthless|hopeless|empty\s+inside|alone\s+all\s+the\s+time)\b",
        r"\bi\s+(?:want|wanna)\s+to\s+disappear\b",
        r"\bi\s+cry\s+(?:every\s+(?:day|night)|all\s+the\s+time)\b",
    ),  # fmt: skip
    *_r(
        "hate",
        "medium",
        0.6,
        r"\bn+[i1!]+[gq]+(?:[e3]+r+|[a@]+h?|u+h+)s?\b",
        r"\bf+[a@]+g+(?:[o0]+t+)?s?\b",
        r"\bretard(?:ed|s)?\b",
        r"\b(?:go\s+back\s+to\s+your\s+country|all\s+\w+\s+(?:people\s+)?should\s+die)\b",
    ),  # fmt: skip
    *_r(
        "unsafe_request",
        "low",
        0.7,
        rf"\bhow\s+(?:do\s+(?:i|you|u)|to|can\s+(?:i|you|u)|would\s+(?:i|you))\s+(?:make|build|get|buy|use|find)\s+(?:a\s+|an\s+|some\s+)?"
        rf"(?:{WEAPON}|explosives?|poison|drugs|meth|weed|vapes?|cigarettes|alcohol|beer|fake\s+id)\b",
        r"\bhow\s+(?:do\s+(?:i|you|u)|to|can\s+i)\s+(?:get\s+high|get\s+drunk|hack\s+(?:into|someone)|steal|shoplift|cheat\s+on)\b",
        r"\b(?:porn|porno|xxx|nudes|naked\s+(?:girls|boys|pictures|pics)|sex\s+(?:video|pics|pictures))\b",
        r"\b(?:blackout|tide\s*pod|skull\s*breaker|benadryl)\s+challenge\b",
    ),  # fmt: skip
    *_r(
        "harassment",
        "low",
        0.6,
        r"\b(?:you'?re|your|ur|you\s+are|u\s+r)\s+(?:so\s+|really\s+|a\s+|an\s+)*(?:stupid|dumb|an?\s+idiot|idiot|useless|trash|garbage|ugly|loser|moron)\b",
        r"\b(?:i\s+hate\s+(?:you|u)|shut\s+up|kys|kill\s+yourself|go\s+die)\b",
    ),  # fmt: skip
    *_r(
        "profanity",
        "low",
        0.8,
        r"\b(?:f+u+c+k+\w*|f\*+c?k\w*|fck\w*|fuk\w*|fk|sh[i1!]+t+\w*|sh\*+t|b[i1!]+t+c+h+\w*|b\*+tch\w*"
        r"|a+s+s+h+o+l+e+s?|dumbass|jackass|dickhead|pussy|cunt|wtf|stfu|motherf\w*)\b",
    ),  # fmt: skip
]
GROUP = (
    r"(?:(?:black|white|asian|mexican|jewish|muslim|gay|trans|chinese|indian|arab|african)\s+"
    r"(?:people|kids|guys)|jews|muslims|gays|immigrants|mexicans|blacks)"
)
HARM_VERB = (
    r"(?:hits?|beats?|punch(?:es)?|kicks?|chokes?|slaps?|burns?|whips?|hurts?|throws\s+\w+\s+at)"
)

RULES += [
    *_r("self_harm", "critical", 0.85,
        rf"\b(?:scratch|scratching|hit|hitting|punch|punching|bite|biting|bang|banging|choke|choking)\s+{SELF}\b",
        r"\b(?:hurt|hurting|cut|cutting|hit|hitting)\s+(?:myself|my\s*self|me)\s+on\s+purpose\b",
        r"\b(?:hit|hitting|bang|banging|bash|bashing)\s+my\s+head\s+(?:on|against|into)\b",
        r"\bso\s+i\s+(?:can\s+)?feel\s+something\b",
        r"\b(?:go\s+to\s+sleep|fall\s+asleep)\s+and\s+(?:never|not)\s+wake\s+up\b",
        r"\b(?:i'?d|i\s+would|i'?m|i\s+am)\s+be(?:tter)?\s+off\s+dead\b|\bbetter\s+off\s+dead\b",
        r"\b(?:i\s+should|i\s+might\s+as\s+well|i\s+just\s+want\s+to|i\s+wanna|i\s+want\s+it\s+to|i\s+want\s+it\s+all\s+to)\s+"
        r"(?:just\s+)?(?:die|end|stop)\b(?!\s+(?:the|this|reading|playing|the\s+game))",
        r"\b(?:what'?s|whats|what\s+is)\s+the\s+point\s+(?:of|in)\s+(?:living|being\s+alive|life)\b",
        r"\blife\s+(?:isn'?t|is\s+not|aint)\s+worth\b",
        r"\b(?:nobody|no\s+one|noone)\s+would\s+(?:care|notice|cry)\s+if\s+i\s+(?:died|was\s+gone|disappeared)\b",
        r"\b(?:goodbye|suicide)\s+(?:letter|note)\b",
        r"\b(?:thinking|thought)\s+(?:about|of)\s+(?:ending\s+it|killing\s+myself|dying|not\s+being\s+here)\b",
        r"\bi\s+(?:don'?t|dont|do\s+not)\s+(?:want|wanna)\s+to\s+be\s+(?:here|around)\s+(?:anymore|any\s+more)\b",
        r"\b(?:stop|stopped)\s+(?:eating|living)\s+(?:on\s+purpose|so\s+i)",
    ),
    *_r("abuse", "critical", 0.8,
        rf"\b(?:my\s+)?{KIN}\s+(?:always\s+|keeps\s+|still\s+)?(?:throws\s+\w+\s+at|grabs?|grabbed|shoves?|shoved|pushed)\s+me\b",
        rf"\bwhen\s+(?:my\s+)?{KIN}\s+(?:drinks|is\s+drunk|gets\s+mad|gets\s+angry)\b.*\b{HARM_VERB}\s+me\b",
        r"\bi\s+(?:get|got)\s+(?:beat|beaten|hit|whipped|whooped|punched|slapped)\s+(?:at\s+home|every|when|by\s+my)\b",
        r"\b(?:bruises?|marks|cuts)\s+(?:from|because\s+of|that)\s+my\s+\w+",
        r"\b(?:touch(?:es|ed|ing)?|rub(?:s|bed)?|kiss(?:es|ed)?)\s+(?:me\s+)?(?:on\s+|in\s+)?my\s+(?:private|privates|no-no|butt|bottom|chest|body|parts|area)\b",
        r"\b(?:private|privates|no-no|bad)\s+(?:places|spots|parts)\b",
        r"\b(?:showed|shows|sends?|sent)\s+me\s+(?:naked|nude|bad|inappropriate|gross|weird)\s+(?:pictures|pics|videos|photos)\b",
        r"\b(?:asked|asks|makes|made|told)\s+me\s+to\s+(?:touch\s+(?:him|her|his|their)|kiss\s+(?:him|her)|take\s+(?:off\s+)?my\s+(?:clothes|shirt|pants))\b",
        r"\b(?:told|tells|said)\s+me\s+(?:not\s+to\s+tell|to\s+keep\s+(?:it\s+)?(?:a\s+)?secret)\b",
        r"\b(?:secret\s+game|our\s+little\s+secret)\b",
        r"\b(?:won'?t|doesn'?t|don'?t|never)\s+(?:let\s+me\s+eat|feed\s+me|give\s+me\s+food)\b",
    ),
    *_r("abuse", "high", 0.6,
        rf"\b(?:he|she|they)\s+(?:always\s+|keeps\s+|still\s+|sometimes\s+)?{HARM_VERB}\s+me\b(?!\s+(?:back|in\s+(?:a\s+)?game))",
        rf"\b(?:my\s+)?{KIN}\s+(?:always\s+|keeps\s+)?(?:yells|screams)\s+at\s+me\s+(?:all\s+the\s+time|every\s+day|every\s+night)\b",
        rf"\b(?:my\s+)?{KIN}\s+(?:always\s+|keeps\s+)?calls\s+me\s+(?:stupid|worthless|ugly|fat|useless|an?\s+idiot)\b",
    ),
    *_r("crisis", "high", 0.75,
        r"\b(?:nobody|no\s+one|noone)\s+(?:is|comes|came|has\s+been)\s+home\s+(?:for|in)\s+(?:days|\d+\s+days|two\s+days|a\s+long\s+time)\b",
        rf"\b(?:my\s+)?{KIN}\s+(?:left|leave|leaves|leaving)\s+(?:me|us)\s+(?:home\s+)?alone\s+(?:for\s+days|all\s+night|all\s+weekend|overnight)\b",
        r"\bwe\s+(?:don'?t|dont|do\s+not)\s+have\s+(?:any\s+)?(?:heat|electricity|water|food|a\s+home|a\s+place\s+to\s+(?:live|sleep))\b",
        r"\b(?:i|we)\s+(?:sleep|live|are\s+living)\s+in\s+(?:the|our|a)\s+car\b",
        r"\bi'?m\s+(?:always|so)\s+hungry\s+(?:at\s+home|because\s+there)\b|\bnobody\s+takes\s+care\s+of\s+me\b",
        r"\b(?:a\s+(?:man|guy|lady|stranger)|someone|somebody|a\s+grown\s*up)\s+(?:online\s+|on\s+\w+\s+)?(?:wants?|asked|told|keeps\s+asking)\s+(?:me\s+)?to\s+(?:meet|come|get\s+in|go\s+with)\b",
        r"\b(?:i'?m|im|i\s+am)\s+(?:lost|locked\s+(?:in|out)|trapped)\b(?!\s+(?:in\s+(?:the|this)\s+(?:story|book|game|chapter)))",
        r"\bsomeone\s+(?:broke|is\s+breaking)\s+into\s+(?:our|my)\s+(?:house|home|apartment)\b",
    ),
    *_r("bullying", "medium", 0.7,
        r"\b(?:they|kids|people|someone|everyone)\s+(?:said|told\s+me|keep\s+telling\s+me)\s+(?:to\s+)?(?:kill\s+myself|kys|go\s+die)\b",
        r"\b(?:they|kids|people|someone|everyone)\s+(?:post|posted|posts|spread|spreads)\s+(?:mean|bad|fake|embarrassing)\s+\w+\s+about\s+me\b",
        r"\b(?:everyone|everybody|they\s+all)\s+(?:ignores?|hates?)\s+me\b|\bcyber\s*bull",
        r"\b(?:they|kids|someone|\w+)\s+(?:took|take|takes|stole|steal)\s+my\s+(?:lunch|money|stuff|things|phone)\s+(?:every|again|at\s+school)\b",
        r"\bthreaten(?:s|ed)?\s+to\s+(?:beat|hurt|jump|fight)\s+me\b",
    ),
    *_r("unsafe_request", "low", 0.7,
        rf"\b(?:how\s+to|where\s+(?:can|do)\s+(?:i|you|u)|how\s+(?:can|do)\s+(?:i|you|u))\s+(?:make|build|get|buy|find|use|smoke|vape|try|do)\s+(?:a\s+|an\s+|some\s+|real\s+)?"
        rf"(?:{WEAPON}|explosives?|molotov|pipe\s*bombs?|poison|drugs|meth|cocaine|weed|pot|edibles|vapes?|juul|cigarettes|alcohol|beer|liquor|vodka|pills)\b",
        r"\bwhat\s+(?:drugs|pills|stuff)\s+(?:get|gets|make|makes)\s+(?:you|u)\s+high\b|\bhow\s+(?:much|many)\s+\w+\s+to\s+get\s+(?:drunk|high)\b",
        r"\b(?:how\s+(?:to|do\s+(?:i|you|u)|can\s+(?:i|you|u))|best\s+way\s+to)\s+(?:kill|hurt|poison|stab|choke|beat\s+up|make\s+\w+\s+bleed)\s+(?:someone|somebody|a\s+person|people|my\s+\w+|him|her|them|a\s+\w+)\b",
        r"\bhow\s+(?:to|do\s+(?:i|you|u)|can\s+(?:i|you|u))\s+(?:break\s+into|rob|pick\s+a\s+lock|get\s+away\s+with|hack\s+\w+|steal\s+\w+)\b",
        r"\b(?:hack|steal|get\s+into)\s+(?:someone'?s|somebody'?s|my\s+\w+'?s|\w+'?s)\s+(?:account|password|phone|instagram|roblox|snapchat)\b|\bfree\s+robux\s+hack\b",
        r"\b(?:tell|write|give)\s+me\s+(?:a\s+)?(?:racist|sexist|dirty|nasty)\s+(?:joke|jokes|story)\b",
        rf"\b(?:why\s+are\s+)?{GROUP}\s+(?:are\s+)?(?:so\s+)?(?:dumb|stupid|evil|gross|bad|terrorists|criminals|inferior)\b",
        r"\bhow\s+(?:do|can)\s+i\s+make\s+(?:someone|somebody|him|her|them|\w+)\s+(?:cry|feel\s+bad|feel\s+stupid|sad)\b",
        r"\b(?:write|give|help)\s+(?:me\s+)?(?:a\s+)?(?:mean|nasty)\s+(?:message|note|text|roast|thing)\b|\bhow\s+to\s+(?:bully|embarrass|humiliate)\b",
        r"\b(?:choking|fire|salt\s+and\s+ice|cinnamon|pass\s*out|blackout|skull\s*breaker|tide\s*pod|benadryl)\s+challenge\b|\bhow\s+to\s+(?:pass\s+out|choke\s+yourself)\b",
        r"\b(?:say|tell\s+me|teach\s+me|what\s+are)\s+(?:some\s+|a\s+)?(?:cuss|curse|swear|bad|dirty)\s+words?\b",
        r"\b(?:what\s+is|what'?s|tell\s+me|give\s+me|find|look\s+up)\s+(?:my\s+teacher'?s|someone'?s|his|her|\w+'?s)\s+(?:home\s+)?(?:address|phone\s+number|password|number)\b",
        r"\bwhere\s+does\s+(?:my\s+teacher|\w+)\s+live\b",
        r"\b(?:what\s+is\s+sex|how\s+(?:do|to)\s+(?:people\s+)?(?:have\s+sex|make\s+babies)|show\s+me\s+(?:naked|nude|sexy))\b",
    ),
]  # fmt: skip
RULES += [
    *_r("self_harm", "critical", 0.85,
        r"\bfeel\s+like\s+(?:dying|dieing|i\s+(?:want|wanna)\s+(?:to\s+)?die|ending\s+it|killing\s+myself)\b",
        r"\bjump\s+in\s+front\s+of\s+(?:a|the)\s+(?:car|train|bus|truck)\b",
    ),
    *_r("abuse", "critical", 0.8,
        r"\b(?:will|gonna|going\s+to|would)\s+(?:hurt|kill|beat|hit)\s+me\s+if\s+i\s+(?:tell|told|say)\b",
        r"\bmakes?\s+me\s+do\s+(?:things|stuff)\s+i\s+(?:don'?t|dont|do\s+not)\s+(?:want|like)\b",
        r"\btouch(?:ed|es|ing)\s+me\s+(?:inappropriately|in\s+a\s+(?:bad|weird|wrong)\s+way|down\s+there|there)\b",
    ),
    *_r("crisis", "high", 0.65,
        r"\bmy\s+(?:parents|mom\s+and\s+dad|dad\s+and\s+mom)\s+(?:fight|argue|are\s+fighting)\s+"
        r"(?:a\s+lot|all\s+the\s+time|every\s+night|really\s+bad|and\s+(?:he|she)\s+(?:hits|hurts))\b",
        r"\b(?:no|don'?t\s+have|dont\s+have)\s+(?:any\s+)?money\s+for\s+food\b",
        r"\bmy\s+(?:mom|dad|mother|father|parents?)\s+(?:didn'?t|doesn'?t|don'?t|never)\s+(?:come|came)\s+home\b",
        r"\b(?:tried|try|trying|wanted)\s+to\s+(?:take|grab|kidnap|drag)\s+me\b",
        r"\b(?:grabbed|followed)\s+me\s+(?:home|at|after|to|from)\b",
    ),
    *_r("bullying", "medium", 0.7,
        r"\b(?:they|kids|people|everyone|he|she)\s+(?:always\s+|keep\s+|keeps\s+)?call(?:s|ing)?\s+me\s+(?:fat|ugly|stupid|dumb|gay|names|retard\w*|weird)\b",
    ),
    *_r("unsafe_request", "low", 0.7,
        rf"\bteach\s+me\s+(?:how\s+)?to\s+(?:make|build|use|shoot)\s+(?:a\s+)?(?:{WEAPON}|explosives?)\b|\bbest\s+(?:gun|knife|weapon)\s+(?:to|for)\b",
        r"\b(?:roll|smoke)\s+a\s+(?:joint|blunt)\b|\bhow\s+to\s+hide\s+(?:a\s+|my\s+)?(?:vape|weed|alcohol)\b",
        r"\b(?:pictures|pics|videos|photos)\s+of\s+(?:naked|nude)\b",
        r"\bbeat\s+(?!me\b)(?:someone|somebody|him|her|them|\w+)\s+up\b",
        r"\bhow\s+(?:to|do\s+i|can\s+i)\s+sneak\s+out\b",
        r"\b(?:say|write)\s+something\s+(?:mean|bad|rude)\s+about\b",
        r"\bhow\s+(?:to|do\s+i|can\s+i|do\s+you)\s+(?:start|make)\s+a\s+fire\b|\b(?:eat|drink|swallow)\s+(?:a\s+)?(?:tide\s*pods?|bleach)\b",
    ),
]  # fmt: skip
PAST_HARM = r"(?:hit|beat|punched|kicked|choked|strangled|slapped|burned|burnt|whipped|smacked)"
THREAT = r"(?:will|'?ll|are\s+going\s+to|is\s+going\s+to|gonna)"
# Broader shapes of the same disclosures and requests: who did what to whom, not set phrases.
RULES += [
    *_r("self_harm", "critical", 0.8,
        rf"\b(?:burn(?:ed|t|ing)?|cut(?:ting)?|scratch(?:ed)?)\s+{SELF}\s+(?:with|again|on\s+purpose|till|until)\b",
        r"\b(?:everyone|everybody|they|my\s+family|people)\s+(?:would|will|'?d)\s+be\s+better\s+off\s+"
        r"(?:if\s+i\s+(?:was|were|wasn'?t|weren'?t)\b|without\s+me)",
    ),
    *_r("abuse", "critical", 0.75,
        rf"\b(?:he|she|they|my\s+{KIN}|{KIN})\s+(?:\w+\s+)?{PAST_HARM}\s+me\s+(?:and|so|until|till|last|again|every|when|because)\b",
        rf"\b(?:my\s+)?{KIN}\s+(?:\w+\s+)?(?:hit|punch|kick|beat|slap|choke|burn|whip|smack)(?:e?s)?\s+me\s+(?:if|when|every|for)\b",
        rf"\b(?:bruises?|marks|welts|cuts)\b.{{0,30}}\bfrom\s+(?:my\s+)?(?:{KIN}|him|her|them)\b",
    ),
    *_r("crisis", "high", 0.7,
        r"\bwe\s+have\s+no\s+(?:heat|food|electricity|water|home)\b|\bsleep\s+in\s+my\s+(?:coat|jacket)\b",
        r"\b(?:bring(?:ing|s)?|brought|has|have|had)\s+(?:a\s+)?(?:gun|knife|weapon)\s+(?:to|at|in)\s+school\b",
        r"\b(?:bring(?:ing|s)?|brought)\s+a\s+(?:gun|knife)\b.{0,40}\b(?:shoot|stab|kill|hurt)\b",
        r"\bshoot\s+(?:up\s+)?(?:people|the\s+school|everyone|everybody|us|kids)\b",
        r"\b(?:man|guy|lady|woman|stranger|someone|somebody|adult)\b.{0,40}\b(?:keeps?\s+)?follow(?:s|ed|ing)?\s+me\b",
        r"\btold\s+me\s+to\s+get\s+in(?:to)?\s+(?:his|her|their|the|a)\s+(?:car|van|truck)\b",
    ),
    *_r("bullying", "medium", 0.7,
        rf"\b(?:they|he|she|kids|someone)\s+(?:said|say|says|told\s+me)\s+(?:that\s+)?(?:they|he|she)\s+{THREAT}\s+"
        r"(?:hurt|beat|jump|kill|stab|shoot|get)\s+me\b",
    ),
    *_r("unsafe_request", "low", 0.7,
        r"\bstart\s+a\s+fire\s+(?:in|at)\s+(?:the\s+|my\s+|our\s+)?(?:school|house|class(?:room)?)\b",
        r"\b(?:i|me|we|us)\b.{0,25}\bget\s+(?:drunk|high|wasted)\b",
        r"\bhow\s+(?:much|many)\s+[\w\s]{0,20}\b(?:do|should|can)\s+i\s+(?:need\s+to\s+)?(?:drink|take|have|smoke)\b",
        r"\b(?:naked|nude)\s+(?:people|person|girls?|boys?|women|men|bodies|pictures?|pics)\b",
        r"\badult\s+(?:website|site|videos?|content|movies?)\b|\bporn",
        r"\bsex\s+feels?\s+like\b|\bdescribe\s+(?:having\s+)?sex\b",
        r"\b(?:give|tell|write|teach)\s+me\s+(?:some\s+|good\s+|mean\s+)?(?:insults|roasts|mean\s+names)\b",
        r"\bmake\s+(?:the\s+new\s+kid|someone|somebody|him|her|them|\w+)\s+feel\s+(?:stupid|bad|dumb|ugly|worthless)\b",
        r"\bfind\s+(?:out\s+)?where\s+(?:my\s+)?\w+\s+lives\b",
        r"\b(?:fake|forge|forged)\s+(?:a\s+)?(?:doctor'?s\s+note|note|signature|permission\s+slip|hall\s+pass)\b",
        r"\b(?:blood|gore|guts)\s+and\s+(?:gore|blood|guts)\b|\bpeople\s+getting\s+(?:cut\s+up|killed|murdered)\b",
        r"\b(?:worst|best|a|some)\s+(?:swear|cuss|curse)\s+words?\b",
        r"\bjokes?\s+(?:making\s+fun\s+of|about)\s+(?:fat|ugly|poor|gay|disabled|black|white|\w+)\s+(?:kids|people|girls|boys)\b",
    ),
]  # fmt: skip
SEVERITY_ORDER: dict[str, int] = {"critical": 4, "high": 3, "medium": 2, "low": 1}


def normalise(text: str) -> str:
    """Lowercase, straight apostrophes, stretched letters squashed ("dieeee" -> "die")."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"(.)\1{2,}", r"\1", text)
    return re.sub(r"\s+", " ", text)


@dataclass(frozen=True)
class SafetyMatch:
    category: str
    severity: Severity
    confidence: float


def assess(text: str) -> SafetyMatch | None:
    """The most severe match in ``text`` (then the most confident), or None."""
    norm = normalise(text)
    best: SafetyMatch | None = None
    for rule in RULES:
        if rule.regex.search(norm):
            cand = SafetyMatch(rule.category, rule.severity, rule.confidence)
            if best is None or (SEVERITY_ORDER[cand.severity], cand.confidence) > (
                SEVERITY_ORDER[best.severity],
                best.confidence,
            ):
                best = cand
    return best


class SafetyGuard:
    """Input guard: disclosures, threats, bullying, hate, profanity, unsafe requests."""

    name = "safety"
    # Teachers and admins write about stories and students; their words are not a child's
    # disclosure. Partners may relay students' own messages, so they are checked.
    EXEMPT_ROLES = frozenset({"teacher", "admin"})

    def check(self, text: str, ctx: GuardContext) -> GuardResult:
        if ctx.role in self.EXEMPT_ROLES:
            return GuardResult(text=text, allowed=True)
        match = assess(text)
        if match is None:
            return GuardResult(text=text, allowed=True, risk=0.0)
        return GuardResult(
            text=text,
            allowed=False,
            risk=match.confidence,
            reason=match.category,
            severity=match.severity,
            scripted_reply=REPLIES[match.category],
        )
