"""The Gradio Blocks app. Built by ``build_app(desk, settings)`` and launched separately.

Handlers translate between widgets and :class:`~bnpl_assistant.support.desk.SupportDesk`; they hold no business
logic. The chat handler is a generator, so replies written by a chat model stream into the page token by
token; offline replies arrive whole. Per-visitor state lives in ``gr.State`` (one per browser tab), so one
visitor never sees another's conversation or account. Concurrency: the queue runs at most
``CONCURRENCY_LIMIT`` handlers at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from bnpl_assistant.languages import LANGUAGES as ALL_LANGUAGES
from bnpl_assistant.settings import Settings
from bnpl_assistant.support.desk import Session, SupportDesk
from bnpl_assistant.ui import plots, render

CONCURRENCY_LIMIT = 4  # offline replies take ~20 ms of CPU; 4 keeps 2 cores busy without queue stalls
MAX_MESSAGE_CHARS = 20_000  # longer pastes are cut here; the assistant reads at most settings.max_message_chars
LANGUAGES = [("Auto-detect", "auto"), *((lang.native, lang.code) for lang in ALL_LANGUAGES)]
EXAMPLES = [
    "How does Pay in 4 work?",
    "I sent my order back, do I still have to pay?",
    "Wie hoch ist die Mahngebühr?",
    "When is my next payment?",
    "I don't recognise a payment on my account",
    "Quand vais-je recevoir mon remboursement ?",
]


def _client(request: gr.Request | None) -> str | None:
    """The visitor's address for the per-client rate limit (None when Gradio does not know it)."""
    client = getattr(request, "client", None)
    return str(client.host) if client is not None and getattr(client, "host", None) else None


def build_app(desk: SupportDesk, settings: Settings) -> gr.Blocks:
    """The whole page: the customer chat, the agent desk and the dashboard, each a tab.

    Args:
        desk: the support desk every handler talks to.
        settings: the app's settings.

    Returns:
        The Blocks app with its queue set up; launch it with ``.launch()``.
    """
    customers = [("Signed out", ""), *desk.demo_customers()]

    with gr.Blocks(title="Hallon support assistant", analytics_enabled=False) as app:
        gr.Markdown("# Hallon support\nA prototype assistant for **Hallon**, a fictional buy-now-pay-later "
                    "company. Answers come from Hallon's FAQ with sources; a person is always one click away.")
        session = gr.State(None)
        _customer_tab(desk, session, customers)
        _agent_desk_tab(desk)
        _dashboard_tab(desk, app)
    app.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=200)
    return app


def _customer_tab(desk: SupportDesk, session: gr.State, customers: list[tuple[str, str]]) -> None:
    """The customer's chat (``#chat``, ``#message``, the ``/chat`` and ``/talk_to_person`` APIs) and feedback."""
    with gr.Tab("Customer"):
        with gr.Row():
            language = gr.Dropdown(LANGUAGES, value="auto", label="Language", scale=1)
            customer = gr.Dropdown(customers, value="", label="Sign in as demo customer", scale=2,
                                   elem_id="customer-picker")
            new_chat = gr.Button("New conversation", scale=1)
        chatbot = gr.Chatbot(label="Chat", height=420, elem_id="chat", sanitize_html=True)
        outcome = gr.Markdown(elem_id="outcome")
        with gr.Row():
            message = gr.Textbox(placeholder="Ask about payments, refunds, returns, your account ...",
                                 show_label=False, scale=5, max_length=MAX_MESSAGE_CHARS, elem_id="message")
            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            human = gr.Button("Talk to a person", scale=1, elem_id="talk-to-person")
        sources = gr.Markdown(elem_id="sources")
        with gr.Row():
            comment = gr.Textbox(placeholder="Optional comment on the last reply", show_label=False, scale=5,
                                 max_length=1000, elem_id="comment")
            thumbs_up = gr.Button("👍 Helpful", scale=0, min_width=110, elem_id="thumbs-up")
            thumbs_down = gr.Button("👎 Not helpful", scale=0, min_width=130, elem_id="thumbs-down")
        feedback_note = gr.Markdown(elem_id="feedback-note")
        gr.Examples(EXAMPLES, inputs=[message], label="Try one")

    on = _CustomerHandlers(desk)
    chat_inputs = [message, chatbot, session, language, customer]
    chat_outputs = [chatbot, session, message, outcome, sources]
    send.click(on.chat, chat_inputs, chat_outputs, api_name="chat")
    message.submit(on.chat, chat_inputs, chat_outputs, api_visibility="private")
    human.click(on.talk, [chatbot, session, language, customer], [chatbot, session, outcome, sources],
                api_name="talk_to_person")
    customer.change(on.switch, [customer, session], [chatbot, session, outcome, sources, feedback_note],
                    api_visibility="private")
    new_chat.click(on.switch, [customer, session], [chatbot, session, outcome, sources, feedback_note],
                   api_visibility="private")
    thumbs_up.click(on.rate(1), [session, comment], [feedback_note, comment], api_visibility="private")
    thumbs_down.click(on.rate(-1), [session, comment], [feedback_note, comment], api_visibility="private")


