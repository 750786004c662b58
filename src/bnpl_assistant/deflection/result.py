"""The result of a deflection run: one record with every number, and its JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bnpl_assistant.deflection.erlang import Staffing
from bnpl_assistant.deflection.inputs import ResolutionInput
from bnpl_assistant.deflection.model import MONTHS_PER_YEAR, Band, Headline, Outcome
from bnpl_assistant.deflection.scenario import Scenario
from bnpl_assistant.deflection.sensitivity import BreakEven, ClaimCheck, CurvePoint, TornadoBar


def _staffing(staffing: Staffing) -> dict[str, Any]:
    return {**asdict(staffing), "week_positions": list(staffing.week_positions)}


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {
        "resolution": outcome.resolution,
        "contact_flow": outcome.flow.to_dict(),
        "staffing": _staffing(outcome.staffing),
        "fte_deflected": outcome.fte_deflected,
        "agent_hours_saved": outcome.hours_saved,
        "cost_saved": outcome.cost_saved,
        "assistant_cost": outcome.assistant_cost,
        "net_saving": outcome.net_saving,
    }


@dataclass
class DeflectionResult:
    """Everything a deflection run computed; ``files`` lists what was written, by kind."""

    scenario: Scenario
    resolution: ResolutionInput
    headline: Headline
    resolution_curve: list[CurvePoint]
    aht_curve: list[CurvePoint]
    tornado: list[TornadoBar]
    break_even: BreakEven
    claim: ClaimCheck | None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def fte_baseline(self) -> float:
        """FTE with every contact going to a human."""
        return self.headline.baseline.fte

    @property
    def fte_with_assistant(self) -> Band:
        """FTE still needed with the assistant."""
        return self.headline.fte_with_assistant

    @property
    def fte_deflected(self) -> Band:
        """FTE-equivalent deflected."""
        return self.headline.band("fte_deflected")

    @property
    def hours_saved(self) -> Band:
        """Paid agent hours saved per month."""
        return self.headline.band("hours_saved")

    @property
    def cost_saved_month(self) -> Band:
        """Agent cost saved per month."""
        return self.headline.band("cost_saved")

    @property
    def cost_saved_year(self) -> Band:
        """Agent cost saved per year."""
        return self.cost_saved_month.scaled(MONTHS_PER_YEAR)

    @property
    def naive_fte(self) -> Band:
        """Resolved contacts x agent minutes / paid hours per FTE."""
        return self.headline.naive_fte

    def to_dict(self) -> dict[str, Any]:
        """Every input and number as a JSON-ready dict (no timestamps, stable order)."""
        h = self.headline
        return {
            "scenario": self.scenario.model_dump(mode="json"),
            "resolution": self.resolution.to_dict(),
            "headline": h.to_dict(),
            "baseline": _staffing(h.baseline),
            "with_assistant": {"low": _outcome(h.low), "point": _outcome(h.point), "high": _outcome(h.high)},
            "sensitivity": {
                "resolution_rate": [asdict(p) for p in self.resolution_curve],
                "aht_minutes": [asdict(p) for p in self.aht_curve],
                "tornado": [{**asdict(b), "swing": b.swing} for b in self.tornado],
            },
            "break_even": asdict(self.break_even),
            "claim": self.claim.to_dict() if self.claim else None,
            "files": {kind: path.name for kind, path in sorted(self.files.items())},
        }
