"""The account dialogue's state between two customer turns: the one question the assistant is waiting on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["confirm", "clarify"]


@dataclass(frozen=True)
class PendingAction:
    """An account action waiting for the customer's next message, kept in ``Conversation.pending_action``.

    It lives exactly one customer turn: the next message either answers it or it is dropped.

    Attributes:
        stage: ``"confirm"``: a write waits for yes/no; ``"clarify"``: the assistant asked which order.
        action: the action's registry name.
        customer_id: the signed-in customer it was asked for (a different session never continues it).
        order_id: confirm: the order the write is for.
        candidates: clarify: the order ids offered, in the order they were shown.
        days: the days asked for (extensions); confirm: the policy's option, clarify: as the customer said.
        reason: the customer's words (at most 500 characters), kept as a dispute's reason.
    """

    stage: Stage
    action: str
    customer_id: str
    order_id: str | None = None
    candidates: tuple[str, ...] = ()
    days: int | None = None
    reason: str = ""
