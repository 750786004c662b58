"""The README cannot go stale: its example outputs, quality numbers and client snippet come from real runs.

The example blocks and the quality block are what ``scripts/readme_examples.py`` writes; these tests run the
same functions against the session's index and eval results and compare.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import EXTERNAL, EXTERNAL_MISSING, REPO

README = REPO / "README.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_examples", REPO / "scripts" / "readme_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("readme_examples", module)
    spec.loader.exec_module(module)
    return module


examples = _script()


def test_readme_examples_are_real_output(built) -> None:  # type: ignore[no-untyped-def]
    readme = README.read_text(encoding="utf-8")
    commands = examples.example_commands(readme)
    assert {c.split()[0] for c in commands} >= {"validate", "ask", "handoffs"}
    real = examples.run_examples(commands, built[0].data_dir)
    for command, written, ran in zip(commands, examples.readme_blocks(readme), real, strict=True):
        assert examples.same_example(written, ran), \
            f"README example `{command}` is stale (run python scripts/readme_examples.py):\n{ran}"


def test_examples_show_the_tickets_they_create() -> None:
    # The ask examples hand off for real: the handoffs example lists the ticket the ask before it opened.
    readme = README.read_text(encoding="utf-8")
    pairs = list(zip(examples.example_commands(readme), examples.readme_blocks(readme), strict=True))
    opened = re.findall(r"ticket=(HND-\d+)", "\n".join(b for c, b in pairs if c.startswith("ask")))
    listed = [b for c, b in pairs if c.startswith("handoffs")]
    assert opened and listed and all(f"│ {t} │" in listed[-1] for t in opened)


def test_check_mode_fails_on_a_stale_example(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    readme = tmp_path / "README.md"
    readme.write_text('x\n<!-- example: validate -->\n```text\n$ bnpl-assistant validate\nok: 1 topic\n```\n'
                      "<!-- /example -->\n", encoding="utf-8")
    args = ["--readme", str(readme), "--data-dir", str(built[0].data_dir), "--eval", str(tmp_path / "none")]
    assert examples.main([*args, "--check"]) == 1
    assert examples.main(args) == 0
    assert examples.main([*args, "--check"]) == 0
    assert "$ bnpl-assistant validate\nok: " in readme.read_text(encoding="utf-8")


# -- quality numbers -------------------------------------------------------------------------------------


def test_quality_rows_are_this_versions_eval(eval_results) -> None:  # type: ignore[no-untyped-def]
    block = examples.readme_quality(README.read_text(encoding="utf-8")).splitlines()
    for name in ("dev", "accounts", "redteam"):
        for row in examples.dataset_rows(name, eval_results[name][1]):
            assert any(examples.same_quality(line, row) for line in block), \
                f"README quality row for {name} is stale (run the eval and scripts/readme_examples.py): {row}"


@pytest.mark.skipif(not EXTERNAL.exists(), reason=EXTERNAL_MISSING)
def test_quality_block_is_this_versions_eval(eval_results) -> None:  # type: ignore[no-untyped-def]
    computed = examples.quality_block({name: eval_results[name][1] for name in examples.DATASETS})
    written = examples.readme_quality(README.read_text(encoding="utf-8"))
    assert examples.same_quality(written, computed), f"README quality block is stale; this version's:\n{computed}"


def test_tolerances_are_narrow() -> None:
    row = "| dev (334) | 0.950 [0.921, 0.975] | 0.982 |"
    assert examples.same_quality(row, "| dev (334) | 0.954 [0.921, 0.975] | 0.982 |")
    assert not examples.same_quality(row, "| dev (334) | 0.956 [0.921, 0.975] | 0.982 |")
    assert not examples.same_quality(row, "| dev (335) | 0.950 [0.921, 0.975] | 0.982 |")
    line = "[answer] topic=report-return lang=en confidence=0.50 model=offline"
    assert examples.same_example(line, line.replace("0.50", "0.51"))
    assert not examples.same_example(line, line.replace("0.50", "0.52"))
    assert not examples.same_example(line, line.replace("report-return", "refund-timing"))


# -- the gradio_client snippet ---------------------------------------------------------------------------


def _python_snippets(readme: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme, re.DOTALL)


@pytest.fixture
def page_url(core, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The page on 127.0.0.1, on the session's core with a fresh demo database."""
    from bnpl_assistant.ui.app import build_app
    from bnpl_assistant.wiring import assemble
    from servers import free_port

    desk = assemble(core, db_path=tmp_path / "bnpl.sqlite3").desk(tmp_path / "eval", tmp_path / "deflection")
    app = build_app(desk, core.settings)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


def test_gradio_client_snippets_print_the_reply_text(page_url: str) -> None:
    snippets = _python_snippets(README.read_text(encoding="utf-8"))
    assert len(snippets) == 2
    out = io.StringIO()
    scope: dict[str, Any] = {}
    with contextlib.redirect_stdout(out):
        for code in snippets:
            exec(code.replace("http://127.0.0.1:7860/", page_url), scope)
    printed = out.getvalue()
    assert "3-5 business days" in printed and "5-7 business days" in printed and "Answered" in printed
    assert "7 EUR" in printed  # the German late-fee question, through submit()
    assert "{'" not in printed and "'type'" not in printed  # text, not the list of message parts
