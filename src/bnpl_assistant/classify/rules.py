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
    # "DAN" only in capitals: "dan" is Dutch for "then"
    re.compile(r"\b(developer|debug|god|admin|sudo|dan|jailbreak)\s*mode\b|\bjailbreak\b|(?-i:\bDAN\b)", _I),
    re.compile(r"\b(you are now|from now on you|act as|pretend (to be|you are)|roleplay as|role-play as)\b", _I),
    re.compile(r"\b(ignoriere|vergiss|missachte|umgehe)\b.{0,40}\b(anweisung|anweisungen|regeln|vorgaben|prompt|"
     r"richtlinien)\b", _I),
    re.compile(r"\b(systemprompt|system-prompt|systemanweisung)", _I),
    re.compile(r"\b(du bist jetzt|tu so als|stell dir vor du bist|spiel die rolle)\b", _I),
    # "ignore your rules" in the other supported languages
    re.compile(r"\b(ignorera|strunta i|glöm)\b.{0,30}\b(regler|instruktioner|instruktionerna|reglerna)\b", _I),
    re.compile(r"\b(ignore[zs]?|oublie[zs]?)\b.{0,30}\b(règles|instructions|consignes)\b", _I),
    re.compile(r"\b(ignora|ignore|olvida)\b.{0,30}\b(reglas|instrucciones|normas)\b", _I),
    re.compile(r"\b(negeer|vergeet)\b.{0,30}\b(regels|instructies)\b", _I),
    re.compile(r"\b(ignora|dimentica)\b.{0,30}\b(regole|istruzioni)\b", _I),
    re.compile(r"\b(zignoruj|ignoruj|zapomnij)\b.{0,30}\b(zasady|instrukcje|polecenia)\b", _I),
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
    # a promise or guarantee of an outcome, in each supported language ("promise me that ...")
    re.compile(r"\b(promise|guarantee|assure)\s+(me|us|that|it|the|my)\b", _I),
    re.compile(r"\b(versprechen|garantieren|zusichern|sichern|sagen)\s+sie\s+(mir|uns)\b.{0,80}\b(dass|daß|zu)\b",
               _I),
    re.compile(r"\bverbindlich\b.{0,40}\b(zu|zusagen|bestätig\w*|dass)\b", _I),
    re.compile(r"\b(promet\w*|garantiss\w*|garantis|assurez)(-moi|-nous)?\b.{0,60}\bque\b", _I),
    re.compile(r"\b(prom[eé]t\w*|garant[ií][cz]\w*|asegúr\w*)\b.{0,60}\bque\b", _I),
    re.compile(r"\b(lova|lovar|garantera|garanterar)\b.{0,40}\batt\b", _I),
    re.compile(r"\b(beloof|beloven|belooft|garandeer|garanderen|garandeert)\b.{0,40}\bdat\b", _I),
    re.compile(r"\b(prometti|prometta|promettete|garantisci|garantisca|assicurami|mi assicuri)\b.{0,40}\bche\b", _I),
    re.compile(r"\b(obiecaj\w*|obiecuje\w*|zagwarantuj\w*|gwarantuj\w*)\b.{0,40}\bże\b", _I),
    # a confirmation of an outcome that has not happened yet ("confirm that I'll win the dispute")
    re.compile(r"\bconfirm\w*\b.{0,40}\b(that|it)\b.{0,80}(\bwill\b|'ll\b|\bwon'?t\b|\bgoing to\b|"
     r"\bbe (waived|refunded|cancell?ed|dropped|removed|approved)\b)", _I),
    re.compile(r"\bconfirm\w*\s+(it|that)\s+(here|in (the )?chat|in writing|by e-?mail)\b", _I),
    re.compile(r"\b(tell|say)\b.{0,15}\b(me|us)\b.{0,60}\b(won'?t|will not|wont)\s+be\b", _I),
    re.compile(r"\bbestätigen\b.{0,30}\b(dass|daß)\b.{0,80}\b(wird|werden|kommt|kommen|ausgeht|gewinne|bekomme|"
     r"erstattet|erlassen|gestrichen|steigt)\b", _I),
    re.compile(r"\bconfirm\w*(-moi|-nous)?\b.{0,60}\bque\b.{0,80}\b(seront|sera|vont|va|annulée?s?|remboursée?s?|"
     r"gagner\w*)\b", _I),
    re.compile(r"\bconfirm\w*\b.{0,60}\bque\b.{0,80}\b(\w+rán?|van a|va a|ganar\w*)\b", _I),
    re.compile(r"\bbekräfta\w*\b.{0,40}\batt\b.{0,60}\b(kommer|ska|blir|slipper)\b", _I),
    re.compile(r"\bbevestig\w*\b.{0,40}\bdat\b.{0,60}\b(wordt|worden|zal|zullen|krijg\w*|kwijtgescholden)\b", _I),
    # asking the assistant itself to waive a fee or interest
    re.compile(r"(^\s*|\b(so|and|just|please|pls)\s+)waive\b", _I),
    re.compile(r"\bconfirm\w*\s+(it'?s|it is|that it'?s|that it is)\s+(free|waived|cancell?ed|refunded|approved)\b",
               _I),
    re.compile(r"\b(can|could|would|will|please)\s+(you\s+)?(please\s+|just\s+)?(waive|knock|drop|remove|cancel|"
     r"forgive|write off)\b.{0,40}\b(fee|fees|interest|charge|charges)\b", _I),
    re.compile(r"\bknock\b.{0,40}\b(fee|fees|interest|charge)\b.{0,20}\boff\b|\bknock\b.{0,10}\boff\b.{0,30}\b"
     r"(fee|fees|interest|charge)\b", _I),
    re.compile(r"\b(erlassen|streichen)\s+sie\b|\b(können|könnten)\s+sie\b.{0,50}\b(erlassen|streichen)\b", _I),
    re.compile(r"\b(annulez|supprimez|retirez|enlevez)\b.{0,40}\b(frais|intérêts|pénalités)\b", _I),
    re.compile(r"\b(quít\w*|quite\w*|perdón\w*|perdone\w*|anúl\w*|anule\w*)\b.{0,40}\b(recargo|comisi[oó]n|"
     r"intereses|cargos?)\b", _I),
    re.compile(r"\b(stryk|ta bort|efterskänk)\w*\b.{0,40}\b(avgift\w*|ränta\w*)\b", _I),
    re.compile(r"\b(schrap|scheld|kwijtschelden)\w*\b.{0,40}\b(kosten|rente|boete)\b", _I),
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

