"""FTE-equivalent deflection: what the assistant's resolution rate means in agents, hours and money.

Pipeline: scenario (YAML) + resolution rate (eval run or conversation log) -> Erlang C staffing
without and with the assistant -> bands, sensitivity, break-even -> Markdown/JSON/PNG report.
"""

from bnpl_assistant.deflection.inputs import ResolutionInput, resolution_from_log, resolution_from_results
from bnpl_assistant.deflection.result import DeflectionResult
from bnpl_assistant.deflection.run import run_deflection
from bnpl_assistant.deflection.scenario import Scenario, load_preset, load_scenario, preset_names

__all__ = [
    "DeflectionResult",
    "ResolutionInput",
    "Scenario",
    "load_preset",
    "load_scenario",
    "preset_names",
    "resolution_from_log",
    "resolution_from_results",
    "run_deflection",
]
