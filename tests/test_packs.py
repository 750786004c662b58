"""Operator packs: validation of every input kind, an onboarding round trip on a small pack written here
(HTML + Markdown help center, CSV tickets), the report and forecast, and ``--pack`` / ``BNPL_PACK`` switching
the commands."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnpl_assistant.cli import app, hoist_pack
from bnpl_assistant.errors import DataError
from bnpl_assistant.packs.onboard import onboard
from bnpl_assistant.packs.pack import load_pack
from bnpl_assistant.packs.tickets import read_tickets
from conftest import KNOWLEDGE

TOPICS = {
    "lost-card": ["i lost my card", "my card is gone, what do i do", "can't find my card anywhere",
                  "card lost yesterday help", "someone stole my card", "i think i dropped my card on the bus",
                  "how do i freeze a lost card", "lost card, need to block it", "my wallet with the card was stolen",
                  "lost my debit card abroad", "block my lost card please", "my purse got stolen with the card"],
    "card-delivery": ["when will my new card arrive", "my card hasn't come in the post", "how long for card delivery",
                      "still waiting for my card", "track my card delivery", "new card not delivered yet",
                      "card delivery time?", "when does the replacement card get here", "is my card in the mail",
                      "how many days until my card comes", "card still not here after a week",
                      "the postman never brought my card"],
    "refund": ["how long does a refund take", "when do i get my money back", "refund not received yet",
               "shop refunded me but nothing arrived", "refund timing", "how many days for a refund",
               "where is my refund", "refund still pending", "money back from the store when",
               "waiting on a refund for days", "refund to my account how long",
               "the merchant says refunded, when will i see it"],
    "out_of_scope": ["what's the weather tomorrow", "tell me a joke", "recipe for pancakes",
                     "who won the football game", "how tall is mount everest", "play some music",
                     "book a flight to rome", "what time is it in tokyo", "translate hello to french",
                     "best pizza near me", "set an alarm for 7", "how do i learn guitar"],
    "handoff": ["i want to talk to a person", "connect me to a human agent", "can i speak to someone",
                "get me a real person please", "human please", "i need a person not a bot",
                "transfer me to an agent", "let me talk to staff"],
}
HTML = """<html lang="en"><head><title>Lost card | Help</title><style>.x{color:red}</style>
<script>var tracking = 1;</script></head><body><nav>Home | Cards | Payments</nav><main><h1>I lost my card</h1>
<p>Freeze the card in the app under Cards &gt; Freeze. Order a replacement from the same screen; it arrives in
5 working days.</p></main><footer>(c) Example Bank</footer></body></html>"""
DELIVERY = ("# When will my new card arrive?\n\nNew cards arrive within 5 working days. Track them under "
            "Cards > Delivery.\n")
REFUND = ("---\ntitle: How long does a refund take?\n---\nRefunds reach your account within 3 to 5 working days "
          "after the shop confirms them.\n")


def write_help_center(root: Path) -> Path:
    for folder, name, text in (("lost-card", "lost.html", HTML), ("card-delivery", "delivery.md", DELIVERY),
                               ("refund", "refund.md", REFUND)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_text(text, encoding="utf-8")
    return root


def write_tickets(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label", "language"])
        for label, texts in TOPICS.items():
            writer.writerows([text, label, "en"] for text in texts)
    return path


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(autouse=True, scope="module")
def demo_lines_restored() -> Iterator[None]:
    """Reply lines follow the last pack a process loaded; the other test modules expect the demo pack's."""
    yield
    from bnpl_assistant.answer import templates

    templates.use_pack(load_pack(KNOWLEDGE))


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """The small pack, onboarded once (index, classifier, thresholds, report) into its own data directory."""
    root = tmp_path_factory.mktemp("pack")
    docs = write_help_center(root / "export")
    tickets = write_tickets(root / "tickets.csv")
    pack, data = root / "examplebank", root / "data"
    report = onboard(pack, docs, [tickets], monthly_contacts=20000, data_dir=data)
    return pack, data, report