# Instructions addressed to the assistant from inside forwarded or pasted content ("NOTE FOR THE HALLON
# ASSISTANT: ...", "[Hinweis an den Chatbot: ...]"): a shop, a sender or a page does not give the assistant
# orders, whatever they say.
_BOT = (r"(assistant|assistent|assistentin|assistente|asistente|chat\s?-?bot|chattbot|bot|ai|ki|ia|llm|"
        r"language model|sprachmodell|modèle|modelo|model)")
QUOTED_INSTRUCTION_PATTERNS = [
    re.compile(r"\b(note|message|instruction|instructions|hint|attention|notice)\s+(to|for)\s+(the\s+)?"
     r"(\S+\s+){0,2}" + _BOT + r"\b", _I),
    re.compile(r"\b(hinweis|nachricht|anweisung|notiz|info)\s+(an|für)\s+(den|die|das|den\s+\S+)?\s*"
     r"(\S+\s+){0,1}\S*" + _BOT + r"\b", _I),
    re.compile(r"\b(till|för)\s+(\S+\s+){0,2}(chattbot\w*|chatbot\w*|assistent\w*|bot\w*|ai)\s*:", _I),
    re.compile(r"\b(note|message|consigne|instruction)s?\s+(à|pour)\s+(l'|le\s+|la\s+)\s*(\S+\s+){0,1}"
               + _BOT + r"\b", _I),
    re.compile(r"\b(nota|mensaje|instrucci[oó]n|aviso)\s+(para|al?)\s+(el\s+|la\s+)?(\S+\s+){0,1}"
               + _BOT + r"\b", _I),
    re.compile(r"\b(notitie|bericht|instructie|opmerking)\s+(voor|aan)\s+(de\s+)?(\S+\s+){0,1}" + _BOT
               + r"\b", _I),
    # the assistant addressed by name inside the pasted text, then told what to do ("Assistant, confirme-le")
    re.compile(r"\b" + _BOT + r"\s*,\s*(please\s+|bitte\s+|s'il te plaît\s+)?(ignore|ignoriere|ignorera|ignorez|"
     r"ignora|negeer|tell|say|confirm|confirme|confirma|bestätige|bekräfta|bevestig|sag|sage|dis|di|zeg|"
     r"svara|réponds|responde|antwoord|answer|reply|antworte|write|schreib|écris|escribe|schrijf|skriv)\b",
               _I),
    re.compile(r"\b(to|dear|an|à|al|aan|till)\s+(the\s+|den\s+|de\s+|l')?(\S+\s+){0,1}" + _BOT
               + r"\s*[:,]\s*(please\s+|bitte\s+)?(ignore|ignoriere|ignorera|ignorez|ignora|negeer|tell|say|"
     r"confirm|sag|sage|bestätige|svara|dis|di|zeg|answer|reply|antworte)\b", _I),
]

