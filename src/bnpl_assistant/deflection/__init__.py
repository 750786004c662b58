"""FTE-equivalent deflection: what the assistant's resolution rate means in agents, hours and money.

Pipeline: scenario (YAML) + resolution rate (eval run or conversation log) -> Erlang C staffing
without and with the assistant -> bands, sensitivity, break-even -> Markdown/JSON/PNG report.

The names below load on first use: the CLI registers the ``deflection`` command at every start, and the
staffing model's imports (pyworkforce, pandas) would otherwise cost every command about half a second.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bnpl_assistant.deflection.inputs import ResolutionInput, resolution_from_log, resolution_from_results
    from bnpl_assistant.deflection.result import DeflectionResult
    from bnpl_assistant.deflection.run import run_deflection
    from bnpl_assistant.deflection.scenario import Scenario, load_preset, load_scenario, preset_names

_HOME = {
    "DeflectionResult": "result",
    "ResolutionInput": "inputs",
    "Scenario": "scenario",
    "load_preset": "scenario",
    "load_scenario": "scenario",
    "preset_names": "scenario",
    "resolution_from_log": "inputs",
    "resolution_from_results": "inputs",
    "run_deflection": "run",
}

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


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
