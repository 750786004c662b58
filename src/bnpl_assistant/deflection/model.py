"""Baseline staffing against staffing with the assistant, at one resolution rate or across its interval.

Contact flow with the assistant (shares of the contacts offered to it):

- resolved: the assistant solved it; a ``recontact_rate`` share of these come back to a human anyway;
- returned: the conversation stayed with the assistant but was not resolved (the gap between
  containment and resolution): the customer comes back to a human;
- escalated: handed to a human, at ``escalated_aht_factor`` times the normal handle time.

Contacts never offered to the assistant (``1 - involvement``) go to humans as before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bnpl_assistant.deflection.erlang import Staffing, staff_month
from bnpl_assistant.deflection.scenario import Scenario

MONTHS_PER_YEAR = 12


@dataclass(frozen=True)
class ContactFlow:
    """Where a month's contacts go.

    Attributes:
        total: All contacts in the month.
        direct: Never offered to the assistant.
        offered: Conversations with the assistant.
        resolved: Resolved by the assistant.
        escalated: Handed from the assistant to a human.
        returned: Left the assistant unresolved without escalating; come back to a human.
        recontacts: Resolved by the assistant but the customer came back to a human.
    """

    total: float
    direct: float
    offered: float
    resolved: float
    escalated: float
    returned: float
    recontacts: float

    @property
    def to_humans(self) -> float:
        """Contacts a human handles."""
        return self.direct + self.escalated + self.returned + self.recontacts

    def to_dict(self) -> dict[str, float]:
        """The fields and ``to_humans`` as a JSON-ready dict."""
        return {**asdict(self), "to_humans": self.to_humans}


def contact_flow(scenario: Scenario, resolution: float, containment: float | None = None) -> ContactFlow:
    """Split the month's contacts between the assistant and humans.

    Args:
        scenario: Volume, involvement and recontact rate.
        resolution: Share of assistant conversations resolved.
        containment: Share never escalated; when unknown (or below ``resolution``) every
            unresolved conversation counts as escalated.

    Returns:
        The month's contact flow.
    """
    kept = resolution if containment is None else max(containment, resolution)
    offered = scenario.monthly_volume * scenario.involvement
    resolved = offered * resolution
    return ContactFlow(
        total=scenario.monthly_volume,
        direct=scenario.monthly_volume - offered,
        offered=offered,
        resolved=resolved,
        escalated=offered * (1 - kept),
        returned=offered * (kept - resolution),
        recontacts=resolved * scenario.recontact_rate,
    )


def human_workload(scenario: Scenario, flow: ContactFlow) -> float:
    """Human contacts in base-handle-time equivalents (escalations weigh more)."""
    return flow.direct + flow.escalated * scenario.escalated_aht_factor + flow.returned + flow.recontacts


def baseline_staffing(scenario: Scenario) -> Staffing:
    """Staffing with every contact going to a human."""
    return staff_month(scenario, scenario.monthly_volume)


@dataclass(frozen=True)
class Outcome:
    """The month at one resolution rate.

    Attributes:
        resolution: The resolution rate used.
        flow: Where the contacts went.
        staffing: Human staffing with the assistant.
        fte_deflected: Baseline FTE minus FTE with the assistant.
        hours_saved: Paid agent hours saved per month.
        cost_saved: Agent cost saved per month.
        assistant_cost: The assistant's running cost per month.
    """

    resolution: float
    flow: ContactFlow
    staffing: Staffing
    fte_deflected: float
    hours_saved: float
    cost_saved: float
    assistant_cost: float

    @property
    def net_saving(self) -> float:
        """Agent cost saved minus the assistant's running cost, per month."""
        return self.cost_saved - self.assistant_cost


def assistant_cost(scenario: Scenario, flow: ContactFlow) -> float:
    """Monthly running cost: tokens for every assistant conversation plus the fixed part."""
    cost = scenario.assistant_cost
    return flow.offered * cost.per_conversation + cost.fixed_per_month


