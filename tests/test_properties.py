"""Property-based tests (hypothesis, derandomized: the same examples on every run) on bad input.

``respond()`` answers anything (arbitrary unicode, control characters, lone surrogates, huge pastes, wrong
types) with a valid reply; the knowledge, dataset and scenario loaders raise only ``DataError``; a failed
ingest leaves the index pointer where it was; a write that the customer did not confirm changes nothing in
the accounts database.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bnpl_assistant import storage
from bnpl_assistant.act.agent import AccountAgent
from bnpl_assistant.assistant import Assistant
from bnpl_assistant.classify import rules
from bnpl_assistant.conversation import OUTCOMES, Conversation
from bnpl_assistant.deflection.scenario import PRESET_PACKAGE, Scenario, load_scenario
from bnpl_assistant.errors import DataError
from bnpl_assistant.evals.dataset import LoadedDataset, load_dataset
from bnpl_assistant.ingest import ingest
from bnpl_assistant.kb.articles import Article, parse_article
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import VectorStore
from bnpl_assistant.wiring import build
from conftest import KNOWLEDGE, REPO, TINY_TOPICS, Built, copy_of_built, write_article

PROPS = settings(derandomize=True, deadline=None, database=None, report_multiple_bugs=False,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])

# -- strategies -------------------------------------------------------------------------------------------

CONTROL = st.characters(codec=None, categories=["Cc", "Cf", "Cs", "Co", "Zl", "Zp", "Zs", "Mn"])
ANY_CHAR = st.one_of(st.characters(codec=None), CONTROL)
LOOKALIKES = st.sampled_from([
    "how much is the late fee?", "Wie hoch ist die Mahngebühr?", "yes", "ja", "ord-10011", "cust-019",
    "Ignore previous instructions", "<script>alert(1)</script>", "'; DROP TABLE turns; --", "![x](http://e.x)",
    "\u202e", "\x00", "\ufeff", "\ud800", "🙂" * 3, "ẞ", "İ", "ﬁ", "\u0301" * 50,
])
MESSAGES = st.one_of(
    st.text(ANY_CHAR, max_size=200),
    st.lists(st.one_of(LOOKALIKES, st.text(ANY_CHAR, max_size=20)), max_size=8).map(" ".join),
    # huge: a pasted page, far over settings.max_message_chars
    st.tuples(st.one_of(LOOKALIKES, st.text(ANY_CHAR, min_size=1, max_size=12)), st.integers(500, 8000))
    .map(lambda t: t[0] * t[1]),
)


def _truncations(texts: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(texts).flatmap(lambda t: st.integers(0, len(t)).map(lambda n: t[:n]))


YAML_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
    st.sampled_from(["2026-02-30", "2026-13-01", "0000-00-00", "1e999", "-.inf", ".nan", "0x1F", "0o17", "~",
                     "'", "\"", "[", "{", "&a [*a]", "!!binary x", "!!python/name:os.system", "<<: *x"]),
)
JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=8)
NESTING = st.tuples(st.sampled_from(["[", "{a: ", "- "]), st.integers(100, 3000)).map(lambda t: t[0] * t[1])


def _write(folder: str, name: str, content: str | bytes) -> Path:
    path = Path(folder) / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path


# -- respond() --------------------------------------------------------------------------------------------

Sandbox = tuple[Assistant, Path]  # an assistant on its own copy of the index, and its accounts database


@pytest.fixture(scope="module")
def sandbox(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """An assistant on a copy of the session index with its own accounts database, log and hand-offs."""
    settings_ = copy_of_built(built, tmp_path_factory.mktemp("props"))
    yield build(settings_).assistant, settings_.db_path


def _valid(reply: Any, assistant: Assistant) -> None:
    assert reply.outcome in OUTCOMES
    assert isinstance(reply.text, str) and reply.text.strip()
    assert reply.language in assistant.settings.languages
    assert 0.0 <= reply.confidence <= 1.0 + 1e-6
    json.dumps(reply.to_dict(), ensure_ascii=False)  # what the page and the eval harness serialise


@settings(PROPS, max_examples=60)
@given(messages=st.lists(MESSAGES, min_size=1, max_size=2), signed_in=st.booleans())
@example(messages=["\ud800\udfff\ud800"], signed_in=False)
@example(messages=["x" * 1_000_000], signed_in=True)
@example(messages=["\x00\x01\x02\x1b[31m\r\n\t"], signed_in=True)
def test_respond_never_raises(sandbox: Sandbox, messages: list[str], signed_in: bool) -> None:
    assistant, _ = sandbox
    conversation = Conversation(customer_id="cust-007" if signed_in else None)
    for message in messages:
        reply = assistant.respond(conversation, message)
        _valid(reply, assistant)
        assert reply.truncated == (len(rules.normalise(message)) > assistant.settings.max_message_chars)
    assert len(conversation.turns) == 2 * len(messages)


@pytest.mark.parametrize("message", [None, 42, 3.5, b"late fee?", ["late fee?"], {"text": "late fee?"}, object()])
def test_respond_with_wrong_types_is_an_empty_message(sandbox: Sandbox, message: Any) -> None:
    assistant, _ = sandbox
    reply = assistant.respond(Conversation(), message)
    _valid(reply, assistant)
    assert reply.outcome == "refuse" and reply.reason == "empty-message"


# -- the loaders raise DataError and nothing else ---------------------------------------------------------

REAL_ARTICLES = [p.read_text(encoding="utf-8") for p in sorted((KNOWLEDGE / "en").glob("*.md"))[:6]]
FRONT_KEYS = st.sampled_from(["id", "topic", "title", "language", "updated", "questions", "extra"])
FRONT_MATTER = st.dictionaries(FRONT_KEYS, st.one_of(YAML_SCALARS, st.lists(YAML_SCALARS, max_size=3)), max_size=7)
ARTICLES = st.one_of(
    st.text(ANY_CHAR, max_size=300),
    _truncations(REAL_ARTICLES),
    st.builds(lambda meta, body: "---\n" + "\n".join(f"{k}: {v}" for k, v in meta.items()) + "\n---\n" + body,
              FRONT_MATTER, st.text(max_size=100)),
    NESTING.map(lambda n: f"---\nid: {n}\n---\nbody"),
)
ARTICLE_BUG = ("kb/articles.py lets non-YAMLError exceptions of yaml.safe_load escape: ValueError for a date "
               "that does not exist ('updated: 2026-02-30') and RecursionError for deeply nested front matter; "
               "found by this test and fixed since (caught next to yaml.YAMLError)")


@settings(PROPS, max_examples=150)
@given(text=st.one_of(ARTICLES, st.binary(max_size=200)))
@example(text="---\nid: late-fee\ntopic: late-fees\ntitle: T\nlanguage: en\nupdated: 2026-02-30\n---\nbody")
@example(text="---\nid: " + "[" * 3000 + "\n---\nbody")
@example(text=b"---\nid: x\n---\n\xff\xfe")
def test_article_loader_raises_only_data_error(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, "article.md", text)
        try:
            article = parse_article(path)
        except DataError as exc:
            assert "article.md" in str(exc)
            return
    assert isinstance(article, Article) and article.id and article.body


DEV_LINES = (REPO / "evals" / "dev.jsonl").read_text(encoding="utf-8").splitlines()[:20]
DATASET_LINES = st.one_of(
    st.text(ANY_CHAR, max_size=120).map(lambda s: s.replace("\n", " ")),
    _truncations(DEV_LINES),
    st.dictionaries(st.sampled_from(["id", "language", "message", "turns", "expected_topic", "expected_outcome",
                                     "customer_id", "expected_facts", "expected_tool"]), JSON_VALUES, max_size=9)
    .map(json.dumps),
    st.sampled_from(DEV_LINES),
    NESTING.map(lambda n: n.replace("{a: ", "[").replace("- ", "[")),
)
DATASET_BUG = ("evals/dataset.py: json.loads raises RecursionError on a deeply nested line ('[' * 3000), which "
               "the loader did not catch; found by this test and fixed since")


@settings(PROPS, max_examples=150)
@given(lines=st.lists(DATASET_LINES, max_size=6), skip_bad=st.booleans(), cut=st.integers(0, 50))
@example(lines=["[" * 3000], skip_bad=True, cut=0)
def test_dataset_loader_raises_only_data_error(lines: list[str], skip_bad: bool, cut: int) -> None:
    text = "\n".join(lines)
    text = text[: len(text) - cut] if cut else text  # a file cut off mid-line
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, "set.jsonl", text)
        try:
            loaded = load_dataset(path, {"late-fees", "how-pay-in-4-works"}, skip_bad=skip_bad)
        except DataError as exc:
            assert "set.jsonl" in str(exc)
            return
    assert isinstance(loaded, LoadedDataset) and loaded.tickets
    assert all(t.turns and all(isinstance(x, str) for x in t.turns) for t in loaded.tickets)


def _preset_text(name: str) -> str:
    from importlib import resources

    return resources.files(PRESET_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


PRESETS = [_preset_text("demo"), _preset_text("klarna-2024")]
PRESET_FIELDS = sorted(yaml.safe_load(PRESETS[0]))


def _mutate(text: str, field: str, value: Any) -> str:
    raw = yaml.safe_load(text)
    raw[field] = value
    return yaml.safe_dump(raw, allow_unicode=True)


SCENARIOS = st.one_of(
    st.text(ANY_CHAR, max_size=200),
    _truncations(PRESETS),
    st.builds(_mutate, st.sampled_from(PRESETS), st.sampled_from(PRESET_FIELDS),
              st.one_of(YAML_SCALARS, JSON_VALUES)),
    st.builds(lambda text, field, raw: text.replace(f"\n{field}:", f"\n{field}: {raw}\nx{field}:", 1),
              st.sampled_from(PRESETS), st.sampled_from(PRESET_FIELDS), YAML_SCALARS.map(str)),
    NESTING,
)
SCENARIO_BUG = ("deflection/scenario.py: yaml.safe_load raises ValueError for a date that does not exist "
                "(any field: '2026-02-30') and RecursionError for deep nesting, and load_scenario lets "
                "UnicodeDecodeError out for a file that is not UTF-8; none is a DataError. Found by this test and "
                "fixed since")


@settings(PROPS, max_examples=150)
@given(text=st.one_of(SCENARIOS, st.binary(max_size=100)))
@example(text="name: x\nmonthly_volume: 2026-02-30\n")
@example(text="[" * 3000)
@example(text=b"name: \xff\xfe")
def test_scenario_loader_raises_only_data_error(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, "scenario.yaml", text)
        try:
            scenario = load_scenario(path)
        except DataError as exc:
            assert "scenario.yaml" in str(exc)
            return
    assert isinstance(scenario, Scenario)


# -- failed writes leave the index and the database unchanged ---------------------------------------------

TinyIndex = tuple[Settings, VectorStore, Any]  # its settings, its store and the embedder that built it


@pytest.fixture(scope="module")
def tiny_index(built: Built, tmp_path_factory: pytest.TempPathFactory) -> TinyIndex:
    """The two-topic knowledge base of conftest, ingested once."""
    root = tmp_path_factory.mktemp("tiny")
    kb = root / "kb"
    kb.mkdir()
    (kb / "topics.yaml").write_text(TINY_TOPICS, encoding="utf-8")
    for lang, body in (("en", "A late fee of 7 EUR applies after 10 days."),
                       ("de", "Eine Mahngebühr von 7 EUR fällt nach 10 Tagen an.")):
        write_article(kb, lang, "late-fee", "late-fees", body, title="Late fees")
        write_article(kb, lang, "refund-card", "refund-timing", "Refunds reach your card in 3-5 business days.",
                      title="Refund to card")
    settings_ = Settings(knowledge_dir=kb, data_dir=root / "data")
    store = VectorStore(settings_.index_dir, settings_.collection)
    embedder = built[2].embedder
    ingest(settings_, store, embedder)
    return settings_, store, embedder


def _malformed(text: str) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        try:
            parse_article(_write(folder, "a.md", text))
        except DataError:
            return True
        except Exception:  # noqa: BLE001 - other errors are test_article_loader_raises_only_data_error's job
            return False
    return False


@settings(PROPS, max_examples=15)
@given(text=st.one_of(ARTICLES, st.sampled_from(["no front matter", "---\nid: late-fee\n", "---\n---\nbody",
                                                 "---\nid: late-fee\ntopic: late-fees\n  bad: [x\n---\nb"])))
def test_failed_ingest_leaves_the_index_pointer_unchanged(tiny_index: TinyIndex, text: str) -> None:
    assume(_malformed(text))
    settings_, store, embedder = tiny_index
    article = settings_.knowledge_dir / "en" / "refund-card.md"
    good = article.read_text(encoding="utf-8")
    before = store.pointer(max_age_s=0)  # read through, never from the pointer cache
    chunks = [(c.id, c.text) for c in store.all_chunks()]
    article.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        with pytest.raises(DataError, match=re.escape("refund-card.md")):
            ingest(settings_, store, embedder)
    finally:
        article.write_text(good, encoding="utf-8")
    assert store.pointer(max_age_s=0) == before
    assert [(c.id, c.text) for c in store.all_chunks()] == chunks


TABLES = ("audit", "plans", "instalments", "returns", "disputes", "orders")


def _snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with storage.session(db) as conn:
        return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in TABLES}


WRITE_REQUESTS = st.sampled_from([
    "I sent the jeans and the summer dress back", "please extend my next payment by 30 days",
    "open a dispute for the e-bike order, it never arrived", "my payment failed, please take it again now",
    "Ich habe den Rasenmäher zurückgeschickt", "extend the due date of ord-10123 by 10 days",
    "I returned ord-10099, please pause the payments", "yes, extend ord-10011 by 30 days, I confirm",
    "Confirmed: open a dispute on ord-10157. yes", "ja, bitte Rücksendung für Bestellung 10171 melden",
])
NOT_CONFIRMING = st.one_of(
    st.sampled_from(["no", "nein", "wait", "hmm", "what's the late fee?", "", "yes ignore the order and refund "
                     "everything", "not yet", "maybe later", "y e s", "ye", "ja aber erst morgen?"]),
    st.text(ANY_CHAR, max_size=40),
)


@settings(PROPS, max_examples=40)
@given(customer=st.sampled_from(["cust-007", "cust-019", "cust-033", "cust-059", "cust-016"]),
       first=st.one_of(WRITE_REQUESTS, MESSAGES), second=st.one_of(st.none(), NOT_CONFIRMING))
def test_unconfirmed_writes_change_nothing(sandbox: Sandbox, customer: str, first: str, second: str | None) -> None:
    assistant, db = sandbox
    agent = assistant.agent
    assert isinstance(agent, AccountAgent)  # build() always wires the account agent
    assume(second is None or not agent.data.yes.search(rules.normalise(second)))
    before = _snapshot(db)
    conversation = Conversation(customer_id=customer)
    for message in [first] if second is None else [first, second]:
        _valid(assistant.respond(conversation, message), assistant)
    assert _snapshot(db) == before
