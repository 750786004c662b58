"""One deflection run: resolution input + scenario -> every figure, and optionally the report files."""

from __future__ import annotations

import logging
from pathlib import Path

from bnpl_assistant.deflection.inputs import ResolutionInput, resolution_from_spec
from bnpl_assistant.deflection.model import headline
from bnpl_assistant.deflection.result import DeflectionResult
from bnpl_assistant.deflection.scenario import Scenario
from bnpl_assistant.deflection.sensitivity import (
    aht_curve,
    break_even,
    claim_check,
    resolution_curve,
    tornado,
)
from bnpl_assistant.errors import DataError

logger = logging.getLogger(__name__)


def run_deflection(scenario: Scenario, resolution: ResolutionInput | None = None,
                   out_dir: Path | None = None) -> DeflectionResult:
    """Compute the FTE-equivalent deflection of a scenario, and write the report if asked.

    Args:
        scenario: The contact centre and the assistant's deployment.
        resolution: The measured resolution rate (``resolution_from_results`` or
            ``resolution_from_log``); None uses the scenario's own ``resolution`` block.
        out_dir: Where to write the Markdown report, the JSON and the plots; None writes nothing.

    Returns:
        Every number of the run; ``files`` lists what was written.

    Raises:
        DataError: No resolution rate given and none in the scenario.
    """
    if resolution is None:
        if scenario.resolution is None:
            raise DataError(f"scenario {scenario.name!r} states no resolution rate: pass --results DIR "
                            "(an eval run) or --log, or add a resolution: block to the scenario")
        resolution = resolution_from_spec(scenario.resolution)
    r, containment = resolution, resolution.containment
    logger.info("deflection %s at resolution %.3f [%.3f, %.3f]", scenario.name, r.value, r.low, r.high)
    head = headline(scenario, r.value, r.low, r.high, containment)
    result = DeflectionResult(
        scenario=scenario,
        resolution=r,
        headline=head,
        resolution_curve=resolution_curve(scenario, containment),
        aht_curve=aht_curve(scenario, r.value, containment),
        tornado=tornado(scenario, r.value, r.low, r.high, containment),
        break_even=break_even(scenario, containment),
        claim=claim_check(scenario, r.value, containment, head.point.fte_deflected),
    )
    if out_dir is not None:
        from bnpl_assistant.deflection.report import write_report  # matplotlib only when writing

        write_report(result, Path(out_dir))
    return result
