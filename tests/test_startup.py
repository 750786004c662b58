"""Start-up: the data directory is the user's (the same from every folder), and commands given bad input fail
before the index or any model is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import platformdirs
import pytest
from typer.testing import CliRunner

from bnpl_assistant import wiring
from bnpl_assistant.cli import app
from bnpl_assistant.settings import Settings, default_data_dir
from conftest import copy_of_built


@pytest.fixture
def user_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The platform's user data folder, pointed into tmp_path, with BNPL_DATA_DIR unset (the default)."""
    folder = tmp_path / "user-data" / "bnpl-assistant"
    seen: list[tuple[Any, ...]] = []

    def user_data_dir(*args: Any, **kwargs: Any) -> str:
        seen.append(args)
        return str(folder)

    monkeypatch.setattr(platformdirs, "user_data_dir", user_data_dir)
    monkeypatch.delenv("BNPL_DATA_DIR", raising=False)
    assert default_data_dir() == folder and seen[-1][0] == "bnpl-assistant"
    return folder


def test_the_default_data_directory_is_the_users_not_the_current_folder(
        user_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings().data_dir == user_data
    assert Settings().index_dir == user_data / "index" and Settings().cache_dir == user_data / "cache"
    monkeypatch.setenv("BNPL_DATA_DIR", str(tmp_path / "elsewhere"))
    assert Settings().data_dir == tmp_path / "elsewhere"


def test_help_says_where_the_data_lives(user_data: Path) -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    unwrapped = "".join(result.output.split())  # the help is wrapped to the terminal, a long path too
    assert str(user_data) in unwrapped and "BNPL_DATA_DIR" in unwrapped


def test_ask_from_another_folder_finds_the_index(built, user_data: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    copy_of_built(built, user_data)  # what `ingest` left in the user data folder
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(app, ["ask", "How much is the late fee if I pay an instalment late?"])
    assert result.exit_code == 0, result.output
    assert "[answer] topic=late-fees" in result.output and "source: en/" in result.output
    assert not (elsewhere / ".bnpl").exists() and list(elsewhere.iterdir()) == []


def _never_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the index and models were loaded before the input was checked")

    monkeypatch.setattr(wiring, "build_core", refuse)
    monkeypatch.setattr(wiring, "make_embedder", refuse)


def test_eval_with_a_missing_dataset_fails_before_loading_anything(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _never_build(monkeypatch)
    missing = tmp_path / "no-such.jsonl"
    result = CliRunner().invoke(app, ["eval", "--dataset", str(missing), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "cannot read dataset" in result.output and "no-such.jsonl" in result.output
    assert not (tmp_path / "out").exists()


def test_eval_with_a_malformed_dataset_fails_before_loading_anything(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _never_build(monkeypatch)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "language": "en", "message": "hi", "expected_topic": null, '
                   '"expected_outcome": "refuse"}\n{"id": "b", "language": "en", "message": "late fee?", '
                   '"expected_topic": "no-such-topic", "expected_outcome": "answer"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "--dataset", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "bad.jsonl:2" in result.output and "unknown expected_topic 'no-such-topic'" in result.output


def test_ask_with_a_malformed_knowledge_folder_fails_before_loading_anything(
        tiny_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model or the index was loaded before the knowledge base was checked")

    monkeypatch.setattr(wiring, "make_embedder", refuse)
    monkeypatch.setattr(wiring, "VectorStore", refuse)
    (tiny_kb / "en" / "late-fee.md").write_text("no front matter", encoding="utf-8")
    monkeypatch.setenv("BNPL_KNOWLEDGE_DIR", str(tiny_kb))
    result = CliRunner().invoke(app, ["ask", "how much is the late fee?"])
    assert result.exit_code == 1, result.output
    assert "late-fee.md" in result.output
