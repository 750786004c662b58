"""How the answer moves: FTE deflected against resolution rate and handle time, a tornado over every
input, the break-even resolution rate, and the check of a published claim."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bnpl_assistant.deflection.model import baseline_staffing, evaluate, naive_fte
from bnpl_assistant.deflection.scenario import Scenario


@dataclass(frozen=True)
class CurvePoint:
    """One point of a sensitivity curve."""

    x: float
    fte_baseline: float
    fte_with_assistant: float
    fte_deflected: float
    naive_fte: float
    net_saving_per_month: float


def resolution_curve(scenario: Scenario, containment: float | None, steps: int = 20) -> list[CurvePoint]:
    """FTE deflected at resolution rates 0, 1/steps, ..., 1.

    Args:
        scenario: The scenario.
        containment: Containment rate held fixed (None: unresolved means escalated).
        steps: Number of steps between 0 and 1.

    Returns:
        One point per resolution rate, ``x`` the rate.
    """
    baseline = baseline_staffing(scenario)
    points = []
    for i in range(steps + 1):
        outcome = evaluate(scenario, baseline, i / steps, containment)
        points.append(CurvePoint(i / steps, baseline.fte, outcome.staffing.fte, outcome.fte_deflected,
                                 naive_fte(scenario, outcome.flow.resolved), outcome.net_saving))
    return points


def aht_curve(scenario: Scenario, resolution: float, containment: float | None,
              factors: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4)) -> list[CurvePoint]:
    """FTE deflected with the human handle time scaled by each factor (``x`` is the AHT in minutes)."""
    points = []
    for factor in factors:
        varied = scenario.model_copy(update={"aht_minutes": scenario.aht_minutes * factor})
        baseline = baseline_staffing(varied)
        outcome = evaluate(varied, baseline, resolution, containment)
        points.append(CurvePoint(varied.aht_minutes, baseline.fte, outcome.staffing.fte,
                                 outcome.fte_deflected, naive_fte(varied, outcome.flow.resolved),
                                 outcome.net_saving))
    return points


@dataclass(frozen=True)
class TornadoBar:
    """FTE deflected with one input moved to a low and a high value, the rest held."""

    input: str
    low_value: float
    high_value: float
    fte_at_low: float
    fte_at_high: float

    @property
    def swing(self) -> float:
        """How far FTE deflected moves between the two ends."""
        return abs(self.fte_at_high - self.fte_at_low)


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def tornado(scenario: Scenario, resolution: float, low: float, high: float,
            containment: float | None) -> list[TornadoBar]:
    """Swing in FTE deflected as each input moves over a plausible range, widest first.

    Ranges: the resolution rate over its 95% interval; handle time, volume and paid hours +-20%/10%;
    rates and shares by a few points. Each range is printed in the report.
    """
    s = scenario
    ranges: dict[str, tuple[float, float]] = {
        "aht_minutes": (s.aht_minutes * 0.8, s.aht_minutes * 1.2),
        "monthly_volume": (s.monthly_volume * 0.8, s.monthly_volume * 1.2),
        "involvement": (_clip(s.involvement - 0.1, 0, 1), _clip(s.involvement + 0.1, 0, 1)),
        "shrinkage": (_clip(s.shrinkage - 0.05, 0, 0.95), _clip(s.shrinkage + 0.05, 0, 0.95)),
        "max_occupancy": (_clip(s.max_occupancy - 0.05, 0.5, 1), _clip(s.max_occupancy + 0.05, 0.5, 1)),
        "paid_hours_per_fte_month": (s.paid_hours_per_fte_month * 0.9, s.paid_hours_per_fte_month * 1.1),
        "recontact_rate": (_clip(s.recontact_rate - 0.05, 0, 0.95), _clip(s.recontact_rate + 0.05, 0, 0.95)),
        "escalated_aht_factor": (1.0, s.escalated_aht_factor + 0.25),
    }
    if s.channel == "chat":
        ranges["concurrency"] = (max(1.0, s.concurrency - 0.5), s.concurrency + 0.5)

    def deflected(varied: Scenario, rate: float) -> float:
        return evaluate(varied, baseline_staffing(varied), rate, containment).fte_deflected

    bars = [TornadoBar("resolution_rate", low, high, deflected(s, low), deflected(s, high))]
    for name, (lo, hi) in ranges.items():
        bars.append(TornadoBar(name, lo, hi, deflected(s.model_copy(update={name: lo}), resolution),
                               deflected(s.model_copy(update={name: hi}), resolution)))
    return sorted(bars, key=lambda b: (-b.swing, b.input))


@dataclass(frozen=True)
class BreakEven:
    """The lowest resolution rate at which agent cost saved covers the assistant's running cost.

    ``resolution`` is None when even full resolution does not pay for the assistant.
    """

    resolution: float | None
    assistant_cost_per_month: float
    cost_per_conversation: float


def _bisect(f: Callable[[float], float], lo: float, hi: float, tol: float) -> float:
    """Smallest x in [lo, hi] with f(x) >= 0 for a non-decreasing f with f(lo) < 0 <= f(hi)."""
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if f(mid) >= 0:
            hi = mid
        else:
            lo = mid
    return hi


def break_even(scenario: Scenario, containment: float | None, tol: float = 1e-3) -> BreakEven:
    """Resolution rate where the net saving (agent cost saved - assistant cost) reaches zero."""
    baseline = baseline_staffing(scenario)

    def net(rate: float) -> float:
        return evaluate(scenario, baseline, rate, containment).net_saving

    full = evaluate(scenario, baseline, 1.0, containment)
    per_conversation = scenario.assistant_cost.per_conversation
    if full.net_saving < 0:
        return BreakEven(None, full.assistant_cost, per_conversation)
    rate = 0.0 if net(0.0) >= 0 else _bisect(net, 0.0, 1.0, tol)
    return BreakEven(round(rate, 4), full.assistant_cost, per_conversation)


@dataclass(frozen=True)
class ClaimCheck:
    """A published FTE figure against the model.

    Attributes:
        claimed_fte: The published figure.
        modelled_fte: FTE deflected under the scenario's assumptions.
        within_band: Whether the model lands within ``band`` (a share) of the claim.
        band: The tolerance stated in the scenario.
        implied_agent_minutes: Agent minutes per contact (AHT / concurrency) that make the Erlang
            model give exactly the claim, per paid-hours-per-FTE assumption.
        naive_agent_minutes: The same for the naive formula, at the scenario's paid hours.
        customer_minutes_as_aht_fte: FTE deflected if the customer's resolution time were the
            agent's handle time at concurrency 1 (None when the scenario gives no such time).
        source: Where the claim was published.
    """

    claimed_fte: float
    modelled_fte: float
    within_band: bool
    band: float
    implied_agent_minutes: dict[str, float]
    naive_agent_minutes: float
    customer_minutes_as_aht_fte: float | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)


def implied_agent_minutes(scenario: Scenario, target_fte: float, resolution: float,
                          containment: float | None, tol: float = 0.005) -> float:
    """Agent minutes per contact at which the model deflects ``target_fte`` (bisection, 0.05-120 min)."""

    def gap(minutes: float) -> float:
        varied = scenario.model_copy(update={"aht_minutes": minutes * scenario.concurrency})
        return evaluate(varied, baseline_staffing(varied), resolution, containment).fte_deflected - target_fte

    return round(_bisect(gap, 0.05, 120.0, tol), 3)


def claim_check(scenario: Scenario, resolution: float, containment: float | None,
                modelled_fte: float, paid_hours: tuple[float, ...] = (160.0, 173.3)) -> ClaimCheck | None:
    """Check the scenario's published claim, if it has one.

    Args:
        scenario: The scenario with a ``claim``.
        resolution: Resolution rate used.
        containment: Containment rate, when known.
        modelled_fte: FTE deflected the model gives under the scenario's assumptions.
        paid_hours: Further paid-hours-per-FTE assumptions to solve the implied minutes for.

    Returns:
        The check, or None when the scenario makes no claim.
    """
    claim = scenario.claim
    if claim is None:
        return None
    implied = {}
    for hours in sorted({*paid_hours, scenario.paid_hours_per_fte_month}):
        varied = scenario.model_copy(update={"paid_hours_per_fte_month": hours})
        implied[f"{hours:g}"] = implied_agent_minutes(varied, claim.fte, resolution, containment)
    resolved = scenario.monthly_volume * scenario.involvement * resolution
    naive_minutes = claim.fte * scenario.paid_hours_per_fte_month * 60 / resolved if resolved else 0.0
    as_aht = None
    if claim.customer_minutes_with_human is not None:
        varied = scenario.model_copy(update={"aht_minutes": claim.customer_minutes_with_human,
                                             "concurrency": 1.0})
        as_aht = evaluate(varied, baseline_staffing(varied), resolution, containment).fte_deflected
    return ClaimCheck(
        claimed_fte=claim.fte,
        modelled_fte=modelled_fte,
        within_band=abs(modelled_fte - claim.fte) <= claim.band * claim.fte,
        band=claim.band,
        implied_agent_minutes=implied,
        naive_agent_minutes=round(naive_minutes, 3),
        customer_minutes_as_aht_fte=as_aht,
        source=claim.source,
    )
