"""A circuit breaker for the model provider: stop calling a provider that keeps failing, probe it later.

States: *closed* (calls go through; consecutive failures are counted), *open* (after ``failure_threshold``
consecutive failures: every call fails fast with :class:`CircuitOpenError` for ``cooldown_s`` seconds,
without touching the provider), *half-open* (the cool-down is over: exactly one probe call goes through,
the others keep failing fast; the probe's success closes the breaker, its failure opens it again for
another cool-down).

One breaker belongs to one model adapter, which the whole process shares, so one failing provider costs
each customer at most the bounded retries of the first ``failure_threshold`` calls, then nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from bnpl_assistant.errors import ProviderError

log = logging.getLogger(__name__)

T = TypeVar("T")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"


class CircuitOpenError(ProviderError):
    """The breaker is open: the provider was not called (the assistant answers offline)."""


class CircuitBreaker:
    """Consecutive-failure breaker with a cool-down and a single half-open probe. Thread-safe."""

    def __init__(self, name: str = "provider", failure_threshold: int = 3, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Args:
            name: what the error messages call the provider (e.g. ``openai:gpt-4o-mini``).
            failure_threshold: consecutive failed calls that open the breaker (at least 1).
            cooldown_s: how long it stays open before one probe call is let through.
            clock: monotonic seconds; injectable so tests need not wait.
        """
        self.name = name
        self.failure_threshold = max(1, failure_threshold)
        self.cooldown_s = max(0.0, cooldown_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (see the module docstring)."""
        with self._lock:
            return self._state()

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far (reset by a success)."""
        with self._lock:
            return self._failures

    def _state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        if self._clock() - self._opened_at >= self.cooldown_s:
            return HALF_OPEN
        return OPEN

    def before_call(self) -> bool:
        """Admit one call, or fail fast.

        Returns:
            True when the admitted call is the half-open probe (pass it back to ``record_*``).

        Raises:
            CircuitOpenError: the breaker is open, or half-open with its probe already in flight.
        """
        with self._lock:
            state = self._state()
            if state == CLOSED:
                return False
            if state == HALF_OPEN and not self._probing:
                self._probing = True
                log.info("circuit half-open: probing %s", self.name)
                return True
            opened_at = self._opened_at if self._opened_at is not None else self._clock()
            wait = max(0.0, self.cooldown_s - (self._clock() - opened_at))
        detail = f"probing again in {wait:.0f}s" if wait > 0 else "a probe call is in flight"
        raise CircuitOpenError(f"circuit open for {self.name} after {self.failure_threshold} consecutive "
                               f"failure(s); not calling it ({detail})")

    def record_success(self, probe: bool = False) -> None:
        """A call answered: the breaker closes and the failure count starts again."""
        with self._lock:
            if self._opened_at is not None:
                log.info("circuit closed: %s answered again", self.name)
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def record_failure(self, probe: bool = False) -> None:
        """A call failed: count it; open at the threshold, or open again when the probe failed."""
        with self._lock:
            self._failures += 1
            if probe:
                self._probing = False
                self._opened_at = self._clock()
                log.warning("circuit open again: the probe of %s failed; cooling down %.0fs", self.name,
                            self.cooldown_s)
            elif self._opened_at is None and self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
                log.warning("circuit open: %s failed %d time(s) in a row; cooling down %.0fs", self.name,
                            self._failures, self.cooldown_s)

    def release(self, probe: bool = False) -> None:
        """Forget an admitted call that ended with neither success nor failure (an abandoned stream)."""
        if probe:
            with self._lock:
                self._probing = False

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` through the breaker: a :class:`ProviderError` counts as a failure and is re-raised."""
        probe = self.before_call()
        try:
            result = fn()
        except ProviderError:
            self.record_failure(probe)
            raise
        except BaseException:
            self.release(probe)
            raise
        self.record_success(probe)
        return result
