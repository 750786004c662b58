"""How account replies are written: every text is an account template line (``answer.templates``, data in
``data/prompts/account_replies.yaml``) and every :class:`Reply` is built here, once, with all its fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bnpl_assistant.accounts.service import Order, PolicyRefused
from bnpl_assistant.answer import templates
from bnpl_assistant.conversation import Reply

REFUSALS = {"signed_out": "signed-out", "not_found": "not-found-or-not-yours"}  # template key -> reason


@dataclass(frozen=True)
class Voice:
    """One plan's replies: their language, the FAQ topic of each action, the confidence, and which chat model
    chose the action (``model_path``) or why its choice was not used (``fallback_reason``)."""

    language: str
    topics: Mapping[str, str]
    confidence: float = 1.0
    model_path: str = "offline"
    fallback_reason: str | None = None

    def line(self, key: str, **values: Any) -> str:
        """The account template ``key`` in this language, filled in."""
        return templates.account_line(key, self.language, **values)

    def group(self, name: str) -> dict[str, str]:
        """A group of account lines (``plans``, ``policy``, ``none_eligible``) in this language."""
        return templates.account_group(name, self.language)

    def act(self, text: str, action: str, reason: str) -> Reply:
        """An ``act`` reply of ``action`` (its tool and topic)."""
        topic = self.topics.get(action)
        return Reply(text=text, outcome="act", topic=topic, retrieved_topics=[topic] if topic else [], sources=[],
                     language=self.language, confidence=float(self.confidence), model_path=self.model_path,
                     reason=reason, tool=action, fell_back=self.fallback_reason is not None,
                     fallback_reason=self.fallback_reason or "")

    def refuse(self, key: str, action: str | None = None) -> Reply:
        """A refusal (``signed_out`` or ``not_found``), filed under ``action``'s topic when it names one."""
        topic = self.topics.get(action) if action else None
        return Reply(text=self.line(key), outcome="refuse", topic=topic, retrieved_topics=[topic] if topic else [],
                     sources=[], language=self.language, confidence=1.0, reason=REFUSALS[key],
                     fell_back=self.fallback_reason is not None, fallback_reason=self.fallback_reason or "")


def policy(voice: Voice, exc: PolicyRefused, order: Order, action: str) -> Reply:
    """Why the policy does not allow ``action`` on ``order`` (the service's message without a template)."""
    template = voice.group("policy").get(exc.code)
    text = template.format(shop=order.shop, order=order.id, amount=order.amount,
                           ordered=order.ordered_at.isoformat()) if template else str(exc)
    return voice.act(text, action, f"policy:{exc.code}")


def clarify(voice: Voice, action: str, options: Sequence[Order], key: str) -> Reply:
    """One question naming the orders that fit (``key``: ``clarify``, or ``no_match`` when none fitted)."""
    listed = "; ".join(voice.line("option", shop=o.shop, amount=o.amount, ordered=o.ordered_at.isoformat(),
                                  order=o.id) for o in options)
    return voice.act(voice.line(key, options=listed), action, "clarify")
