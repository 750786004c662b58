"""Packs from the foreign-domain data beside the repository (``../shared/eval-data/foreign/``), for the tests and
benchmarks that prove onboarding on domains nobody here wrote. The data is not copied into the repository:
each pack is written into a folder the caller chooses, from the shared files, when it is needed.

- BANKING77-OOS (Casanueva et al. 2020, CC BY 4.0; Larson et al. 2019, CC BY 3.0; re-split by Zhang et al.
  2022): 50 banking intents. Tickets: ``train`` + ``valid`` (the intents), ``id_oos_train`` + ``id_oos_valid``
  (in-domain questions the bot does not support, as ``out_of_scope``: the paper's optional ID-OOS training
  data, used here) and ``ood_oos_valid`` (off-domain, as ``out_of_scope``). ``test.jsonl`` is never read here.
- τ-banking (Sierra Research, MIT): 698 help-center documents of a fictional bank, as a JSON Lines export.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

FOREIGN = Path(__file__).resolve().parents[1].parent / "shared" / "eval-data" / "foreign"
BANKING77 = FOREIGN / "banking77-oos"
TAU = FOREIGN / "tau-banking"
# The ticket files of the BANKING77-OOS pack and how their labels map (None: keep the intent).
BANKING77_TICKETS = {"train": None, "valid": None, "id_oos_train": "out_of_scope", "id_oos_valid": "out_of_scope",
                     "ood_oos_valid": "out_of_scope"}

PACK_YAML = """# Written by benchmarks/foreign.py from {source} (see its README for licences and attribution).
name: {name}
company: {company}
languages: [en]
fallback_language: en
support_hours: {{hours: "mon-sun 00:00-24:00", timezone: UTC}}
teams: {{customer-care: Customer care}}
"""


def banking77_pack(dest: Path) -> Path:
    """A BANKING77-OOS pack in ``dest``: ``pack.yaml`` and the labelled tickets (no articles: the intents are
    its topics, made by onboarding). Returns ``dest``."""
    tickets = dest / "tickets"
    tickets.mkdir(parents=True, exist_ok=True)
    (dest / "pack.yaml").write_text(PACK_YAML.format(source=BANKING77, name="banking77", company="Banking77 demo"),
                                    encoding="utf-8")
    for stem, label in BANKING77_TICKETS.items():
        rows = [json.loads(line) for line in (BANKING77 / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()]
        with (tickets / f"{stem}.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                if row["text"].strip():  # the source keeps a few empty lines for alignment
                    out.write(json.dumps({"text": row["text"], "label": label or row["label"], "language": "en"})
                              + "\n")
    return dest


def tau_pack(dest: Path) -> Path:
    """A τ-banking pack folder in ``dest`` (``pack.yaml`` only: onboarding imports the documents with
    ``--docs`` from :data:`TAU` / ``docs.jsonl``). Returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "pack.yaml").write_text(PACK_YAML.format(source=TAU, name="tau-banking", company="Rho-Bank"),
                                    encoding="utf-8")
    return dest


def present() -> bool:
    """Whether the foreign data is beside the repository (CI has it; a clone elsewhere may not)."""
    return (BANKING77 / "train.jsonl").is_file() and (TAU / "docs.jsonl").is_file()


def banking77_test_figures(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The BANKING77-OOS protocol on eval result rows of ``test.jsonl``: in-scope accuracy (right intent, not
    refused), ID-OOS and OOD-OOS recall (refused), each over its own part, and the Matthews correlation of
    refusing against "should be refused"."""
    from bnpl_assistant.evals.metrics import open_set

    def share(part: list[dict[str, Any]], hit: Callable[[dict[str, Any]], bool]) -> float:
        return sum(map(hit, part)) / len(part) if part else float("nan")

    in_scope = [r for r in rows if r.get("expected_outcome") == "answer"]
    figures = {
        "in_scope_accuracy": share(in_scope, lambda r: r["topic"] == r["expected_topic"] and r["outcome"] != "refuse"),
        "id_oos_recall": share([r for r in rows if r.get("source_label") == "id-oos"],
                               lambda r: r["outcome"] == "refuse"),
        "ood_oos_recall": share([r for r in rows if r.get("source_label") == "ood-oos"],
                                lambda r: r["outcome"] == "refuse"),
        "mcc": open_set(rows)["mcc"],
    }
    return {k: round(v, 4) for k, v in figures.items()}


def banking77_forecast(report: dict[str, Any]) -> dict[str, float]:
    """The same three shares as onboarding forecast them by cross-validation on the pack's own tickets:
    in-scope accuracy on ``train`` + ``valid``, out-of-scope recall on the ID-OOS files and on ``ood_oos_valid``."""
    by_file = report["figures_by_tickets_file"]

    def pooled(names: list[str], figure: str) -> float:
        parts = [by_file[n][figure] for n in names if by_file.get(n, {}).get(figure, {}).get("value") is not None]
        total = sum(p["n"] for p in parts)
        return sum(p["value"] * p["n"] for p in parts) / total if total else float("nan")

    return {"in_scope_accuracy": round(pooled(["train.jsonl", "valid.jsonl"], "in_scope_accuracy"), 4),
            "id_oos_recall": round(pooled(["id_oos_train.jsonl", "id_oos_valid.jsonl"], "out_of_scope_recall"), 4),
            "ood_oos_recall": round(pooled(["ood_oos_valid.jsonl"], "out_of_scope_recall"), 4)}
