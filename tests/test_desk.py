"""The support desk's limits: per session, and per client address across sessions; the page's queue settings."""

from __future__ import annotations

from collections.abc import Callable

from bnpl_assistant.support.desk import RATE_LIMIT_MESSAGES, ClientLimiter, Session
from bnpl_assistant.wiring import Components


def test_session_limit_slides() -> None:
    session = Session()
    assert all(session.allow(now=float(i)) for i in range(RATE_LIMIT_MESSAGES))
    assert not session.allow(now=30.0)
    assert session.allow(now=61.0)  # the first message left the window


def test_client_limit_counts_across_sessions_and_addresses_separately() -> None:
    limiter = ClientLimiter(limit=3, window_s=60.0)
    assert [limiter.allow("10.0.0.1", now=t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, True, False]
    assert limiter.allow("10.0.0.2", now=3.0)  # another visitor is not affected
    assert limiter.allow("10.0.0.1", now=60.5)  # the window moved on
    assert limiter.allow(None, now=4.0)  # an unknown address is not limited here (the proxy's job)


def test_client_limit_off_and_memory_bounded() -> None:
    assert all(ClientLimiter(limit=0).allow("10.0.0.1", now=float(i)) for i in range(1000))
    limiter = ClientLimiter(limit=5, window_s=60.0, max_clients=100)
    for i in range(1000):
        limiter.allow(f"10.0.{i // 256}.{i % 256}", now=float(i))
    assert len(limiter._sent) <= 101  # quiet clients are forgotten once there are too many


def test_slow_down_line_is_a_template_in_the_conversations_language() -> None:
    from bnpl_assistant.conversation import Turn
    from bnpl_assistant.support.desk import SupportDesk

    session = Session()
    session.conversation.turns.append(Turn("customer", "Hallo", "de"))
    desk = SupportDesk.__new__(SupportDesk)  # the text needs no stores
    assert desk.rate_limited_text(session).startswith("Sie senden sehr schnell")
    session.conversation.turns.append(Turn("customer", "Bonjour", "fr"))  # no French line: English
    assert desk.rate_limited_text(session).startswith("You're sending messages very quickly")


def test_the_queue_estimates_once_a_second_and_its_idle_loops_sleep_longer(
        components: Callable[..., Components]) -> None:
    """Gradio's queue settings that cost server CPU (``ui.app``): position estimates on a timer rather than at
    every job start, and idle loops that look every 5 ms / 100 ms instead of every 1 ms / 10 ms."""
    from bnpl_assistant.ui.app import PROGRESS_IDLE_SLEEP_S, QUEUE_IDLE_SLEEP_S, STATUS_UPDATE_S, build_app

    parts = components()
    queue = build_app(parts.desk(), parts.settings)._queue
    assert queue.live_updates is False and queue.update_intervals == STATUS_UPDATE_S
    assert queue.sleep_when_free == QUEUE_IDLE_SLEEP_S
    assert queue.progress_update_sleep_when_free == PROGRESS_IDLE_SLEEP_S
