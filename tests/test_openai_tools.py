"""The OpenAI path for account actions (function calling) and hand-off summaries, through the real openai
client against the scripted OpenAI-compatible server on 127.0.0.1, on a real seeded SQLite database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bnpl_assistant.accounts.service import AccountsService
from bnpl_assistant.act.agent import AccountAgent
from bnpl_assistant.act.registry import ACTIONS, tool_specs
from bnpl_assistant.act.toolcall import slots_from_arguments
from bnpl_assistant.conversation import Conversation, Reply, Turn
from bnpl_assistant.errors import ProviderError
from bnpl_assistant.providers.factory import make_chat_model
from bnpl_assistant.providers.openai import ACCOUNT_REPLY_PLACEHOLDER, OpenAIChatModel
from bnpl_assistant.settings import Settings
from bnpl_assistant.storage import open_database
from bnpl_assistant.support.handoffs import HandoffStore
from fake_openai import FakeOpenAI
from test_actions import fake_embed

CARD = "4111 1111 1111 1111"  # a test card number (passes Luhn)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def model(server: FakeOpenAI) -> OpenAIChatModel:
    settings = Settings(llm="openai:test-model", openai_base_url=server.base_url, llm_max_retries=1)
    chat = make_chat_model(settings)
    assert isinstance(chat, OpenAIChatModel)
    chat.backoff_s = 0.01
    return chat


@pytest.fixture
def actions(svc: AccountsService, model: OpenAIChatModel) -> AccountAgent:
    return AccountAgent(svc, fake_embed, planner=model)


def say(actions: AccountAgent, conversation: Conversation, text: str) -> Reply | None:
    conversation.turns.append(Turn("customer", text, "en"))
    reply = actions.handle(conversation, text, "en", fake_embed(text))
    if reply is not None:
        conversation.turns.append(Turn("assistant", reply.text, "en", reply.topic, reply.outcome))
    return reply


def tools_offered(call: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in call.get("tools", [])}


# -- the tool definitions ------------------------------------------------------------------------------


def test_one_tool_per_action_and_none_takes_a_customer() -> None:
    specs = tool_specs()
    assert [s["function"]["name"] for s in specs] == list(ACTIONS)
    for spec in specs:
        params = spec["function"]["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        assert not any("customer" in name for name in params["properties"])


def test_arguments_are_untrusted() -> None:
    slots = slots_from_arguments({"order_id": "10001", "amount_eur": "lots", "date": "yesterday", "latest": "yes",
                                  "days": 10_000, "customer_id": "cust-002", "shop_or_item": "Nordic shoes"})
    assert slots.order_ids == ["ord-10001"] and slots.amounts == [] and slots.dates == []
    assert slots.latest is False and slots.days is None and slots.customer_refs == []
    assert slots.words == ["nordic", "shoes"]
    assert slots_from_arguments({"amount_eur": 89.9, "date": "2026-03-01", "latest": True, "days": 30}).amounts == [
        (8990, True)]
    assert slots_from_arguments({"order_id": "DROP TABLE orders"}).order_ids == ["DROP TABLE orders"]


# -- the adapter ---------------------------------------------------------------------------------------


def test_choose_tool_sends_the_tools_and_redacts(server: FakeOpenAI, model: OpenAIChatModel) -> None:
    server.enqueue(kind="tool_call", name="next_payment", arguments={"latest": True})
    history = [Turn("customer", "show my orders", "en"), Turn("assistant", "ord-10001 Nordic 89.90", "en",
                                                                "payment-schedule", "act")]
    choice = model.choose_tool(f"my card {CARD} - when is my next payment?", "en", history, tool_specs())
    assert choice == ("next_payment", {"latest": True})
    body = server.calls[0]
    assert tools_offered(body) == set(ACTIONS) and body.get("tool_choice") == "auto"
    sent = json.dumps(body["messages"])
    assert CARD not in sent and "4111" not in sent
    assert "ord-10001" not in sent and ACCOUNT_REPLY_PLACEHOLDER in sent  # account replies stay here


def test_choose_tool_text_means_no_tool_and_bad_json_is_a_fault(server: FakeOpenAI,
                                                                  model: OpenAIChatModel) -> None:
    server.enqueue(kind="text", content="NONE")
    assert model.choose_tool("how do returns work?", "en", [], tool_specs()) is None
    server.enqueue(kind="tool_call", name="next_payment", arguments="{'latest': tru")
    with pytest.raises(ProviderError, match="invalid arguments"):
        model.choose_tool("when do I pay?", "en", [], tool_specs())


# -- actions chosen by the model -------------------------------------------------------------------------


def test_model_chooses_a_read_action(server: FakeOpenAI, actions: AccountAgent, svc: AccountsService) -> None:
    cid = "cust-001"
    nxt = svc.next_payment(cid)
    assert nxt is not None
    server.enqueue(kind="tool_call", name="next_payment", arguments={})
    reply = say(actions, Conversation(customer_id=cid), "wann muss ich wieder was zahlen")
    assert reply is not None and reply.outcome == "act" and reply.tool == "next_payment"
    assert reply.model_path == "openai:test-model" and not reply.fell_back
    assert nxt.due_date.isoformat() in reply.text and nxt.amount in reply.text  # figures from the database


def test_model_write_still_needs_a_deterministic_yes(server: FakeOpenAI, actions: AccountAgent,
                                                     svc: AccountsService) -> None:
    cid, order = next((c, o) for c in (f"cust-{i:03d}" for i in range(1, 61)) for o in svc.list_orders(c)
                      if o.status == "delivered" and o.return_status is None and o.next_instalment is not None)
    server.enqueue(kind="tool_call", name="report_return", arguments={"order_id": order.id})
    conversation = Conversation(customer_id=cid)
    asked = say(actions, conversation, f"sent back {order.id}")
    assert asked is not None and asked.reason == "confirm" and order.amount in asked.text
    assert svc.get_order(cid, order.id).return_status is None  # nothing written before the yes
    calls = len(server.calls)
    done = say(actions, conversation, "yes")
    assert done is not None and done.reason == "done" and done.tool == "report_return"
    assert len(server.calls) == calls  # the confirmation is matched here, not by the model
    assert svc.get_order(cid, order.id).return_status == "reported"


def test_model_named_orders_of_others_get_the_same_refusal(server: FakeOpenAI, actions: AccountAgent,
                                                           svc: AccountsService) -> None:
    other = svc.list_orders("cust-002")[0]
    server.enqueue(kind="tool_call", name="payment_schedule", arguments={"order_id": other.id})
    theirs = say(actions, Conversation(customer_id="cust-001"), "show me the schedule of that order")
    server.enqueue(kind="tool_call", name="payment_schedule", arguments={"order_id": "ord-99999"})
    missing = say(actions, Conversation(customer_id="cust-001"), "show me the schedule of that order")
    assert theirs is not None and missing is not None
    assert theirs.outcome == missing.outcome == "refuse" and theirs.text == missing.text
    assert other.id not in theirs.text and other.shop not in theirs.text


def test_invented_customer_argument_is_ignored(server: FakeOpenAI, actions: AccountAgent,
                                               svc: AccountsService) -> None:
    server.enqueue(kind="tool_call", name="list_orders", arguments='{"customer_id": "cust-002"}')
    reply = say(actions, Conversation(customer_id="cust-001"), "list my orders")
    assert reply is not None and reply.outcome == "act"
    assert all(o.id in reply.text for o in svc.list_orders("cust-001")[:3])
    assert not any(o.id in reply.text for o in svc.list_orders("cust-002"))


def test_no_tool_leaves_it_to_the_faq(server: FakeOpenAI, actions: AccountAgent) -> None:
    server.enqueue(kind="text", content="NONE")
    assert say(actions, Conversation(customer_id="cust-001"), "how does pay in 4 work?") is None


def test_unknown_tool_and_outage_fall_back_to_the_offline_detector(server: FakeOpenAI,
                                                                   actions: AccountAgent) -> None:
    server.enqueue(kind="tool_call", name="refund_everything", arguments={})
    reply = say(actions, Conversation(customer_id="cust-001"), "when is my next payment?")
    assert reply is not None and reply.outcome == "act" and reply.tool == "next_payment"
    assert reply.fell_back and "unknown tool" in reply.fallback_reason and reply.model_path == "offline"
    for _ in range(2):
        server.enqueue(kind="status", code=503)
    reply = say(actions, Conversation(customer_id="cust-001"), "when is my next payment?")
    assert reply is not None and reply.tool == "next_payment" and reply.fell_back and "503" in reply.fallback_reason


def test_signed_out_never_calls_the_model(server: FakeOpenAI, actions: AccountAgent) -> None:
    reply = say(actions, Conversation(), "when is my next payment for ord-10001?")
    assert reply is not None and reply.reason == "signed-out" and server.calls == []


# -- hand-off summaries ----------------------------------------------------------------------------------


def _escalation(conversation: Conversation) -> Reply:
    return Reply(text="", outcome="escalate", topic="unrecognized-purchase", retrieved_topics=[], sources=[],
                 language="en", confidence=1.0, reason="escalate-topic", team="fraud")


def test_summary_written_by_the_model(server: FakeOpenAI, model: OpenAIChatModel, tmp_path: Path) -> None:
    store = HandoffStore(open_database(tmp_path / "h.sqlite3"), summariser=model)
    conversation = Conversation(customer_id="cust-001")
    conversation.turns += [Turn("customer", "show my orders", "en"),
                           Turn("assistant", "ord-10001 Nordic Outdoor 89.90 EUR", "en", None, "act"),
                           Turn("customer", f"I never bought the 89.90 one, my card {CARD} was used", "en")]
    server.enqueue(kind="text", content="Customer reports an unrecognised 89.90 EUR purchase; likely fraud.")
    ticket = store.get(store.open_ticket(conversation, _escalation(conversation), ""))
    assert ticket.summary.startswith("Customer reports an unrecognised") and ticket.summary_by == "openai:test-model"
    sent = json.dumps(server.calls[0]["messages"])
    assert "4111" not in sent and "ord-10001" not in sent and ACCOUNT_REPLY_PLACEHOLDER in sent


def test_summary_falls_back_to_extractive(server: FakeOpenAI, model: OpenAIChatModel, tmp_path: Path) -> None:
    store = HandoffStore(open_database(tmp_path / "h.sqlite3"), summariser=model)
    conversation = Conversation()
    conversation.turns.append(Turn("customer", "Someone used my account for an order I never made.", "en"))
    for _ in range(2):
        server.enqueue(kind="status", code=500)
    ticket = store.get(store.open_ticket(conversation, _escalation(conversation), ""))
    assert ticket.summary_by == "extractive" and "never made" in ticket.summary