# -- validation -------------------------------------------------------------------------------------------

def test_a_folder_without_pack_yaml_is_not_a_pack(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"not a pack: pack\.yaml is missing"):
        load_pack(tmp_path)


@pytest.mark.parametrize(("content", "message"), [
    ("name: Bad Name!\n", r"pack.yaml: 'name' must be"),
    ("name: ok\nlanguages: [en, xx]\n", r"unsupported languages \['xx'\]"),
    ("name: ok\nlanguages: [en]\nfallback_language: de\n", "fallback_language 'de' is not among"),
    ("name: ok\nsupport_hours: {hours: 'mon-fri 09:00-25:00'}\n", "not HH:MM within a day"),
    ("name: ok\nsupport_hours: {timezone: Mars/Olympus}\n", "unknown time zone"),
    ("name: ok\nlanguages: [en\n", "invalid YAML"),
])
def test_pack_yaml_errors_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "pack.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as caught:
        load_pack(tmp_path)
    assert caught.value.path == str(tmp_path / "pack.yaml")


@pytest.mark.parametrize(("name", "content", "message", "line"), [
    ("t.jsonl", '{"text": "hi", "label": "refund"}\n{"text": "x", "label": "nope"}\n', "unknown label 'nope'", 2),
    ("t.jsonl", '{"text": "hi", "label": "refund"}\n\n{"text": "  ", "label": "refund"}\n', "empty 'text'", 3),
    ("t.jsonl", '{"text": "hi", "label": "refund"}\n{"text": "hi", "label": \n', "malformed JSON", 2),
    ("t.jsonl", '["text", "label"]\n', "JSON object", 1),
    ("t.csv", "text,label\nhello,refund\nbye,\n", "empty 'label'", 3),
    ("t.csv", "message,topic\nhello,refund\n", "needs a header with 'text' and 'label'", 1),
])
def test_ticket_errors_name_file_and_line(tmp_path: Path, name: str, content: str, message: str, line: int) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as caught:
        read_tickets([path], {"refund"})
    assert caught.value.path == str(path) and caught.value.line == line


