"""Erlang C staffing: agents per interval with pyworkforce, summed over a representative week.

The only module that imports pyworkforce. A month is modelled as its average week (7 days x the
scenario's intervals, following the arrival profile) scaled by ``days_per_month / 7``; identical
intervals are computed once (cached by arrival rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pyworkforce.queuing import ErlangC

from bnpl_assistant.deflection.scenario import Scenario


@dataclass(frozen=True)
class IntervalStaff:
    """Agents one interval needs: ``raw`` on the queue, ``positions`` scheduled after shrinkage."""

    raw: int
    positions: int


@dataclass(frozen=True)
class Staffing:
    """What a month of human contacts costs in agents.

    Attributes:
        contacts: Contacts per month that reach a human.
        workload_hours: Agent hours per month spent handling them (contacts x agent minutes).
        on_queue_hours: Agent hours per month staffed on the queue (Erlang C, occupancy cap).
        paid_hours: Hours per month paid for, on-queue hours grossed up for shrinkage.
        fte: Full-time equivalents: paid hours / paid hours per FTE.
        occupancy: Share of on-queue time spent handling contacts.
        peak_positions: Most agents scheduled in any one interval of the week.
        week_positions: Scheduled agents per interval of the representative week, Monday 00:00 first.
    """

    contacts: float
    workload_hours: float
    on_queue_hours: float
    paid_hours: float
    fte: float
    occupancy: float
    peak_positions: int
    week_positions: tuple[int, ...]


@lru_cache(maxsize=200_000)
def interval_staff(transactions: float, aht_minutes: float, answer_minutes: float, interval_minutes: int,
                   service_level: float, max_occupancy: float, shrinkage: float) -> IntervalStaff:
    """Erlang C requirement for one interval.

    Args:
        transactions: Contacts arriving in the interval.
        aht_minutes: Agent minutes per contact (for chat: handle time / concurrency).
        answer_minutes: The service-level time, e.g. 1/3 for "answered in 20 s".
        interval_minutes: Interval length.
        service_level: Target share answered within ``answer_minutes``.
        max_occupancy: Occupancy cap; staff up when Erlang C would run agents hotter.
        shrinkage: Share of paid time not on the queue (breaks, training, absence).

    Returns:
        Agents on the queue (``raw``) and scheduled after shrinkage (``positions``).
    """
    if transactions <= 0:
        return IntervalStaff(0, 0)
    need = ErlangC(transactions=transactions, aht=aht_minutes, asa=answer_minutes,
                   interval=interval_minutes, shrinkage=shrinkage).required_positions(
        service_level=service_level, max_occupancy=max_occupancy)
    return IntervalStaff(int(need["raw_positions"]), int(need["positions"]))


def staff_month(scenario: Scenario, contacts: float, workload_contacts: float | None = None) -> Staffing:
    """Staff a month of human contacts with Erlang C per interval.

    Args:
        scenario: Arrival profile, handle time, service level, occupancy, shrinkage and hours.
        contacts: Contacts per month reaching a human.
        workload_contacts: The same contacts in base-handle-time equivalents, when some take longer
            (escalations); defaults to ``contacts``. Erlang C is run on this workload at the base
            handle time, so intensity is exact and more workload never needs fewer agents.

    Returns:
        The month's staffing.
    """
    workload = contacts if workload_contacts is None else workload_contacts
    aht = scenario.agent_minutes_per_contact
    weekly = workload * 7 / scenario.days_per_month
    month_per_week = scenario.days_per_month / 7
    interval_hours = scenario.interval_minutes / 60
    sl = scenario.service_level
    needs = [interval_staff(weekly * share, aht, sl.answer_seconds / 60, scenario.interval_minutes,
                            sl.target, scenario.max_occupancy, scenario.shrinkage)
             for share in scenario.arrival_shares()]
    on_queue = sum(n.raw for n in needs) * interval_hours * month_per_week
    paid = sum(n.positions for n in needs) * interval_hours * month_per_week
    workload_hours = workload * aht / 60
    return Staffing(
        contacts=contacts,
        workload_hours=workload_hours,
        on_queue_hours=on_queue,
        paid_hours=paid,
        fte=paid / scenario.paid_hours_per_fte_month,
        occupancy=workload_hours / on_queue if on_queue else 0.0,
        peak_positions=max((n.positions for n in needs), default=0),
        week_positions=tuple(n.positions for n in needs),
    )
