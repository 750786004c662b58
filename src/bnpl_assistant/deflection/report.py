"""The deflection report: Markdown with tables and plots, and a JSON file with every number."""

from __future__ import annotations

import json
from pathlib import Path

from bnpl_assistant.deflection.model import MONTHS_PER_YEAR, Band
from bnpl_assistant.deflection.plots import write_plots
from bnpl_assistant.deflection.result import DeflectionResult
from bnpl_assistant.deflection.scenario import Scenario, scenario_field_help

REPORT_MD = "deflection.md"
REPORT_JSON = "deflection.json"


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows), ""]


def _band_row(label: str, band: Band, digits: int = 0) -> list[str]:
    return [label, _n(band.low, digits), _n(band.value, digits), _n(band.high, digits)]


def _img(result: DeflectionResult, kind: str, alt: str) -> list[str]:
    path = result.files.get(kind)
    return [f"![{alt}]({path.name})", ""] if path else []


def _answer(result: DeflectionResult) -> list[str]:
    s, r, h = result.scenario, result.resolution, result.headline
    d, c = result.fte_deflected, s.currency
    lines = [
        f"With the assistant resolving **{_pct(r.value)}** (95% interval {_pct(r.low)} to {_pct(r.high)}) of "
        f"the {_n(h.point.flow.offered)} conversations it is offered each month, the service needs "
        f"**{_n(h.point.staffing.fte, 1)} FTE** instead of {_n(h.baseline.fte, 1)}: "
        f"**{_n(d.value, 1)} FTE-equivalent deflected** ({_n(d.low, 1)} to {_n(d.high, 1)}), "
        f"{_n(result.hours_saved.value)} paid agent hours and {_n(result.cost_saved_month.value)} {c} "
        f"a month ({_n(result.cost_saved_year.value)} {c} a year). The naive *volume x AHT / hours* figure "
        f"would say {_n(result.naive_fte.value, 1)} FTE.",
        "",
        f"Resolution rate source: {r.source}.",
        "",
    ]
    if not r.n:
        lines += ["> The resolution rate is the scenario's own stated value, not a measurement. Pass "
                  "`--results DIR` (an eval run) or `--log` (the live conversation log) for a measured one.",
                  ""]
    return lines


def _headline(result: DeflectionResult) -> list[str]:
    h, c = result.headline, result.scenario.currency
    rows = [
        ["resolution rate", _pct(result.resolution.low), _pct(result.resolution.value),
         _pct(result.resolution.high)],
        ["FTE, all contacts to humans", *[_n(h.baseline.fte, 1)] * 3],
        _band_row("FTE with the assistant", result.fte_with_assistant, 1),
        _band_row("FTE-equivalent deflected", result.fte_deflected, 1),
        _band_row("naive FTE (resolved x AHT / hours)", result.naive_fte, 1),
        _band_row("paid agent hours saved / month", result.hours_saved),
        _band_row(f"agent cost saved / month ({c})", result.cost_saved_month),
        _band_row(f"agent cost saved / year ({c})", result.cost_saved_year),
        [f"assistant running cost / month ({c})", *[_n(o.assistant_cost) for o in (h.low, h.point, h.high)]],
        _band_row(f"net saving / year ({c})", h.band("net_saving").scaled(MONTHS_PER_YEAR)),
    ]
    return ["## Headline", "", "Low and high come from the ends of the resolution rate's 95% interval.", "",
            *_table(["", "low", "point", "high"], rows)]


def _bridge(result: DeflectionResult) -> list[str]:
    s, h = result.scenario, result.headline
    flow = h.point.flow
    per_contact_fte = s.agent_minutes_per_contact / 60 / s.paid_hours_per_fte_month
    naive = result.naive_fte.value
    removed = flow.resolved - flow.recontacts - flow.escalated * (s.escalated_aht_factor - 1)
    net_work = removed * per_contact_fte
    saved_queue = h.baseline.on_queue_hours - h.point.staffing.on_queue_hours
    saved_work = h.baseline.workload_hours - h.point.staffing.workload_hours
    # Occupancy of the agent time saved, not of the whole centre: small queues lose more than average.
    occupancy = saved_work / saved_queue if saved_queue > 0 and saved_work > 0 else 1.0
    queued = net_work / occupancy
    paid = queued / (1 - s.shrinkage)
    rows = [
        ["naive: resolved contacts x agent minutes / paid hours per FTE", _n(naive, 1)],
        [f"less work that comes back (recontacts, escalations at {s.escalated_aht_factor:g}x AHT)",
         _n(net_work, 1)],
        [f"agents are not busy every minute: / {occupancy:.2f}, handling hours saved per on-queue hour "
         "saved (Erlang C: service level and occupancy cap per interval)", _n(queued, 1)],
        [f"paid time, not just time on the queue: / (1 - shrinkage {s.shrinkage:g})", _n(paid, 1)],
        ["the model: whole agents per interval", _n(h.point.fte_deflected, 1)],
    ]
    return ["## Why the naive figure differs", "",
            f"The naive figure divides the work the assistant took ({_n(flow.resolved)} resolved "
            f"conversations x {s.agent_minutes_per_contact:.2f} agent minutes) by the paid hours of one FTE. "
            "A planner staffs queues, not minutes: step by step,", "",
            *_table(["step", "FTE"], rows)]