def test_binary_and_non_utf8_tickets_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "t.csv"
    binary.write_bytes(b"text,label\n\x00\x01\x02")
    with pytest.raises(DataError, match="binary file"):
        read_tickets([binary], None)
    latin = tmp_path / "u.csv"
    latin.write_bytes("text,label\nr\xe9sum\xe9,refund\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_tickets([latin], None)


def test_onboarding_refuses_bad_input_and_keeps_the_pack(onboarded: tuple[Path, Path, dict], tmp_path: Path) -> None:
    pack, data, _ = onboarded
    before = tree_digest(pack)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "label": "refund"}\n{"text": "", "label": "refund"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:2: empty 'text'"):
        onboard(pack, None, [bad], data_dir=data)
    export = tmp_path / "export"
    export.mkdir()
    (export / "a.md").write_text("# A title\n\n   \n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a\.md"):
        onboard(pack, export, [], data_dir=data)
    (export / "a.md").write_text("# A\n\nSome text.\n", encoding="utf-8")
    (export / "b.json").write_text('[{"id": "a", "title": "B", "text": "x"}]', encoding="utf-8")
    with pytest.raises(DataError, match="duplicate"):
        onboard(pack, export, [], data_dir=data)
    binary = tmp_path / "blob.md"
    binary.write_bytes(b"\x89PNG\x00\x00")
    with pytest.raises(DataError, match=r"blob\.md"):
        onboard(pack, binary, [], data_dir=data)
    assert tree_digest(pack) == before  # nothing already built or written was touched


def test_a_pack_with_nothing_to_build_from_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no tickets and no articles"):
        onboard(tmp_path / "empty", None, [], data_dir=tmp_path / "data")
    assert not any((tmp_path / "empty").iterdir())


# -- the round trip -----------------------------------------------------------------------------------------

def test_onboarding_writes_a_valid_pack(onboarded: tuple[Path, Path, dict]) -> None:
    pack, _, _ = onboarded
    loaded = load_pack(pack)
    assert loaded.name == "examplebank" and loaded.languages == ("en",)
    articles = sorted(p.relative_to(pack).as_posix() for p in (pack / "articles").rglob("*.md"))
    assert len(articles) == 3 and all(a.startswith("articles/en/") for a in articles)
    lost = next((pack / "articles" / "en").glob("*lost*.md")).read_text(encoding="utf-8")
    assert "title: I lost my card" in lost and "Cards > Freeze" in lost
    assert "tracking" not in lost and "Home | Cards" not in lost and "(c) Example" not in lost  # chrome stripped
    topics = (pack / "topics.yaml").read_text(encoding="utf-8")
    assert all(f"id: {t}" in topics for t in ("lost-card", "card-delivery", "refund"))
    assert "out_of_scope" not in topics and "id: handoff" not in topics
    assert (pack / "tickets" / "tickets.csv").is_file() and (pack / "thresholds.yaml").is_file()


def test_report_is_present_and_consistent(onboarded: tuple[Path, Path, dict]) -> None:
    pack, _, report = onboarded
    stored = json.loads((pack / "onboarding.json").read_text(encoding="utf-8"))
    assert stored["figures"] == report["figures"]
    n_tickets = sum(len(v) for v in TOPICS.values())
    figures = stored["figures"]
    assert stored["pack"]["tickets"] == n_tickets
    assert figures["in_scope_accuracy"]["n"] == 36 and figures["out_of_scope_recall"]["n"] == 12
    assert figures["escalation_recall"]["n"] == 8 and figures["resolution"]["n"] == n_tickets
    for fig in figures.values():
        assert fig["low"] <= fig["value"] <= fig["high"]
    # a classifier that learnt something: far above chance (1 in 3 topics) on tickets it never saw
    assert figures["in_scope_accuracy"]["value"] >= 0.7 and figures["out_of_scope_recall"]["value"] >= 0.5
    forecast = stored["forecast"]
    assert forecast["monthly_contacts"] == 20000 and forecast["resolution"] == figures["resolution"]
    fte = forecast["fte_deflected"]
    assert 0 < fte["low"] <= fte["value"] <= fte["high"] < forecast["fte_baseline"]
    thresholds = (pack / "thresholds.yaml").read_text(encoding="utf-8")
    assert f"offtopic: {stored['thresholds']['offtopic']}" in thresholds
    markdown = (pack / "onboarding.md").read_text(encoding="utf-8")
    assert "in-scope accuracy" in markdown and "FTE-equivalent deflection" in markdown
    assert {t["topic"]: t["tickets"] for t in stored["per_topic"]} == {"card-delivery": 12, "lost-card": 12,
                                                                       "refund": 12}


def test_the_onboarded_pack_answers_from_its_own_articles(onboarded: tuple[Path, Path, dict],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pack, data, _ = onboarded
    monkeypatch.setenv("BNPL_DATA_DIR", str(data))
    runner = CliRunner()
    answer = runner.invoke(app, ["--pack", str(pack), "ask", "--json", "my card was stolen from my bag"])
    assert answer.exit_code == 0, answer.output
    reply = json.loads(answer.output)
    assert reply["outcome"] == "answer" and reply["topic"] == "lost-card"
    assert "Cards > Freeze" in reply["text"] and reply["sources"][0]["id"].startswith("lost-card")
    refused = json.loads(runner.invoke(app, ["--pack", str(pack), "ask", "--json", "what's a good pasta recipe"]
                                       ).output)
    assert refused["outcome"] == "refuse"
    person = json.loads(runner.invoke(app, ["--pack", str(pack), "ask", "--json", "let me speak to a human"]).output)
    assert person["outcome"] == "escalate" and "mon-fri 09:00-17:00, UTC" in person["text"]  # the pack's hours


# -- switching packs ----------------------------------------------------------------------------------------

def test_pack_option_is_read_before_or_after_the_command() -> None:
    assert hoist_pack(["ask", "--pack", "p", "hi"]) == ["--pack", "p", "ask", "hi"]
    assert hoist_pack(["eval", "--pack=p", "--dataset", "d"]) == ["--pack=p", "eval", "--dataset", "d"]
    assert hoist_pack(["ask", "--", "--pack"]) == ["ask", "--", "--pack"]


def test_every_command_follows_the_pack(onboarded: tuple[Path, Path, dict], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """validate, ingest, ask, eval, handoffs and the page read the pack BNPL_PACK names, and keep their built
    files apart from the demo pack's."""
    pack, data, _ = onboarded
    monkeypatch.setenv("BNPL_DATA_DIR", str(data))
    monkeypatch.setenv("BNPL_PACK", str(pack))
    runner = CliRunner()
    validated = runner.invoke(app, ["validate"])
    assert validated.exit_code == 0 and "3 topics" in validated.output
    ingested = runner.invoke(app, ["ingest"])
    assert ingested.exit_code == 0 and "unchanged" in ingested.output and "bnpl-kb-examplebank" in ingested.output
    dataset = tmp_path / "set.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in [
        {"id": "1", "language": "en", "message": "where is the money from my refund", "expected_topic": "refund",
         "expected_outcome": "answer"},
        {"id": "2", "language": "en", "message": "what is the capital of peru", "expected_topic": None,
         "expected_outcome": "refuse"}]) + "\n", encoding="utf-8")
    evaluated = runner.invoke(app, ["eval", "--dataset", str(dataset), "--out", str(tmp_path / "out")])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads((tmp_path / "out" / "set" / "metrics.json").read_text(encoding="utf-8"))
    open_set = metrics["overall"]["open_set"]
    assert open_set["n_in_scope"] == 1 and open_set["n_out_of_scope"] == 1
    demo_topic = dataset.with_name("demo.jsonl")
    demo_topic.write_text(json.dumps({"id": "3", "language": "en", "message": "x", "expected_topic": "late-fees",
                                      "expected_outcome": "answer"}) + "\n", encoding="utf-8")
    wrong = runner.invoke(app, ["eval", "--dataset", str(demo_topic), "--out", str(tmp_path / "out2")])
    assert wrong.exit_code != 0 and "late-fees" in wrong.output  # the demo pack's topic is not this pack's
    listed = runner.invoke(app, ["handoffs", "--open", "--json"]).output  # "no hand-off tickets yet" or a list
    before = json.loads(listed) if listed.lstrip().startswith("[") else []
    runner.invoke(app, ["ask", "connect me to a human agent"])
    handoffs = runner.invoke(app, ["handoffs", "--open", "--json"])
    assert handoffs.exit_code == 0 and len(json.loads(handoffs.output)) == len(before) + 1
    assert (data / "packs" / "examplebank" / "bnpl.sqlite3").is_file() and not (data / "bnpl.sqlite3").exists()

    from bnpl_assistant.settings import Settings
    from bnpl_assistant.ui.app import build_app
    from bnpl_assistant.wiring import build

    settings = Settings()
    components = build(settings)
    page = build_app(components.desk(), settings, components.agent_desk())
    assert page.title == "examplebank support assistant"


def test_a_help_center_without_tickets_is_built_but_not_forecast(onboarded: tuple[Path, Path, dict],
                                                                   tmp_path: Path) -> None:
    _, data, _ = onboarded
    docs = write_help_center(tmp_path / "export")
    report = onboard(tmp_path / "docsonly", docs, [], monthly_contacts=1000, data_dir=data)
    assert report["figures"] == {} and report["forecast"] is None and report["pack"]["articles"] == 3
    assert "no cross-validated figures" in report["warnings"][0]
    assert "(no tickets)" in (tmp_path / "docsonly" / "onboarding.md").read_text(encoding="utf-8")