def evaluate(scenario: Scenario, baseline: Staffing, resolution: float,
             containment: float | None = None) -> Outcome:
    """Staff the month with the assistant at one resolution rate and compare with the baseline.

    Args:
        scenario: The scenario.
        baseline: ``baseline_staffing(scenario)``, computed once by the caller.
        resolution: Share of assistant conversations resolved.
        containment: Share of assistant conversations never escalated, when known.

    Returns:
        The outcome at that resolution rate.
    """
    flow = contact_flow(scenario, resolution, containment)
    staffing = staff_month(scenario, flow.to_humans, human_workload(scenario, flow))
    hours_saved = baseline.paid_hours - staffing.paid_hours
    return Outcome(
        resolution=resolution,
        flow=flow,
        staffing=staffing,
        fte_deflected=baseline.fte - staffing.fte,
        hours_saved=hours_saved,
        cost_saved=hours_saved * scenario.cost_per_agent_hour,
        assistant_cost=assistant_cost(scenario, flow),
    )


def naive_fte(scenario: Scenario, resolved: float) -> float:
    """The back-of-envelope figure: resolved contacts x agent minutes / paid hours per FTE.

    It leaves out shrinkage, the occupancy cap, queueing for the service level, recontacts,
    unresolved returns and longer escalations: the gap to the Erlang figure is those.
    """
    return resolved * scenario.agent_minutes_per_contact / 60 / scenario.paid_hours_per_fte_month


@dataclass(frozen=True)
class Band:
    """A figure with its low/high ends from the resolution rate's 95% interval."""

    low: float
    value: float
    high: float

    def scaled(self, factor: float) -> Band:
        """The band times a constant (e.g. months per year)."""
        return Band(self.low * factor, self.value * factor, self.high * factor)

    def to_dict(self) -> dict[str, float]:
        """The band as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Headline:
    """The answer: staffing without and with the assistant, banded by the resolution interval."""

    baseline: Staffing
    point: Outcome
    low: Outcome
    high: Outcome
    naive_fte: Band

    def band(self, attribute: str) -> Band:
        """A per-month outcome attribute (``fte_deflected``, ``cost_saved``, ...) as a band."""
        return Band(*(getattr(o, attribute) for o in (self.low, self.point, self.high)))

    @property
    def fte_with_assistant(self) -> Band:
        """FTE still needed with the assistant (low resolution needs more: reported low-to-high)."""
        return Band(self.high.staffing.fte, self.point.staffing.fte, self.low.staffing.fte)

    def to_dict(self) -> dict[str, Any]:
        """Every headline number as a JSON-ready dict."""
        return {
            "fte_baseline": self.baseline.fte,
            "fte_with_assistant": self.fte_with_assistant.to_dict(),
            "fte_deflected": self.band("fte_deflected").to_dict(),
            "agent_hours_saved_per_month": self.band("hours_saved").to_dict(),
            "cost_saved_per_month": self.band("cost_saved").to_dict(),
            "cost_saved_per_year": self.band("cost_saved").scaled(MONTHS_PER_YEAR).to_dict(),
            "assistant_cost_per_month": self.point.assistant_cost,
            "net_saving_per_year": self.band("net_saving").scaled(MONTHS_PER_YEAR).to_dict(),
            "naive_fte": self.naive_fte.to_dict(),
        }


def headline(scenario: Scenario, resolution: float, low: float, high: float,
             containment: float | None = None) -> Headline:
    """Baseline vs with-assistant staffing at a resolution rate and both ends of its interval.

    Args:
        scenario: The scenario.
        resolution: Point estimate of the resolution rate.
        low: Lower end of its 95% interval.
        high: Upper end of its 95% interval.
        containment: Point estimate of the containment rate, when known (held fixed across the band).

    Returns:
        The headline figures.
    """
    baseline = baseline_staffing(scenario)
    outcomes = [evaluate(scenario, baseline, r, containment) for r in (low, resolution, high)]
    naive = Band(*(naive_fte(scenario, o.flow.resolved) for o in outcomes))
    return Headline(baseline=baseline, low=outcomes[0], point=outcomes[1], high=outcomes[2], naive_fte=naive)
