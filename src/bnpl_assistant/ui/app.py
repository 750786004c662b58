"""The Gradio Blocks app. Built by ``build_app(desk, settings)`` and launched separately.

Handlers translate between widgets and :class:`~bnpl_assistant.support.desk.SupportDesk`; they hold no business
logic. The chat handler is a generator, so replies written by a chat model stream into the page token by
token; offline replies arrive whole. Per-visitor state lives in ``gr.State`` (one per browser tab), so one
visitor never sees another's conversation or account. Concurrency: the queue runs at most
``CONCURRENCY_LIMIT`` handlers at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import gradio as gr

from bnpl_assistant.answer import templates
from bnpl_assistant.errors import BnplError
from bnpl_assistant.languages import LANGUAGES as ALL_LANGUAGES
from bnpl_assistant.settings import Settings
from bnpl_assistant.support.agents import AgentDesk
from bnpl_assistant.support.desk import LiveTurn, Session, SupportDesk
from bnpl_assistant.support.live import with_person
from bnpl_assistant.ui import plots, render
from bnpl_assistant.ui.agent_tab import agent_desk_tab

POLL_S = 1.0  # how often the customer's page asks for an agent's messages
DASHBOARD_REFRESH_S = 15.0  # how often the dashboard refreshes itself
CONCURRENCY_LIMIT = 4  # offline replies take ~20 ms of CPU; 4 keeps 2 cores busy without queue stalls
# Gradio's queue, measured under the fleet benchmark's closed loop (benchmarks/fleet.py, py-spy on the server):
# - with status_update_rate="auto" it sends every waiting event a new position estimate each time a job starts
#   (O(queue) messages per reply); estimates once a second are plenty for a chat;
# - its queue loop sleeps 1 ms between looks while idle or full, its progress loop 10 ms: ~6% of a core on an
#   idle server. 5 ms costs a message at most 5 ms before its handler starts; no handler reports progress.
STATUS_UPDATE_S = 1.0
QUEUE_IDLE_SLEEP_S = 0.005
PROGRESS_IDLE_SLEEP_S = 0.1
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


def build_app(desk: SupportDesk, settings: Settings, agents: AgentDesk | None = None) -> gr.Blocks:
    """The whole page: the customer chat, the agent desk and the dashboard, each a tab.

    Args:
        desk: the support desk every handler talks to.
        settings: the app's settings.
        agents: the agents' side of the live hand-off (the desk tab lists tickets only without it).

    Returns:
        The Blocks app with its queue set up; launch it with ``.launch()``.
    """
    customers = [("Signed out", ""), *desk.demo_customers()]

    company = templates.company()
    with gr.Blocks(title=f"{company} support assistant", analytics_enabled=False) as app:
        gr.Markdown(f"# {company} support\nA prototype support assistant for **{company}**. Answers come from "
                    f"{company}'s help center with sources; a person is always one click away.")
        session = gr.State(None)
        _customer_tab(desk, session, customers, app)
        agent_desk_tab(desk, agents)
        _dashboard_tab(desk, app)
        _gaps_tab(desk)
    app.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=200, status_update_rate=STATUS_UPDATE_S)
    _slower_idle_loops(app)
    return app


def _slower_idle_loops(app: gr.Blocks) -> None:
    """Gradio has no option for its queue's idle sleeps (see ``QUEUE_IDLE_SLEEP_S``): set them on its queue, when
    this Gradio has them under these names (tested: ``test_desk``)."""
    queue = getattr(app, "_queue", None)
    for name, seconds in (("sleep_when_free", QUEUE_IDLE_SLEEP_S),
                          ("progress_update_sleep_when_free", PROGRESS_IDLE_SLEEP_S)):
        if queue is not None and isinstance(getattr(queue, name, None), float):
            setattr(queue, name, max(getattr(queue, name), seconds))


def _customer_tab(desk: SupportDesk, session: gr.State, customers: list[tuple[str, str]], app: gr.Blocks) -> None:
    """The customer's chat (``#chat``, ``#message``, the ``/chat``, ``/talk_to_person``, ``/poll`` and ``/rate``
    APIs), feedback and rating. Messages from an agent arrive by polling every second; the conversation id is
    kept in the browser, so closing the page and opening it again resumes the conversation."""
    with gr.Tab("Customer"):
        with gr.Row():
            language = gr.Dropdown(LANGUAGES, value="auto", label="Language", scale=1)
            customer = gr.Dropdown(customers, value="", label="Sign in as demo customer", scale=2,
                                   elem_id="customer-picker")
            new_chat = gr.Button("New conversation", scale=1)
        chatbot = gr.Chatbot(label="Chat", height=420, elem_id="chat", sanitize_html=True)
        outcome = gr.Markdown(elem_id="outcome")
        live_status = gr.Markdown(elem_id="live-status")
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
        with gr.Row():
            rating = gr.Radio([1, 2, 3, 4, 5], label="Rate this conversation (1-5)", scale=3, elem_id="rating")
            rating_comment = gr.Textbox(placeholder="Optional comment", show_label=False, scale=4, max_length=1000,
                                        elem_id="rating-comment")
            rate = gr.Button("Rate", scale=1, elem_id="rate")
        rating_note = gr.Markdown(elem_id="rating-note")
        gr.Examples(EXAMPLES, inputs=[message], label="Try one")
        stored = gr.BrowserState(["", ""], storage_key="bnpl-conversation")
        timer = gr.Timer(POLL_S, active=False)  # on only while a person has or awaits the conversation
        hidden = _hidden_api()

    on = _CustomerHandlers(desk)
    after = {"fn": on.after, "inputs": [session], "outputs": [stored, timer], "api_visibility": "private"}
    chat_inputs = [message, chatbot, session, language, customer]
    chat_outputs = [chatbot, session, message, outcome, sources]
    send.click(on.chat, chat_inputs, chat_outputs, api_name="chat").then(**after)
    message.submit(on.chat, chat_inputs, chat_outputs, api_visibility="private").then(**after)
    human.click(on.talk, [chatbot, session, language, customer], [chatbot, session, outcome, sources],
                api_name="talk_to_person").then(**after)
    timer.tick(on.tick, [chatbot, session], [chatbot, live_status, timer], api_visibility="private",
               concurrency_limit=None)
    hidden.poll.click(on.poll, [chatbot, session], [chatbot, live_status], api_name="poll", concurrency_limit=None)
    rate.click(on.rate_conversation, [session, rating, rating_comment], [rating_note, rating_comment],
               api_name="rate")
    app.load(on.restore, [stored, chatbot, session], [chatbot, session, customer, live_status],
             api_visibility="private").then(**after)
    hidden.resume.click(on.resume, [hidden.conversation_id, hidden.customer_id, session],
                        [chatbot, session, customer, live_status], api_name="resume").then(**after)
    customer.input(on.switch, [customer, session], [chatbot, session, outcome, sources, feedback_note],
                   api_visibility="private").then(**after)
    new_chat.click(on.switch, [customer, session], [chatbot, session, outcome, sources, feedback_note],
                   api_visibility="private").then(**after)
    thumbs_up.click(on.rate(1), [session, comment], [feedback_note, comment], api_visibility="private")
    thumbs_down.click(on.rate(-1), [session, comment], [feedback_note, comment], api_visibility="private")


class _HiddenApi(NamedTuple):
    resume: gr.Button
    conversation_id: gr.Textbox
    customer_id: gr.Textbox
    poll: gr.Button


def _hidden_api() -> _HiddenApi:
    """Hidden widgets behind two APIs: ``/resume`` (conversation id, customer id) continues a conversation by
    its id on any instance, as the page does on load with the id the browser kept; ``/poll`` returns the desk's
    new messages, as the page's timer does while a person has the conversation."""
    with gr.Row(visible=False):
        conversation_id = gr.Textbox(elem_id="resume-id")
        customer_id = gr.Textbox(elem_id="resume-customer")
        resume = gr.Button(elem_id="resume")
        poll = gr.Button(elem_id="poll")
    return _HiddenApi(resume, conversation_id, customer_id, poll)


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
            if isinstance(event, LiveTurn):  # a person has the conversation: no assistant text
                yield history, state, "", render.WITH_AGENT, ""
                return
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

    def poll(self, history: list[dict[str, Any]] | None, state: Session | None) -> tuple[Any, str]:
        """New agent and system messages (nothing changes on the page when there are none)."""
        shown, status, _ = self._poll(history, state)
        return shown, status

    def tick(self, history: list[dict[str, Any]] | None, state: Session | None) -> tuple[Any, str, Any]:
        """The page's timer: :meth:`poll`, and the timer stops once no person has or awaits the conversation
        (its last notice, such as "closed", is shown first)."""
        shown, status, with_person = self._poll(history, state)
        return shown, status, gr.Timer(active=with_person)

    def _poll(self, history: list[dict[str, Any]] | None, state: Session | None) -> tuple[Any, str, bool]:
        if state is None:
            return gr.update(), "", False
        # Who has it first, then the messages: a hand-back or close writes its notice with the new owner, so
        # a page that stops polling here has already received that notice.
        owner, waiting = self.desk.status(state)
        new = self.desk.poll(state)
        shown = [*(history or []), *(render.live_message(m) for m in new)] if new else gr.update()
        return shown, render.owner_markdown(owner, waiting), with_person(owner)

    def after(self, state: Session | None) -> tuple[list[str], Any]:
        """After a message, a hand-off, a resume or a new conversation: what the browser keeps to resume (the
        conversation id and the signed-in customer), and whether the page polls for an agent's messages (only
        while a person has or awaits the conversation: an idle page costs the server nothing)."""
        if state is None:
            return ["", ""], gr.Timer(active=False)
        owner, _ = self.desk.status(state)
        return [state.conversation.id, state.conversation.customer_id or ""], gr.Timer(active=with_person(owner))

    def restore(self, stored: list[str] | None, history: list[dict[str, Any]] | None,
                state: Session | None) -> tuple[Any, ...]:
        """On page load: the conversation this browser had open, with its history (if it is still known)."""
        conversation_id, customer_id = [*(stored or []), "", ""][:2]
        return self.resume(conversation_id, customer_id, state) if not history else (gr.update(), state,
                                                                                      gr.update(), "")

    def resume(self, conversation_id: str, customer_id: str, state: Session | None) -> tuple[Any, ...]:
        """The conversation ``conversation_id`` of ``customer_id`` with its history, on whichever instance
        serves this page (an unknown id or another customer's conversation changes nothing)."""
        resumed = self.desk.resume((conversation_id or "").strip(), (customer_id or "").strip() or None)
        if resumed is None:
            return gr.update(), state, gr.update(), ""
        session, messages = resumed
        owner, waiting = self.desk.status(session)
        return render.chat_history(messages), session, customer_id, render.owner_markdown(owner, waiting)

    def rate_conversation(self, state: Session | None, score: int | None, comment: str) -> tuple[str, str]:
        if state is None or not score:
            return "Pick 1 to 5 first.", comment
        try:
            self.desk.rate_conversation(state, int(score), comment)
        except ValueError as exc:
            return render.inert(str(exc)), comment
        return "Thanks for rating this conversation.", ""

    def switch(self, customer_id: str, state: Session | None) -> tuple[Any, ...]:
        return [], self.desk.new_session(customer_id or None), "", "", ""

    def rate(self, value: int) -> Any:
        def handler(state: Session | None, text: str) -> tuple[str, str]:
            if state is None or state.last_turn_id is None:
                return "Nothing to rate yet.", text
            self.desk.feedback(state.last_turn_id, value, text)
            return "Thanks for the feedback.", ""
        return handler