def _flows_and_staffing(result: DeflectionResult) -> list[str]:
    h = result.headline
    f = h.point.flow
    flow_rows = [[label, _n(value)] for label, value in (
        ("all contacts", f.total), ("never offered to the assistant", f.direct),
        ("assistant conversations", f.offered), ("resolved by the assistant", f.resolved),
        ("escalated to a human", f.escalated), ("left unresolved, came back to a human", f.returned),
        ("resolved but recontacted a human", f.recontacts), ("contacts handled by humans", f.to_humans))]
    b, w = h.baseline, h.point.staffing
    staff_rows = [
        ["contacts to humans / month", _n(b.contacts), _n(w.contacts)],
        ["handling hours / month", _n(b.workload_hours), _n(w.workload_hours)],
        ["on-queue hours / month", _n(b.on_queue_hours), _n(w.on_queue_hours)],
        ["paid hours / month", _n(b.paid_hours), _n(w.paid_hours)],
        ["occupancy", _pct(b.occupancy), _pct(w.occupancy)],
        ["peak agents scheduled in one interval", str(b.peak_positions), str(w.peak_positions)],
        ["FTE", _n(b.fte, 1), _n(w.fte, 1)],
    ]
    return ["## Contact flow (point estimate, per month)", "", *_table(["", "contacts"], flow_rows),
            "## Staffing", "", *_table(["", "all to humans", "with the assistant"], staff_rows),
            *_img(result, "plot_week", "agents per interval")]


def _sensitivity(result: DeflectionResult) -> list[str]:
    c, cost = result.scenario.currency, result.scenario.assistant_cost
    tenths = [p for p in result.resolution_curve if round(p.x * 10, 6).is_integer()]
    res_rows = [[_pct(p.x), _n(p.fte_with_assistant, 1), _n(p.fte_deflected, 1), _n(p.naive_fte, 1),
                 _n(p.net_saving_per_month)] for p in tenths]
    aht_rows = [[f"{p.x:.2f}", _n(p.fte_baseline, 1), _n(p.fte_deflected, 1), _n(p.naive_fte, 1)]
                for p in result.aht_curve]
    tornado_rows = [[b.input, _g(b.low_value), _g(b.high_value), _n(b.fte_at_low, 1),
                     _n(b.fte_at_high, 1), _n(b.swing, 1)] for b in result.tornado]
    be = result.break_even
    if be.resolution is None:
        verdict = "even a 100% resolution rate does not cover the assistant's running cost."
    else:
        verdict = (f"the assistant pays for itself from a resolution rate of **{_pct(be.resolution)}** "
                   f"(this run's rate: {_pct(result.resolution.value)}).")
    return [
        "## Sensitivity", "", "### Resolution rate", "",
        *_img(result, "plot_resolution", "FTE vs resolution"),
        *_table(["resolution", "FTE with assistant", "FTE deflected", "naive FTE",
                 f"net saving / month ({c})"], res_rows),
        "### Handle time", "", *_img(result, "plot_aht", "FTE vs AHT"),
        *_table(["AHT (min)", "FTE baseline", "FTE deflected", "naive FTE"], aht_rows),
        "### Every input (tornado)", "", *_img(result, "plot_tornado", "tornado"),
        *_table(["input", "low", "high", "FTE deflected at low", "at high", "swing"], tornado_rows),
        "## Break-even", "",
        f"Running cost: {cost.tokens_per_conversation:,.0f} tokens per conversation x "
        f"{cost.price_per_million_tokens:g} {c} per million tokens = "
        f"{be.cost_per_conversation:.4f} {c} per conversation, plus "
        f"{_n(cost.fixed_per_month)} {c} fixed: "
        f"{_n(be.assistant_cost_per_month)} {c} a month. Against the agent cost saved, {verdict}", "",
    ]


