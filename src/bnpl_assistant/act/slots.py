"""Slots in a customer's message: order numbers, customer references, amounts, dates, "my last order",
the days asked for an extension, and the shop or item words that name an order (en and de). Pure text work:
which order the slots pick is ``resolve``'s job."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from bnpl_assistant.accounts.service import Order
from bnpl_assistant.classify import rules

_I = re.IGNORECASE
_ORDER_ID = re.compile(r"\bord(?:er)?[-_ #:]*(\d{5})\b|(?:bestellung|bestellnummer|order number|order no\.?)"
                       r"\s*(?:nr\.?|no\.?|#)?\s*:?\s*(\d{5})\b|#(\d{5})\b", _I)
_CUSTOMER_REF = re.compile(r"\bcust[-_ #]?(\d{1,6})\b|\b(?:customer|kunden?)[-_ ]?"
                           r"(?:id|nr\.?|nummer|number|no\.?|#)[-_ #:]*(?:cust-?)?(\d{1,6})\b", _I)
_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "mär": 3, "apr": 4, "may": 5, "mai": 5, "jun": 6, "jul": 7,
           "aug": 8, "sep": 9, "oct": 10, "okt": 10, "nov": 11, "dec": 12, "dez": 12}
_MONTH = r"(jan(?:uary|uar)?|feb(?:ruary|ruar)?|march|mar|märz|apr(?:il)?|may|mai|june?|juni|july?|juli|" \
         r"aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|okt(?:ober)?|nov(?:ember)?|dec(?:ember)?|dez(?:ember)?)"
_ISO_DATE = re.compile(r"\b(20\d{2})-(\d{1,2})-(\d{1,2})\b")
_DE_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(20\d{2})\b"
                      r"|\b(?:am|vom|seit|bis|on|from|dated)\s+(\d{1,2})\.(\d{1,2})\.", _I)
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\.?\s+(?:of\s+)?{_MONTH}\b(?:\s+(20\d{{2}}))?", _I)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(20\d{{2}}))?", _I)
_AMOUNT = re.compile(r"(?:€|\beur\b|\beuro\b)\s*(\d{1,5}(?:[.,]\d{1,2})?)(?![\d.,]*\d)"
                     r"|(?<![\w.,])(\d{1,5}(?:[.,]\d{1,2})?)\s*(?:€|eur\b|euros?\b)"
                     r"|(?<![\w.,-])(\d{1,5}[.,]\d{2})(?![.,]?\d)", _I)
_LATEST = re.compile(r"\b(last|latest|most recent|newest|recent)\s+(order|purchase|one)\b|\bletzte[nrs]?\s+"
                     r"(bestellung|einkauf|kauf)\b|\bneueste[nrs]?\s+bestellung\b|\bzuletzt bestellt\b", _I)
_DAYS = re.compile(r"\b(\d{1,3}|ten|zehn|thirty|dreißig|dreissig)\s*(?:more\s+|extra\s+|weitere\s+)?"
                   r"(days?|tage?n?|dagar|dagen|jours?|d[ií]as?|giorni|dni)\b|\b(a|one|1|ein|einen)\s+(week|woche|month|monat)\b|\b(two|2|zwei)\s+"
                   r"(weeks|wochen)\b", _I)
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)
MIN_KEYWORD = 4  # shorter words name no order
MIN_INFIX = 5  # a word this long may also name a keyword it is part of
_STOP = {"shop", "store", "shops", "order", "with", "from", "that", "this", "your", "have", "bestellung",
         "set", "und", "and", "the", "der", "die", "das"}


@dataclass
class Slots:
    """What a message (or a tool call's arguments) says about the order it means."""

    order_ids: list[str] = field(default_factory=list)
    customer_refs: list[str] = field(default_factory=list)
    amounts: list[tuple[int, bool]] = field(default_factory=list)  # (cents, exact: written with cents)
    dates: list[date] = field(default_factory=list)
    latest: bool = False
    days: int | None = None
    words: list[str] = field(default_factory=list)

    @property
    def names_order(self) -> bool:
        """An order reference other than a shop/item word."""
        return bool(self.order_ids or self.amounts or self.dates or self.latest)


def extract_slots(text: str, today: date) -> Slots:
    """Order numbers, customer references, amounts, dates, "last order" and extension days in ``text``."""
    slots = Slots()
    for m in _ORDER_ID.finditer(text):
        number = next(g for g in m.groups() if g)
        slots.order_ids.append(f"ord-{number}")
    for m in _CUSTOMER_REF.finditer(text):
        number = next(g for g in m.groups() if g)
        slots.customer_refs.append(f"cust-{int(number):03d}")
    for m in rules.CUSTOMER_REF.finditer(text):
        digits = re.findall(r"\d+", m.group(0))
        ref = f"cust-{int(digits[-1]):03d}"
        if ref not in slots.customer_refs:
            slots.customer_refs.append(ref)
    masked = _ORDER_ID.sub(" ", text)
    masked = _CUSTOMER_REF.sub(" ", masked)
    for pattern in (_ISO_DATE, _DE_DATE, _DAY_MONTH, _MONTH_DAY):
        for m in pattern.finditer(masked):
            parsed = _parse_date(pattern, m, today)
            if parsed is not None:
                slots.dates.append(parsed)
        masked = pattern.sub(" ", masked)
    days = _DAYS.search(masked)
    if days:
        slots.days = _parse_days(days)
        masked = _DAYS.sub(" ", masked)
    for m in _AMOUNT.finditer(masked):
        raw = next(g for g in m.groups() if g)
        value = raw.replace(",", ".")
        exact = "." in value
        slots.amounts.append((round(float(value) * 100), exact))
    slots.latest = bool(_LATEST.search(text))
    slots.words = words_of(masked)
    return slots


def words_of(text: str) -> list[str]:
    """The lower-cased words of ``text`` (hyphenated ones kept whole), as order names are matched."""
    return [w.lower() for w in _WORD.findall(text)]


def _parse_date(pattern: re.Pattern[str], m: re.Match[str], today: date) -> date | None:
    g = list(m.groups())
    try:
        if pattern is _ISO_DATE:
            return date(int(g[0]), int(g[1]), int(g[2]))
        if pattern is _DE_DATE:
            if g[0]:
                return date(int(g[2]), int(g[1]), int(g[0]))
            return _nearest_year(today, int(g[4]), int(g[3]))
        if pattern is _DAY_MONTH:
            month = _MONTHS[g[1].lower()[:3]]
            return date(int(g[2]), month, int(g[0])) if g[2] else _nearest_year(today, month, int(g[0]))
        month = _MONTHS[g[0].lower()[:3]]
        return date(int(g[2]), month, int(g[1])) if g[2] else _nearest_year(today, month, int(g[1]))
    except (ValueError, KeyError):
        return None


def _nearest_year(today: date, month: int, day: int) -> date | None:
    options = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            options.append(date(year, month, day))
        except ValueError:
            continue
    return min(options, key=lambda d: abs((d - today).days), default=None)


def _parse_days(m: re.Match[str]) -> int:
    if m.group(1):
        word = m.group(1).lower()
        return {"ten": 10, "zehn": 10, "thirty": 30, "dreißig": 30, "dreissig": 30}.get(word) or int(word)
    if m.group(3):
        return 30 if m.group(4).lower() in ("month", "monat") else 7
    return 14


def _stem(word: str) -> str:
    return word[:-1] if len(word) > MIN_KEYWORD and word.endswith("s") else word


def order_keywords(order: Order) -> set[str]:
    """Words a customer may use for an order: the shop's name and the items (en or de)."""
    words = set()
    for text in (order.shop, *order.items):
        for w in _WORD.findall(text.lower()):
            for part in {w, *w.split("-")}:
                if len(part) >= MIN_KEYWORD and part not in _STOP:
                    words.add(part)
    return words


def _word_matches(word: str, keyword: str) -> bool:
    if len(word) < MIN_KEYWORD or word in _STOP:
        return False
    return (word == keyword or _stem(word) == _stem(keyword) or keyword.endswith(word)
            or (len(word) >= MIN_INFIX and word in keyword))


def orders_named_by_words(words: list[str], orders: list[Order]) -> list[Order]:
    """The orders whose shop or item the words name."""
    return [o for o in orders if any(_word_matches(w, k) for w in words for k in order_keywords(o))]