GAP_WINDOWS = {"last 7 days": "7d", "last 30 days": "30d", "last 90 days": "90d"}


def _gaps_tab(desk: SupportDesk) -> None:
    """The content gaps of the log: clusters of what the assistant did not resolve, with suggested actions."""
    from bnpl_assistant.analytics.gaps import MIN_SIZE, markdown

    with gr.Tab("Content gaps"):
        with gr.Row():
            window = gr.Dropdown(list(GAP_WINDOWS), value="last 30 days", label="Window", elem_id="gaps-window")
            find = gr.Button("Find gaps", elem_id="find-gaps")
        table = gr.Markdown(f"Clusters of {MIN_SIZE} or more unresolved questions appear here.", elem_id="gaps-table")

    def gaps(choice: str) -> str:
        from datetime import UTC, datetime

        from bnpl_assistant.evals.export import parse_since

        found = desk.content_gaps(parse_since(GAP_WINDOWS.get(choice, "30d"), datetime.now(UTC)))
        if found is None:
            return "No conversation log on this page."
        clusters, unresolved = found
        return markdown(clusters, unresolved, choice)

    find.click(gaps, [window], [table], api_visibility="private")


def _window(start: Any, end: Any) -> tuple[str | None, str | None, str]:
    """(since, until, label) from the date-range picker; an empty start means the last 7 days."""
    from datetime import UTC, datetime

    from bnpl_assistant.evals.export import parse_since

    now = datetime.now(UTC)
    try:
        since = parse_since(str(start), now) if start else parse_since("7d", now)
        until = parse_since(str(end), now) if end else None
    except BnplError:
        since, until = parse_since("7d", now), None
    label = f"{(start or 'last 7 days')}{' to ' + str(end) if end else ''}"
    return since, until, label


