"""The agent desk tab: the live queue, one ticket's conversation with the account panel and a suggested reply,
and the ticket actions. Handlers only translate between widgets and
:class:`~bnpl_assistant.support.agents.AgentDesk`.

The queue and the open ticket refresh themselves every ``REFRESH_S`` seconds (new tickets and new customer
messages appear without pressing anything).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from bnpl_assistant.support.agents import AgentDesk
from bnpl_assistant.support.desk import SupportDesk
from bnpl_assistant.support.handoffs import TEAM_PRIORITY
from bnpl_assistant.ui import render

REFRESH_S = 2.0
TEAMS = list(TEAM_PRIORITY)


def agent_desk_tab(desk: SupportDesk, agents: AgentDesk | None) -> None:
    """The desk (``#queue``, ``#ticket-view``, ``#agent-reply``, ``#agent-send``, ...)."""
    with gr.Tab("Agent desk"):
        if agents is None:
            gr.Markdown("The live desk needs the database (start the page with `bnpl-assistant serve`).")
            return
        with gr.Row():
            agent = gr.Textbox(label="You (agent)", value="agent-1", scale=1, elem_id="agent-name")
            ticket_id = gr.Textbox(label="Ticket", placeholder="HND-000001", scale=1, elem_id="ticket-id")
            open_ticket = gr.Button("Open", scale=1, elem_id="open-ticket")
            claim = gr.Button("Claim", scale=1, elem_id="claim")
        queue = gr.Dataframe(headers=render.QUEUE_HEADERS, interactive=False, elem_id="queue",
                             value=render.queue_rows(agents.queue()))
        with gr.Row():
            ticket_view = gr.Markdown(elem_id="ticket-view")
            account_view = gr.Markdown(elem_id="account-view")
        reply = gr.Textbox(label="Reply to the customer (suggested from the knowledge base; edit before sending)",
                           lines=4, elem_id="agent-reply")
        with gr.Row():
            send = gr.Button("Send", variant="primary", elem_id="agent-send")
            team = gr.Dropdown(TEAMS, value=TEAMS[0], label="Team", scale=1)
            transfer = gr.Button("Transfer", elem_id="transfer")
            release = gr.Button("Return to assistant", elem_id="release")
            reason = gr.Textbox(label="Close reason", placeholder="resolved", scale=2, elem_id="close-reason")
            close = gr.Button("Close", elem_id="close")
        note = gr.Markdown(elem_id="desk-note")
        timer = gr.Timer(REFRESH_S)

    on = _AgentHandlers(agents)
    opened = [ticket_view, account_view, reply, note]
    timer.tick(on.refresh, [ticket_id], [queue, ticket_view], api_visibility="private", concurrency_limit=None)
    queue.select(on.pick, [queue], [ticket_id], api_visibility="private").then(
        on.open, [ticket_id, agent], opened, api_visibility="private")
    open_ticket.click(on.open, [ticket_id, agent], opened, api_visibility="private")
    claim.click(on.act("claim"), [ticket_id, agent, team, reason], [queue, ticket_view, note],
                api_visibility="private")
    send.click(on.send, [ticket_id, agent, reply], [queue, ticket_view, reply, note], api_visibility="private")
    for button, action in ((transfer, "transfer"), (release, "release"), (close, "close")):
        button.click(on.act(action), [ticket_id, agent, team, reason], [queue, ticket_view, note],
                     api_visibility="private")


class _AgentHandlers:
    """Widgets <-> the agent desk. Errors are shown to the agent, never as a stack trace."""

    def __init__(self, agents: AgentDesk) -> None:
        self.agents = agents

    def rows(self) -> list[list[Any]]:
        return render.queue_rows(self.agents.queue())

    def view(self, tid: str) -> str:
        if not tid.strip():
            return ""
        try:
            return render.ticket_markdown(self.agents.handoffs.get(tid), self.agents.transcript(tid))
        except Exception as exc:  # noqa: BLE001 - an unknown ticket number typed by the agent
            return f"**{render.inert(str(exc))}**"

    def refresh(self, tid: str) -> tuple[Any, str]:
        return self.rows(), self.view(tid or "")

    @staticmethod
    def pick(evt: gr.SelectData, rows: Any) -> str:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        return str(rows.iloc[row, 0]) if hasattr(rows, "iloc") else str(rows[row][0])

    def open(self, tid: str, agent: str) -> tuple[str, str, str, str]:
        """The ticket's conversation, the customer's account and a suggested reply."""
        try:
            panel = self.agents.account(tid.strip(), agent or "agent")
            suggestion = self.agents.suggestion(tid.strip())
        except Exception as exc:  # noqa: BLE001 - shown to the agent
            return "", "", "", f"**Could not open {render.inert(tid)}:** {render.inert(str(exc))}"
        return self.view(tid), render.account_markdown(panel), suggestion, ""

    def send(self, tid: str, agent: str, text: str) -> tuple[Any, str, str, str]:
        try:
            self.agents.send(tid.strip(), agent or "agent", text)
        except Exception as exc:  # noqa: BLE001 - shown to the agent
            return self.rows(), self.view(tid), text, f"**Not sent:** {render.inert(str(exc))}"
        return self.rows(), self.view(tid), "", "Sent."

    def act(self, action: str) -> Any:
        def handler(tid: str, agent: str, team: str, reason: str) -> tuple[Any, str, str]:
            tid = tid.strip()
            try:
                if action == "claim":
                    self.agents.claim(tid, agent or "agent")
                elif action == "transfer":
                    self.agents.transfer(tid, team)
                elif action == "release":
                    self.agents.release(tid)
                else:
                    self.agents.close(tid, reason or "resolved")
            except Exception as exc:  # noqa: BLE001 - shown to the agent
                return self.rows(), self.view(tid), f"**Could not {action} {render.inert(tid)}:** " \
                                                    f"{render.inert(str(exc))}"
            return self.rows(), self.view(tid), f"{action.capitalize()}: done."
        return handler
