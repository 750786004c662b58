"""Turning replies, tickets and stats into page text. Pure functions: easy to test, no gradio."""

from __future__ import annotations

import html
import re
from typing import Any

from bnpl_assistant.answer import templates
from bnpl_assistant.conversation import Reply

BADGES = {
    "answer": ("✅", "Answered"),
    "act": ("🧾", "Done on your account"),
    "escalate": ("🙋", "Handed to a person"),
    "refuse": ("⛔", "Can't help with that"),
}
# Refusals that only ask what the customer needs (a greeting, an empty or wordless message): their badge says
# so, instead of "Can't help with that" beside a reply that offers help.
ASKING = ("💬", "Tell me what you need")
ASKING_REASONS = frozenset({"greeting", "empty-message", "no-words", "nothing-to-confirm"})
WITH_AGENT = "🧑‍💼 **agent** · a person from our team has this conversation and answers here"
QUEUE_HEADERS = ["ticket", "prio", "status", "owner", "team", "waiting", "new", "last customer message"]
TYPING = "✍️ *writing…*"
SLOW_DOWN = "⏳ **Slow down**"  # the badge when a session or address is over its rate limit
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\((?:[a-z][a-z0-9+.-]*:|//|www\.)[^)]*\)", re.IGNORECASE)
_BARE_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)


def inert(text: str) -> str:
    """Customer text shown on the page: HTML escaped and Markdown neutralised (no links, images, scripts)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=True))


def badge(reply: Reply) -> str:
    icon, label = ASKING if reply.reason in ASKING_REASONS else BADGES.get(reply.outcome, ("", reply.outcome))
    extra = f" · ticket **{reply.ticket_id}**" if reply.ticket_id else ""
    if reply.fell_back:
        extra += " · the model was unavailable, answered offline"
    return f"{icon} **{label}**{extra}"


def model_markdown(text: str) -> str:
    """Text written by a chat model, shown as Markdown minus what could carry data off the page if a prompt
    injection got through: images and links become their text, bare URLs are cut, HTML is escaped."""
    text = _MD_IMAGE.sub(lambda m: m.group(1), text)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _BARE_URL.sub("[link removed]", text)
    return html.escape(text, quote=False)


def reply_markdown(reply: Reply) -> str:
    parts = []
    if reply.note:
        parts.append(f"_{html.escape(reply.note)}_")
    parts.append(reply.text if reply.model_path == "offline" else model_markdown(reply.text))
    return "\n\n".join(parts)


def sources_markdown(reply: Reply) -> str:
    if not reply.sources:
        return ""
    blocks = []
    for s in reply.sources:
        passage = html.escape(s.passage).replace("\n", "<br>")
        blocks.append(f"<details><summary>📄 {html.escape(s.title)} <code>{s.language}/{s.id}</code></summary>"
                      f"<div>{passage}</div></details>")
    return "**Sources**\n\n" + "\n".join(blocks)


def stats_markdown(stats: Any) -> str:
    if stats is None:
        return "No conversation log configured."

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    rows = [
        ("Conversations", str(stats.conversations)), ("Turns", str(stats.turns)),
        ("Containment (never handed off)", pct(stats.containment)),
        ("Resolution (contained, no 👎)", pct(stats.resolution)),
        ("Feedback (👍 of rated)", f"{stats.thumbs_up} of {stats.rated} rated"),
        ("Latency p50 / p95 (ms)", f"{stats.latency_p50_ms or 0:.0f} / {stats.latency_p95_ms or 0:.0f}"),
    ]
    table = "| live figure | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    reasons = "\n".join(f"| {k} | {v} |" for k, v in sorted(stats.escalations_by_reason.items())) or "| - | 0 |"
    return table + "\n\n| escalation reason | count |\n|---|---|\n" + reasons


def eval_markdown(evals: dict[str, Any]) -> str:
    if not evals:
        return "No offline eval yet: run `bnpl-assistant eval --dataset evals/dev.jsonl --out out/eval`."

    def cell(m: Any) -> str:
        if isinstance(m, dict) and m.get("value") is not None:
            low, high = m.get("low"), m.get("high")
            return f"{m['value']:.3f}" + (f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else "")
        return "NaN"

    lines = ["| dataset | n | topic@1 | outcome acc | verified resolution | containment |", "|---|---|---|---|---|---|"]
    for name, m in evals.items():
        o = m["overall"]
        lines.append(f"| {name} | {o['n']} | {cell(o['topic_accuracy_at_1'])} | {cell(o['outcome_accuracy'])} | "
                     f"{cell(o['verified_resolution_rate'])} | {cell(o['containment_rate'])} |")
    return "\n".join(lines)


def deflection_markdown(data: dict[str, Any] | None) -> str:
    if not data:
        return "No deflection report yet: run `bnpl-assistant deflection --results out/eval`."
    headline = data.get("headline") or {}
    lines = ["| deflection figure | low | point | high |", "|---|---|---|---|"]
    for key, value in headline.items():
        label = key.replace("_", " ")
        if isinstance(value, dict) and "value" in value:
            lines.append(f"| {label} | {value['low']:,.1f} | {value['value']:,.1f} | {value['high']:,.1f} |")
        elif isinstance(value, int | float):
            lines.append(f"| {label} |  | {value:,.1f} |  |")
    return "\n".join(lines)


def live_message(message: Any) -> dict[str, str]:
    """A desk-side chat message (agent or system) as a chat bubble; the text is shown inert, whoever wrote it."""
    if message.role == "agent":
        who = f"{inert(message.author or 'Agent')} ({inert(templates.company())} team)"
        return {"role": "assistant", "content": f"**{who}:** {inert(message.text)}"}
    return {"role": "assistant", "content": f"_{inert(message.text)}_"}


def chat_history(messages: list[Any]) -> list[dict[str, str]]:
    """A saved conversation's messages as the chat shows them (resuming after the page was closed)."""
    out = []
    for m in messages:
        if m.role == "customer":
            out.append({"role": "user", "content": inert(m.text)})
        elif m.role == "assistant":
            out.append({"role": "assistant", "content": m.text})
        else:
            out.append(live_message(m))
    return out


def owner_markdown(owner: str, waiting: Any = None) -> str:
    """The customer's status line: who has the conversation."""
    if owner == "queued" and waiting is not None:
        if not waiting.open_now:
            return f"🕒 **Our team is offline** · a person follows up by e-mail ({waiting.opening})"
        return f"🕒 **Waiting for a person** · number {waiting.position} in the queue, about {waiting.minutes} min"
    if owner.startswith("agent:"):
        return f"🧑‍💼 **{inert(owner.split(':', 1)[1])} from our team is chatting with you**"
    return ""


def queue_rows(items: list[Any]) -> list[list[Any]]:
    """The agents' live queue."""
    return [[i.ticket.ticket, i.ticket.priority, i.ticket.status, i.owner, i.ticket.team,
             f"{i.waiting_s // 60} min", i.unanswered, i.last_customer_text[:80]] for i in items]


def ticket_markdown(ticket: Any, messages: list[Any]) -> str:
    """A ticket for the agent: who, why, the hand-off summary and every message of the conversation (each
    text inert, whoever wrote it)."""
    who = {"customer": "Customer", "assistant": "Assistant", "system": "System"}
    lines = [f"### {ticket.ticket} · priority {ticket.priority} · {ticket.status}"
             f"{' · ' + inert(ticket.agent) if ticket.agent else ''}",
             f"**Team:** {ticket.team} · **Reason:** {ticket.reason} · **Topic:** {ticket.topic or '-'} · "
             f"**Language:** {ticket.language} · **Customer:** {ticket.customer_id or 'signed out'}",
             f"**Summary** ({inert(ticket.summary_by)}): {inert(ticket.summary)}", "**Transcript**"]
    lines += [f"- **{inert(m.author) if m.role == 'agent' and m.author else who.get(m.role, m.role)}:** "
              f"{inert(m.text)}" for m in messages]
    return "\n".join(lines)


def account_markdown(panel: Any) -> str:
    """The signed-in customer's account, read-only."""
    if panel is None:
        return "_Signed-out chat: no account to show._"
    orders = "\n".join(f"| {o} | {inert(shop)} | {amount} | {status} |" for o, shop, amount, status in panel.orders)
    due = "\n".join(f"| {o} | {d} | {amount} |" for o, d, amount in panel.next_payments) or "| - | - | - |"
    return (f"**Account:** {inert(panel.customer)} (read-only; this view is audited)\n\n"
            f"| order | shop | amount | status |\n|---|---|---|---|\n{orders}\n\n"
            f"| next payment (order) | due | amount |\n|---|---|---|\n{due}")


def outcome_markdown(report: dict[str, Any] | None, window: str) -> str:
    """The outcome analytics' headline figures (docs/metrics.md) for the dashboard."""
    if report is None:
        return f"**Outcomes ({window}):** no conversation in this window yet."
    o = report["overall"]

    def pct(key: str) -> str:
        f = o[key]
        return "-" if f["value"] is None else f"{f['value']:.1%} [{f['low']:.1%}, {f['high']:.1%}]"

    def minutes(key: str) -> str:
        if o[key] is None:
            return "-"
        return f"{o[key] * 60:.1f} s" if o[key] < 1 else f"{o[key]:.1f} min"

    reasons = ", ".join(f"{r} {v['count']}" for r, v in o["handoff_reasons"].items()) or "none"
    lines = [f"**Outcomes ({window}): {o['conversations']} conversations** (definitions: docs/metrics.md)", "",
             "| metric | value [95% interval] |", "|---|---|",
             f"| autonomous resolution | {pct('autonomous_resolution')} |",
             f"| durable resolution (not reopened in 7 days) | {pct('durable_resolution')} |",
             f"| hand-off rate | {pct('handoff_rate')} ({reasons}) |",
             f"| reopen rate | {pct('reopen_rate')} |",
             f"| CSAT assistant / agents | {pct('csat_assistant')} / {pct('csat_agent')} |",
             f"| median time to resolution, assistant / agents | {minutes('median_minutes_to_resolution_assistant')}"
             f" / {minutes('median_minutes_to_resolution_agent')} |"]
    d = report.get("deflection")
    if d:
        fte, hours = d["fte_deflected"], d["agent_hours_saved_per_month"]
        lines.append(f"| FTE deflected / agent hours saved a month ({d['monthly_contacts']:,.0f} contacts) | "
                     f"{fte['value']:.1f} [{fte['low']:.1f}, {fte['high']:.1f}] / {hours['value']:,.0f} |")
    return "\n".join(lines)