def _dashboard_tab(desk: SupportDesk, app: gr.Blocks) -> None:
    """Outcome analytics for a date range, live statistics and plots, the latest eval and deflection figures;
    refreshed on load, every ``DASHBOARD_REFRESH_S`` seconds and on demand."""
    from bnpl_assistant.analytics.report import plot_by_day, plot_csat, plot_groups

    with gr.Tab("Dashboard"):
        with gr.Row():
            start = gr.DateTime(label="From (empty: the last 7 days)", include_time=False, type="string",
                                value=None, elem_id="range-from")
            end = gr.DateTime(label="To (empty: now)", include_time=False, type="string", value=None,
                              elem_id="range-to")
            refresh_dash = gr.Button("Refresh", elem_id="refresh-dashboard")
        outcomes = gr.Markdown(elem_id="outcome-stats")
        with gr.Row():
            by_day = gr.Plot(label="Outcomes by day", elem_id="by-day-plot")
            csat = gr.Plot(label="CSAT", elem_id="csat-plot")
        by_topic = gr.Plot(label="Outcomes by topic", elem_id="by-topic-plot")
        by_language = gr.Plot(label="Outcomes by language", elem_id="by-language-plot")
        live = gr.Markdown(elem_id="live-stats")
        with gr.Row():
            outcome_plot = gr.Plot(label="Replies", elem_id="outcome-plot")
            latency_plot = gr.Plot(label="Latency", elem_id="latency-plot")
        eval_table = gr.Markdown(elem_id="eval-table")
        deflection = gr.Markdown(elem_id="deflection")
        deflection_images = gr.Gallery(label="Deflection plots", columns=3, height=300)
        timer = gr.Timer(DASHBOARD_REFRESH_S)

    def dashboard(first: Any, last: Any) -> tuple[Any, ...]:
        since, until, label = _window(first, last)
        report = desk.outcome_report(since, until)
        stats = desk.live_stats()
        data, images = desk.latest_deflection()
        charts = ((plot_by_day(report), plot_csat(report), plot_groups(report["by_topic"], "Outcomes by topic"),
                   plot_groups(report["by_language"], "Outcomes by language")) if report else (None,) * 4)
        return (render.outcome_markdown(report, label), *charts, render.stats_markdown(stats),
                plots.outcomes(stats), plots.latency(stats), render.eval_markdown(desk.latest_eval()),
                render.deflection_markdown(data), [str(p) for p in images])

    dash_outputs = [outcomes, by_day, csat, by_topic, by_language, live, outcome_plot, latency_plot, eval_table,
                    deflection, deflection_images]
    for trigger in (refresh_dash.click, timer.tick, start.change, end.change):
        trigger(dashboard, [start, end], dash_outputs, api_visibility="private")
    app.load(dashboard, [start, end], dash_outputs, api_visibility="private")