def _claim(result: DeflectionResult) -> list[str]:
    check, s = result.claim, result.scenario
    if check is None or s.claim is None:
        return []
    verdict = "within" if check.within_band else "outside"
    lines = [
        "## The published claim", "",
        f"Claimed: **{_n(check.claimed_fte)} FTE** ({check.source}). Modelled under this scenario's "
        f"assumptions: **{_n(check.modelled_fte, 1)} FTE**, {verdict} the stated band of "
        f"+-{check.band:.0%}.", "",
    ]
    if s.claim.assistant_conversations:
        lines += [f"Assistant conversations: {_n(s.claim.assistant_conversations)} claimed, "
                  f"{_n(result.headline.point.flow.offered)} modelled "
                  f"({_n(s.monthly_volume)} contacts x involvement {s.involvement:.4g}).", ""]
    conc = (1.0, 2.0, 3.0, 4.0)
    rows = [[hours, f"{m:.2f}", *[f"{m * k:.1f}" for k in conc]]
            for hours, m in check.implied_agent_minutes.items()]
    lines += [
        "Which assumptions make the claim consistent: the agent minutes per conversation (handle time / "
        "chat concurrency) at which the Erlang model gives exactly the claimed FTE, and the chat handle "
        f"time that means at each concurrency (shrinkage {s.shrinkage:g}, max occupancy "
        f"{s.max_occupancy:g}, service level {s.service_level.target:.0%} in "
        f"{s.service_level.answer_seconds:g} s held):", "",
        *_table(["paid hours / FTE / month", "agent min / conversation",
                 *[f"AHT at concurrency {k:g}" for k in conc]], rows),
        f"The naive formula would need {check.naive_agent_minutes:.2f} agent minutes per conversation to "
        f"reach the same figure at {s.paid_hours_per_fte_month:g} paid hours: it ignores shrinkage and "
        "occupancy, so it needs longer handle times for the same headcount.", "",
    ]
    human, bot = s.claim.customer_minutes_with_human, s.claim.customer_minutes_with_assistant
    if human is not None and check.customer_minutes_as_aht_fte is not None:
        times = f"{human:g} minutes" + (f" (against under {bot:g} with the assistant)" if bot else "")
        lines += [
            f"The published {times} is the **customer's time to a resolution**, not agent handle time: it "
            "includes waiting and the minutes an agent spends on other chats at the same time. Read as agent "
            f"handle time at concurrency 1 it would mean {_n(check.customer_minutes_as_aht_fte)} FTE, "
            f"{check.customer_minutes_as_aht_fte / check.claimed_fte:.1f} times the claim. The assistant's "
            "speed does not enter the staffing model at all: only the work it takes away from agents does.",
            "",
        ]
    return lines


def _g(value: float) -> str:
    """A number as written in a scenario: thousands separated, no exponent, no trailing zeros."""
    return f"{value:,.0f}" if abs(value) >= 1000 or float(value).is_integer() else f"{value:.4g}"


def _value(value: object) -> str:
    if isinstance(value, list) and len(value) > 8:
        return f"{len(value)} weights"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return _g(value)
    return str(value).replace("|", "/")


def _assumptions(scenario: Scenario) -> list[str]:
    data = scenario.model_dump(mode="json", exclude={"notes", "name", "description"}, exclude_none=True)
    rows = []
    for key, value in data.items():
        parent_note = scenario.notes.get(key) or scenario_field_help(key)
        if isinstance(value, dict) and key != "opening_hours":
            for sub, subvalue in value.items():
                note = scenario.notes.get(f"{key}.{sub}") or parent_note
                rows.append([f"{key}.{sub}", _value(subvalue), note])
        else:
            rows.append([key, _value(value), parent_note])
    return ["## Assumptions", "", "Every input, with the source or reasoning given in the scenario file.", "",
            *_table(["input", "value", "source or reasoning"], rows)]


_METHOD = """## Method

- Staffing is Erlang C per interval (pyworkforce): for each interval of a representative week (the
  monthly volume spread by the weekday and intraday profiles over the opening hours), the fewest agents
  that meet the service level, raised to keep occupancy under the cap, then grossed up for shrinkage.
  The week is scaled to a month (days per month / 7) and divided by the paid hours of one FTE.
- Chat agents serve several chats at once: the handle time Erlang C sees is AHT / concurrency.
- With the assistant, humans still get the contacts never offered to it, the escalations (at a longer
  handle time), conversations that ended unresolved without escalating, and recontacts after a
  resolution. Escalations arrive with the same profile as other contacts.
- Low and high ends use the ends of the resolution rate's 95% interval, all other inputs held.
- Break-even: the lowest resolution rate where agent cost saved covers the assistant's running cost.
"""


def render_markdown(result: DeflectionResult) -> str:
    """The report as Markdown (plots are referenced by their file names in the same folder)."""
    s = result.scenario
    lines = [f"# FTE-equivalent deflection: {s.name}", ""]
    if s.description:
        lines += [s.description.strip(), ""]
    for section in (_answer, _headline, _bridge, _claim, _flows_and_staffing, _sensitivity):
        lines += section(result)
    lines += _assumptions(s)
    return "\n".join(lines) + "\n" + _METHOD


def write_report(result: DeflectionResult, out_dir: Path) -> dict[str, Path]:
    """Write the Markdown report, the JSON with every number and the PNG plots.

    Args:
        result: The computed result; its ``files`` is updated with what was written.
        out_dir: The folder (created if missing).

    Returns:
        The written files by kind (``markdown``, ``json``, ``plot_*``).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files = write_plots(result, out_dir)
    files["markdown"] = out_dir / REPORT_MD
    files["json"] = out_dir / REPORT_JSON
    result.files.update(files)
    files["markdown"].write_text(render_markdown(result), encoding="utf-8")
    files["json"].write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return files
