"""The shipped knowledge base is valid, and validation names file and line for each kind of problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnpl_assistant.cli import app
from bnpl_assistant.errors import DataError
from bnpl_assistant.kb.articles import parse_article
from bnpl_assistant.kb.topics import load_topics
from bnpl_assistant.kb.validate import check_knowledge, load_knowledge
from bnpl_assistant.languages import SUPPORTED as SUPPORTED_LANGUAGES
from conftest import KNOWLEDGE, write_article

REQUIRED_TOPICS = 38


def test_shipped_knowledge_base_is_complete() -> None:
    kb, problems = check_knowledge(KNOWLEDGE, SUPPORTED_LANGUAGES)
    assert problems == []
    assert kb is not None and len(kb.topics) == REQUIRED_TOPICS
    native = ("en", "de", "sv", "fr", "es", "nl")  # written natively; it and pl are answered in English
    per_lang = {lang: [a for a in kb.articles if a.language == lang] for lang in native}
    assert len(per_lang["en"]) >= 70 and all(len(arts) == len(per_lang["en"]) for arts in per_lang.values())
    for art in kb.articles:
        words = len(art.body.split())
        assert 80 <= words <= 400, f"{art.path}: {words} words"
    escalate = {t.id for t in kb.topics if t.outcome == "escalate"}
    assert escalate == {"unrecognized-purchase", "financial-hardship", "debt-collection", "bereavement",
                        "complaint"}
    assert all(kb.topics[t].team for t in escalate)


def test_a_missing_twin_in_any_native_language_fails_validation(tiny_kb: Path) -> None:
    write_article(tiny_kb, "sv", "late-fee", "late-fees", "En förseningsavgift på 7 EUR tas ut efter 10 dagar. " * 3)
    _, problems = check_knowledge(tiny_kb, SUPPORTED_LANGUAGES)
    assert {p.message for p in problems} == {"twin missing: no 'sv/refund-card.md'",
                                             "topic 'refund-timing' has no article in 'sv'"}


def test_bad_front_matter_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "en" / "x.md"
    path.parent.mkdir()
    path.write_text("---\nid: x\ntopic: late-fees\ntitle: [unclosed\nlanguage: en\n---\nbody\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        parse_article(path)
    assert (str(path) in str(err.value) and ":4:" in str(err.value)) or ":5:" in str(err.value)


def test_missing_field_and_unclosed_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\nid: a\ntopic: t\n---\nbody", encoding="utf-8")
    with pytest.raises(DataError, match="missing 'title'"):
        parse_article(path)
    path.write_text("---\nid: a\n", encoding="utf-8")
    with pytest.raises(DataError, match="not closed"):
        parse_article(path)


def test_cross_file_problems_are_all_reported(tiny_kb: Path) -> None:
    write_article(tiny_kb, "en", "orphan", "late-fees", "No German twin for this one. " * 5)
    write_article(tiny_kb, "en", "ghost", "no-such-topic", "Unknown topic here. " * 5)
    write_article(tiny_kb, "de", "ghost", "no-such-topic", "Unbekanntes Thema. " * 5)
    dup = write_article(tiny_kb, "en", "dup-copy", "late-fees", "Body. " * 5)
    dup.write_text(dup.read_text().replace("id: dup-copy", "id: late-fee"))
    _, problems = check_knowledge(tiny_kb, SUPPORTED_LANGUAGES)
    text = "\n".join(map(str, problems))
    assert "twin missing: no 'de/orphan.md'" in text
    assert "unknown topic 'no-such-topic'" in text
    assert "duplicate id 'late-fee'" in text
    assert all(p.line >= 1 and p.path for p in problems)
    with pytest.raises(DataError):
        load_knowledge(tiny_kb, SUPPORTED_LANGUAGES)


def test_topic_without_article_in_a_language(tiny_kb: Path) -> None:
    (tiny_kb / "topics.yaml").write_text((tiny_kb / "topics.yaml").read_text() +
                                         '  - {id: phishing, category: security, outcome: answer, scope: "x"}\n')
    _, problems = check_knowledge(tiny_kb, SUPPORTED_LANGUAGES)
    assert any("topic 'phishing' has no article in 'en'" in str(p) for p in problems)


def test_escalate_topic_needs_team(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text('topics:\n  - {id: a, category: c, outcome: escalate, scope: "x"}\n')
    with pytest.raises(DataError, match="must name its team"):
        load_topics(path)


def test_validate_cli(tiny_kb: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", "--knowledge", str(tiny_kb)])
    assert ok.exit_code == 0, ok.output
    write_article(tiny_kb, "en", "orphan", "late-fees", "No twin. " * 5)
    bad = runner.invoke(app, ["validate", "--knowledge", str(tiny_kb)])
    assert bad.exit_code == 1
    assert "orphan.md" in bad.output and "twin missing" in bad.output