class _CustomerHandlers:
    """The customer tab's handlers: widgets <-> desk."""

    def __init__(self, desk: SupportDesk) -> None:
        self.desk = desk

    def ensure(self, state: Session | None, customer_id: str) -> Session:
        return state if state is not None else self.desk.new_session(customer_id or None)

    def chat(self, text: str, history: list[dict[str, Any]] | None, state: Session | None, lang: str,
             customer_id: str, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        """A generator: on the OpenAI path the reply grows token by token; offline it comes at once."""
        state = self.ensure(state, customer_id)
        history = list(history or [])
        text = (text or "")[:MAX_MESSAGE_CHARS]  # max_length on the box is only enforced by the browser
        history.append({"role": "user", "content": render.inert(text or "")})
        events = self.desk.send_stream(state, text, lang, _client(request))
        if events is None:
            history.append({"role": "assistant", "content": self.desk.rate_limited_text(state)})
            yield history, state, "", render.SLOW_DOWN, gr.update()
            return
        written = ""
        for event in events:
            if isinstance(event, str):
                written += event
                typing = [*history, {"role": "assistant", "content": render.model_markdown(written)}]
                yield typing, state, "", render.TYPING, gr.update()
                continue
            history.append({"role": "assistant", "content": render.reply_markdown(event)})
            yield history, state, "", render.badge(event), render.sources_markdown(event)

    def talk(self, history: list[dict[str, Any]] | None, state: Session | None, lang: str,
             customer_id: str, request: gr.Request) -> tuple[Any, ...]:
        state = self.ensure(state, customer_id)
        reply = self.desk.talk_to_person(state, lang, _client(request))
        history = list(history or [])
        if reply is None:
            history.append({"role": "assistant", "content": self.desk.rate_limited_text(state)})
            return history, state, render.SLOW_DOWN, ""
        history.append({"role": "assistant", "content": render.reply_markdown(reply)})
        return history, state, render.badge(reply), ""

    def switch(self, customer_id: str, state: Session | None) -> tuple[Any, ...]:
        return [], self.desk.new_session(customer_id or None), "", "", ""

    def rate(self, value: int) -> Any:
        def handler(state: Session | None, text: str) -> tuple[str, str]:
            if state is None or not state.replies or state.replies[-1].turn_id is None:
                return "Nothing to rate yet.", text
            self.desk.feedback(state.replies[-1].turn_id, value, text)
            return "Thanks for the feedback.", ""
        return handler


def _agent_desk_tab(desk: SupportDesk) -> None:
    """The agents' ticket list (``#tickets``) with claim and close."""
    with gr.Tab("Agent desk"):
        refresh_tickets = gr.Button("Refresh", elem_id="refresh-tickets")
        tickets = gr.Dataframe(headers=render.TICKET_HEADERS, interactive=False, elem_id="tickets",
                               value=render.tickets_rows(desk.tickets()))
        with gr.Row():
            ticket_id = gr.Textbox(label="Ticket", placeholder="HND-000001", scale=2)
            agent = gr.Textbox(label="Agent", value="agent-1", scale=1)
            claim = gr.Button("Claim", scale=1)
            close = gr.Button("Close", scale=1)
        ticket_view = gr.Markdown(elem_id="ticket-view")

    on = _DeskHandlers(desk)
    refresh_tickets.click(on.list_tickets, None, tickets, api_visibility="private")
    tickets.select(on.show_ticket, [tickets], [ticket_id, ticket_view], api_visibility="private")
    claim.click(on.act_on_ticket("claim"), [ticket_id, agent], [tickets, ticket_view], api_visibility="private")
    close.click(on.act_on_ticket("close"), [ticket_id, agent], [tickets, ticket_view], api_visibility="private")


class _DeskHandlers:
    """The agent desk tab's handlers: widgets <-> desk."""

    def __init__(self, desk: SupportDesk) -> None:
        self.desk = desk

    def list_tickets(self) -> Any:
        return render.tickets_rows(self.desk.tickets(open_only=False))

    def show_ticket(self, evt: gr.SelectData, rows: Any) -> tuple[str, str]:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        tid = str(rows.iloc[row, 0]) if hasattr(rows, "iloc") else str(rows[row][0])
        return tid, render.ticket_markdown(self.desk.ticket(tid))

    def act_on_ticket(self, action: str) -> Any:
        def handler(tid: str, who: str) -> tuple[Any, str]:
            try:
                ticket = self.desk.claim(tid.strip(), who) if action == "claim" else self.desk.close(tid.strip())
            except Exception as exc:  # noqa: BLE001 - shown to the agent, never a stack trace
                return self.list_tickets(), f"**Could not {action} {render.inert(tid)}:** {render.inert(str(exc))}"
            return self.list_tickets(), render.ticket_markdown(ticket)
        return handler


def _dashboard_tab(desk: SupportDesk, app: gr.Blocks) -> None:
    """Live statistics and plots, the latest eval and deflection figures; refreshed on load and on demand."""
    with gr.Tab("Dashboard"):
        refresh_dash = gr.Button("Refresh", elem_id="refresh-dashboard")
        live = gr.Markdown(elem_id="live-stats")
        with gr.Row():
            outcome_plot = gr.Plot(label="Outcomes", elem_id="outcome-plot")
            latency_plot = gr.Plot(label="Latency", elem_id="latency-plot")
        eval_table = gr.Markdown(elem_id="eval-table")
        deflection = gr.Markdown(elem_id="deflection")
        deflection_images = gr.Gallery(label="Deflection plots", columns=3, height=300)

    def dashboard() -> tuple[Any, ...]:
        stats = desk.live_stats()
        data, images = desk.latest_deflection()
        return (render.stats_markdown(stats), plots.outcomes(stats), plots.latency(stats),
                render.eval_markdown(desk.latest_eval()), render.deflection_markdown(data),
                [str(p) for p in images])

    dash_outputs = [live, outcome_plot, latency_plot, eval_table, deflection, deflection_images]
    refresh_dash.click(dashboard, None, dash_outputs, api_visibility="private")
    app.load(dashboard, None, dash_outputs, api_visibility="private")
