"""Clear, general rules that back up the learned gate. They describe attack and hand-off shapes in
general; they are not tuned to any evaluation file."""

from __future__ import annotations

import re
import unicodedata

_I = re.IGNORECASE

INJECTION_PATTERNS = [
    # override or reveal instructions
    re.compile(r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instruction|instructions|rules|prompt|"
               r"guidelines|polic(y|ies)|previous|above|prior)\b", _I),
    re.compile(r"\b(system|hidden|initial|developer)\s*(prompt|message|instructions)\b", _I),
    re.compile(r"\b(print|show|reveal|repeat|output|tell me|leak)\b.{0,30}\b(prompt|instructions|configuration|"
               r"api key|secret)\b", _I),
    re.compile(r"\b(developer|debug|god|admin|sudo|dan|jailbreak)\s*mode\b|\bjailbreak\b|\bDAN\b", _I),
    re.compile(r"\b(you are now|from now on you|act as|pretend (to be|you are)|roleplay as|role-play as)\b", _I),
    re.compile(r"\b(ignoriere|vergiss|missachte|umgehe)\b.{0,40}\b(anweisung|anweisungen|regeln|vorgaben|prompt|"
               r"richtlinien)\b", _I),
    re.compile(r"\b(systemprompt|system-prompt|systemanweisung)", _I),
    re.compile(r"\b(du bist jetzt|tu so als|stell dir vor du bist|spiel die rolle)\b", _I),
    # payloads aimed at the database or the page
    re.compile(r"(;\s*(drop|delete|truncate|update|insert)\s+\w+|\bunion\s+select\b|'\s*or\s+'?1'?\s*=\s*'?1)", _I),
    re.compile(r"<\s*(script|iframe|img|svg|object)\b|javascript:|on(error|load)\s*=", _I),
    re.compile(r"!\[[^\]]*\]\([^)]*\)|\[[^\]]*\]\(\s*(javascript|data|vbscript):", _I),  # Markdown images/links
]

# Asking the assistant to commit the company: confirm, promise or approve a refund, credit, waiver or limit.
COMMITMENT_PATTERNS = [
    re.compile(r"\b(promise|guarantee|commit|certify|assure)\b.{0,80}\b(waive[ds]?|approv\w*|refund\w*|credit\w*|"
               r"compensat\w*|raise|increase|stop|cancel\w*)\b", _I),
    re.compile(r"\b(confirm|state|write|say|declare|type)\b.{0,80}\b(waived?|approved|credited|in writing|written)\b",
               _I),
    re.compile(r"\b(approved|waived)\b.{0,40}\bright\s*\?", _I),
    re.compile(r"\b(credit|refund|pay|transfer)\s+(me\s+)?\d+([.,]\d+)?\s*(eur|euro|euros|€)\b", _I),
    re.compile(r"\b(versprechen|garantieren|zusichern|zusagen)\b.{0,80}\b(erlass\w*|erstatt\w*|gutschrift|erhöh\w*|"
               r"stopp\w*|aufhör\w*)", _I),
    re.compile(r"\b(bestätigen|schriftlich|schreiben sie)\b.{0,80}\b(erlassen|genehmigt|gutgeschrieben)", _I),
    re.compile(r"\bzurück,?\s+oder\s*\?.{0,30}\bbestätigen\b", _I),
]

# Another person's data: a customer/order reference or another person's account named in the text.
OTHER_PERSON_PATTERNS = [
    re.compile(r"\b(another|other|someone else'?s?|a different)\s+(customer|user|person|account)", _I),
    re.compile(r"\b(my|the)\s+(husband|wife|partner|mother|father|mom|mum|dad|son|daughter|neighbou?r|friend|"
               r"boss|brother|sister|ex)('s)?\s+(account|orders?|payments?|data|details|balance)", _I),
    re.compile(r"\b(anderen|fremden)\s+(kunden|kontos?|nutzers?)", _I),
    re.compile(r"\b(meines|meiner|von meinem|von meiner)\s+(mannes|frau|mutter|vaters|nachbarn|freundes|chefs|"
               r"bruders|schwester)\b.{0,30}\b(konto|bestellung|daten|zahlungen)", _I),
]

CUSTOMER_REF = re.compile(r"\b(cust|kunde|customer)[-_ ]?(id)?[-_ #:]*\d{2,}\b", _I)

HANDOFF_PATTERNS = [
    re.compile(r"\b(talk|speak|chat|connect|transfer|put)\b.{0,25}\b(human|person|agent|representative|rep|"
               r"operator|someone real|real (person|human)|staff|employee|supervisor|manager)\b", _I),
    re.compile(r"\b(human|live|real)\s+(agent|person|support|being)\b", _I),
    re.compile(r"\b(someone|somebody)\s+else\b(?!'s)", _I),
    re.compile(r"\b(get|put)\s+(me\s+)?(someone|somebody)\b.{0,20}\b(on the line|on the phone)\b", _I),
    re.compile(r"\b(mit einem|einen|einer)\s+(menschen|mitarbeiter|mitarbeiterin|berater|beraterin|person)\b",
               _I),
    re.compile(r"\b(echte[nr]?|richtige[nr]?|lebende[nr]?)\s+(menschen|mitarbeiter|person)\b", _I),
]

_GREETINGS = {"hi", "hello", "hey", "hallo", "moin", "servus", "bonjour", "salut", "hola", "hej", "ciao",
              "cześć", "czesc", "dzień dobry", "goedendag", "good morning", "guten tag", "buongiorno", "yo",
              "hi there", "hello there", "thanks", "thank you", "danke", "ok", "okay"}


# Words that point back to something said earlier ("does that cost anything?", "und wenn nicht?").
_REFERS_BACK = re.compile(
    r"^(and|but|so|also|what about|what if|und|aber|also|et|mais|y|pero|och|men|en|maar|e|ma|i|a)\b|"
    r"\b(that|this|it|they|them|there|then|das|dies|dafür|dann|es|sie|dort|da|ça|cela|eso|esto|det|dat|"
    r"dit|questo|quello|to)\b", _I)


def refers_back(text: str) -> bool:
    """A short message that leans on the previous turn."""
    return bool(_REFERS_BACK.search(text.strip()))


def normalise(text: str) -> str:
    """NFKC, control characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return re.sub(r"[ \t]+", " ", text).strip()


def looks_like_injection(text: str) -> bool:
    return any(p.search(text) for p in INJECTION_PATTERNS)


def asks_for_commitment(text: str) -> bool:
    """A request to confirm, promise or approve something only a person handling the case can decide."""
    return any(p.search(text) for p in COMMITMENT_PATTERNS)


def asks_for_other_person(text: str) -> bool:
    return any(p.search(text) for p in OTHER_PERSON_PATTERNS)


def mentions_customer_ref(text: str) -> list[str]:
    return [m.group(0) for m in CUSTOMER_REF.finditer(text)]


def asks_for_human(text: str) -> bool:
    return any(p.search(text) for p in HANDOFF_PATTERNS)


def is_greeting(text: str) -> bool:
    cleaned = re.sub(r"[^\w\s]", "", text.lower()).strip()
    return cleaned in _GREETINGS


def has_words(text: str) -> bool:
    return bool(re.search(r"[^\W\d_]{2,}", text))