# Someone else's account named in passing: a relative, friend or colleague ("my wife", "meine
# Schwiegermutter", "mi madre") together with an e-mail address, that person's name, or their account,
# order or payment. A question about how that person can get an account of their own is not this.
_MY = r"(my|mein|meine|meinem|meinen|meiner|meines|min|mitt|mina|ma|mon|mes|mi|mis|mijn|mia|mio|mój|moja|moje)"
_RELATIVE = (
    r"(wife|husband|partner|girlfriend|boyfriend|mother|mom|mum|father|dad|son|daughter|brother|sister|friend|"
    r"colleague|co-?worker|neighbou?r|boss|grandmother|grandma|grandfather|grandpa|aunt|uncle|cousin|flatmate|"
    r"roommate|mother-in-law|father-in-law|brother-in-law|sister-in-law|"
    r"frau|mann|ehemann|ehefrau|partnerin|freundin|freund|mutter|mama|vater|papa|sohn|tochter|bruder|schwester|"
    r"kollegin|kollege|kollegen|nachbarin|nachbar|nachbarn|chefin|chef|oma|opa|tante|onkel|cousine|"
    r"schwiegermutter|schwiegervater|schwager|schwägerin|mitbewohnerin|mitbewohner|"
    r"fru|sambo|flickvän|pojkvän|mamma|pappa|mor|far|son|dotter|bror|syster|vän|kompis|kollega|granne|"
    r"svärmor|svärfar|"
    r"femme|mari|conjoint|conjointe|copine|copain|mère|père|fils|fille|frère|sœur|soeur|amie?|collègue|"
    r"voisine?|belle-mère|beau-père|"
    r"esposa|esposo|mujer|marido|pareja|novia|novio|madre|padre|mamá|papá|hij[oa]|herman[oa]|amig[oa]|"
    r"compañer[oa]|colega|vecin[oa]|suegr[oa]|cuñad[oa]|abuel[oa]|"
    r"vrouw|man|vriendin|vriend|moeder|vader|zoon|dochter|broer|zus|zuster|collega|buurman|buurvrouw|"
    r"schoonmoeder|schoonvader|zwager|schoonzus|"
    r"moglie|marito|madre|padre|figli[oa]|fratello|sorella|amic[oa]|collega|vicin[oa]|suocera|"
    r"żona|mąż|matka|mama|ojciec|tata|syn|córka|brat|siostra|przyjaciel|przyjaciółka|kolega|koleżanka)"
)
_RELATIVE_REF = re.compile(r"\b" + _MY + r"\s+(\w+\s+)?" + _RELATIVE + r"('s|s)?\b", _I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
_ACCOUNT_WORD = (r"(account|orders?|payments?|instalments?|installments?|balance|plan|konto|kontos|bestellung\w*|"
                 r"zahlung\w*|rate|raten|abbuchung\w*|compte|commande\w*|paiement\w*|échéance\w*|cuenta|"
                 r"pedido\w*|pago\w*|cuota\w*|beställning\w*|betalning\w*|bestelling\w*|betaling\w*|"
                 r"termijn\w*|conto|ordin\w*|pagament\w*|rata|rate|zamówieni\w*|płatnoś\w*|kont[oa])")
_THEIR_ACCOUNT = re.compile(
    r"\b(her|his|their|ihr|ihre|ihrem|ihren|ihres|sein|seine|seinem|seinen|seines|hennes|hans|deras|son|sa|ses|"
    r"leur|su|sus|haar|zijn|hun|jej|jego)\s+" + _ACCOUNT_WORD + r"\b", _I)
_RELATIVE_OWNS = re.compile(r"\b" + _MY + r"\s+" + _RELATIVE + r"('s|s)\s+" + _ACCOUNT_WORD + r"\b", _I)
# The relative's full name right after them ("meiner Kollegin Sophie Wagner"): the name stays case-sensitive.
_RELATIVE_NAMED = re.compile(r"\b(?i:" + _MY + r"\s+" + _RELATIVE + r"),?\s+[A-ZÄÖÜÅÉÈ][a-zäöüåéèßñ]+\s+"
                             r"[A-ZÄÖÜÅÉÈ][a-zäöüåéèßñ]+")

# Someone claiming to call or write from a bank, a fraud or security team, the police or the company itself
# (``{company}``: the pack's company name, see use_company).
_STAFF_PRETEXT_SOURCES = [
    (r"\b(i'?m|i am|this is|we are|we're|calling|writing)\s+(\S+\s+){0,2}(from|with|on behalf of)\s+"
     r"(the\s+|your\s+)?(\S+\s+){0,3}(bank|fraud|security|police|compliance|{company})\b"),
    (r"\b(this is|we are|we're|i'?m)\s+({company}|the bank|your bank)('s)?\b.{0,30}\b(fraud|security|desk|"
     r"team|department)\b"),
    # a message that opens by naming a fraud or security unit, as a caller introduces themselves
    (r"^\W*(fraud|security|compliance)[\s-]+(prevention|department|team|desk|unit|office)\b"),
    (r"^\W*(betrugs|sicherheits)(prävention|abteilung|team|stelle)\b"),
    (r"\b(ich rufe|ich bin|wir sind|ich schreibe|hier spricht|hier ist)\s+(\S+\s+){0,2}(von|vom|aus|"
     r"im auftrag)\s+(der|dem|des)?\s*(\S+\s+){0,1}\S*(bank|betrug\w*|sicherheit\w*|polizei|{company})"),
    (r"\b(le llamo|te llamo|llamo|le escribo|soy|somos)\s+(del|de la|de)\s+(\S+\s+){0,2}"
     r"(banco|fraude|seguridad|polic[ií]a|{company})"),
    (r"\b(j'appelle|je vous appelle|je suis|nous sommes|je vous écris)\s+(de la|du|de l'|de|pour)\s*"
     r"(\S+\s+){0,2}(banque|fraude|sécurité|police|{company})"),
    (r"\b(jag ringer|jag är|vi är|jag skriver)\s+(\S+\s+){0,1}från\s+(\S+\s+){0,2}"
     r"(bank\w*|bedrägeri\w*|säkerhet\w*|polis\w*|{company})"),
    (r"\b(ik bel|ik ben|wij zijn|we zijn|ik schrijf)\s+(\S+\s+){0,1}(van|namens)\s+(de\s+|het\s+)?"
     r"(\S+\s+){0,1}(bank|fraude\w*|beveiliging\w*|politie|{company})"),
]


def _staff_patterns(company: str) -> list[re.Pattern[str]]:
    name = re.escape(company.lower()) if company else r"(?!x)x"  # no company: that alternative never matches
    return [re.compile(source.replace("{company}", name), _I) for source in _STAFF_PRETEXT_SOURCES]


STAFF_PRETEXT_PATTERNS = _staff_patterns("")


def use_company(company: str) -> None:
    """Let the staff-pretext rules recognise the pack's own company name ("this is Acme's fraud desk")."""
    STAFF_PRETEXT_PATTERNS[:] = _staff_patterns(company)


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


def mentions_customer_ref(text: str, own: str | None = None) -> list[str]:
    """Customer ids in ``text``; with ``own`` (the signed-in customer's id), only the ones that are not it."""
    refs = [m.group(0) for m in CUSTOMER_REF.finditer(text)]
    if own is None:
        return refs
    own_digits = re.sub(r"\D", "", own)
    return [r for r in refs if re.sub(r"\D", "", r) != own_digits]


def addresses_the_assistant_from_quoted_content(text: str) -> bool:
    """Instructions to the assistant embedded in forwarded or pasted content."""
    return any(p.search(text) for p in QUOTED_INSTRUCTION_PATTERNS)


def names_third_party_account(text: str) -> bool:
    """A relative's, friend's or colleague's account named in passing: the relative together with an e-mail
    address, their full name, or their ("her", "sein", "su") account, order or payment."""
    if not _RELATIVE_REF.search(text):
        return False
    return bool(_EMAIL.search(text) or _RELATIVE_OWNS.search(text) or _RELATIVE_NAMED.search(text)
                or _THEIR_ACCOUNT.search(text))


def claims_to_be_staff(text: str) -> bool:
    """The writer says they call or write from a bank, a fraud or security team, the police or the pack's company."""
    return any(p.search(text) for p in STAFF_PRETEXT_PATTERNS)


def asks_for_human(text: str) -> bool:
    return any(p.search(text) for p in HANDOFF_PATTERNS)


def is_greeting(text: str) -> bool:
    cleaned = re.sub(r"[^\w\s]", "", text.lower()).strip()
    return cleaned in _GREETINGS


def has_words(text: str) -> bool:
    return bool(re.search(r"[^\W\d_]{2,}", text))
