"""The ``handoffs`` CLI commands, for agents scripting the desk and for ops: list the tickets, show one
conversation, reply as an agent, hand the conversation back to the assistant, close a ticket. ``--json`` gives
machine-readable output. Holds no business logic (``support.live`` does); ``register(app)`` adds it to the main
Typer app."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from bnpl_assistant.errors import BnplError
from bnpl_assistant.settings import Settings

if TYPE_CHECKING:
    from bnpl_assistant.support.handoffs import Ticket
    from bnpl_assistant.support.live import LiveChat

console = Console()
err = Console(stderr=True)
handoffs_app = typer.Typer(help="Hand-off tickets: list, show, reply as an agent, release, close.")
TicketArg = Annotated[str, typer.Argument(help="Ticket number, e.g. HND-000001 (or just 1).")]


def _live(settings: Settings) -> LiveChat | None:
    """The live store on the settings' database, or None when there is no database yet (looking must not
    create one)."""
    from bnpl_assistant.storage import open_database
    from bnpl_assistant.support.handoffs import HandoffStore
    from bnpl_assistant.support.hours import SupportHours
    from bnpl_assistant.support.live import LiveChat

    if not settings.database_url and not settings.db_path.exists():
        return None
    database = open_database(settings.database)
    return LiveChat(database, HandoffStore(database), SupportHours.parse(settings.support_hours,
                                                                         settings.support_timezone),
                    settings.agent_handle_minutes)


def _where(settings: Settings) -> str:
    from bnpl_assistant.storage import redacted

    return redacted(settings.database)


def _require(settings: Settings) -> LiveChat:
    live = _live(settings)
    if live is None:
        _fail(BnplError(f"no hand-off tickets yet (no database at {_where(settings)})"))
    return live


def _fail(exc: Exception, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False, markup=True)
    raise typer.Exit(code)


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@handoffs_app.callback(invoke_without_command=True)
def handoffs(ctx: typer.Context,
             open_only: Annotated[bool, typer.Option("--open", help="Only tickets not closed.")] = False,
             as_json: Annotated[bool, typer.Option("--json", help="A JSON list instead of a table.")] = False) -> None:
    """List hand-off tickets (by priority, then age)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings()
    live = _live(settings)
    tickets = live.handoffs.list(open_only=open_only) if live is not None else []
    if as_json:
        rows = [{"ticket": t.ticket, "conversation": t.conversation_id, "status": t.status,
                 "owner": live.owner(t.conversation_id) if live else "assistant", "team": t.team,
                 "priority": t.priority, "customer": t.customer_id, "created_at": t.created_at} for t in tickets]
        _print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if live is None:
        _print(f"no hand-off tickets yet (no database at {_where(settings)})")
        return
    scope = "open " if open_only else ""
    if not tickets:
        _print(f"no {scope}hand-off tickets in {_where(settings)}")
        return
    _print(f"{len(tickets)} {scope}hand-off ticket(s) in {_where(settings)}")
    console.print(_ticket_table(tickets, with_status=not open_only))


@handoffs_app.command()
def show(ticket: TicketArg,
         as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False) -> None:
    """One ticket with its whole conversation."""
    live = _require(Settings())
    try:
        current = live.handoffs.get(ticket)
    except BnplError as exc:
        _fail(exc)
    messages = [{"role": m.role, "text": m.text, "at": m.at, **({"author": m.author} if m.author else {})}
                for m in live.messages(current.conversation_id)] or \
        [{"role": t["role"], "text": t["text"], "at": current.created_at} for t in current.transcript]
    owner = live.owner(current.conversation_id)
    if as_json:
        body: dict[str, Any] = {**asdict(current), "owner": owner, "messages": messages}
        body.pop("transcript")
        _print(json.dumps(body, ensure_ascii=False, indent=2))
        return
    _print(f"{current.ticket} · {current.status} · owner {owner} · team {current.team} · priority {current.priority}")
    _print(f"summary: {current.summary}")
    for m in messages:
        _print(f"[{m['at'][:19]}] {m.get('author') or m['role']}: {m['text']}")


@handoffs_app.command()
def reply(ticket: TicketArg, text: Annotated[str, typer.Argument(help="The message to the customer.")],
          agent: Annotated[str, typer.Option("--agent", help="Who writes (claims the ticket if nobody has).")]
          ) -> None:
    """Write to the customer as an agent; it appears in their chat."""
    live = _require(Settings())
    try:
        sent = live.reply(ticket, agent, text)
    except BnplError as exc:
        _fail(exc)
    _print(f"sent to {ticket} as {agent} (message {sent.id})")


@handoffs_app.command()
def release(ticket: TicketArg) -> None:
    """Hand the conversation back to the assistant (the ticket closes)."""
    live = _require(Settings())
    try:
        done = live.release(ticket)
    except BnplError as exc:
        _fail(exc)
    _print(f"{done.ticket} returned to the assistant")


@handoffs_app.command()
def close(ticket: TicketArg,
          reason: Annotated[str, typer.Option("--reason", help="Why it is closed, e.g. 'resolved'.")]) -> None:
    """Close a ticket; the customer is asked to rate the conversation."""
    live = _require(Settings())
    try:
        done = live.close(ticket, reason)
    except BnplError as exc:
        _fail(exc)
    _print(f"{done.ticket} closed: {done.close_reason}")


def _ticket_table(tickets: list[Ticket], with_status: bool) -> Table:
    # The ticket number is what an agent types next: never wrapped or cut, however narrow the terminal; the
    # other short values fold onto a second line rather than lose their end to an ellipsis.
    table = Table()
    table.add_column("ticket", no_wrap=True, min_width=max(len(t.ticket) for t in tickets))
    for col in ("prio", "status", "team", "reason", "customer") if with_status else ("prio", "team", "reason",
                                                                                       "customer"):
        table.add_column(col, overflow="fold")
    table.add_column("created (UTC)", no_wrap=True, min_width=16)
    table.add_column("summary")
    for t in tickets:
        reason = t.reason if not t.topic or t.reason == f"topic:{t.topic}" else f"{t.reason} ({t.topic})"
        status = [t.status] if with_status else []
        table.add_row(t.ticket, str(t.priority), *status, t.team, reason, t.customer_id or "",
                      t.created_at[:16].replace("T", " "), t.summary[:60])
    return table


def register(app: typer.Typer) -> None:
    app.add_typer(handoffs_app, name="handoffs")
