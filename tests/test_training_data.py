"""No classifier training message is a copy or a near-copy of an evaluation message.

The training messages are everything the demo pack's classifiers learn from (its tickets, its articles' titles
and questions, the engine's gate examples); the evaluation messages are every message of the project's own
suites (``evals/*.jsonl``, conversations turn by turn) and of the public external suite when it is beside the
repository. Two messages are near-copies when their word sets overlap by ``NEAR_COPY`` or more (Jaccard): a
training message that close to a test message turns the test into a memory check.
"""

from __future__ import annotations

import json
import re

from bnpl_assistant.kb.validate import load_knowledge
from bnpl_assistant.settings import Settings
from bnpl_assistant.wiring import pack_exemplars
from conftest import EXTERNAL, KNOWLEDGE, REPO

NEAR_COPY = 0.8
_WORD = re.compile(r"\w+")


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def _evaluation_messages() -> list[tuple[str, str]]:
    files = sorted((REPO / "evals").glob("*.jsonl")) + ([EXTERNAL] if EXTERNAL.exists() else [])
    out: list[tuple[str, str]] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            out.extend((f"{path.name}:{row.get('id')}", text) for text in row.get("turns") or [row.get("message")]
                       if text)
    return out


def near_copies(training: list[str], evaluation: list[tuple[str, str]], limit: float) -> list[str]:
    """``training`` messages whose word sets overlap an evaluation message's by ``limit`` or more."""
    by_word: dict[str, list[int]] = {}
    eval_words = [_words(text) for _, text in evaluation]
    for k, words in enumerate(eval_words):
        for word in words:
            by_word.setdefault(word, []).append(k)
    found = []
    for text in training:
        words = _words(text)
        candidates = {k for word in words for k in by_word.get(word, ())}
        for k in sorted(candidates):
            other = eval_words[k]
            if len(words & other) / len(words | other) >= limit:
                found.append(f"{text!r} ~ {evaluation[k][0]} {evaluation[k][1]!r}")
    return found


def test_near_copies_are_found() -> None:
    evaluation = [("dev:1", "How much is the late fee exactly?"), ("dev:2", "Wie ändere ich meine E-Mail?")]
    assert near_copies(["how much is the late fee exactly", "what does a late payment cost"], evaluation, 0.8) == [
        "'how much is the late fee exactly' ~ dev:1 'How much is the late fee exactly?'"]
    assert near_copies(["how much is the late fee"], evaluation, 0.8)  # 6 of 7 words
    assert not near_copies(["wie ändere ich meine Adresse"], evaluation, 0.8)  # 4 of 6


def test_no_training_message_is_a_near_copy_of_an_evaluation_message() -> None:
    settings = Settings(knowledge_dir=KNOWLEDGE)
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    training = [e.text for e in pack_exemplars(settings, kb)]
    evaluation = _evaluation_messages()
    assert len(training) > 5000 and len(evaluation) > 800
    copies = near_copies(training, evaluation, NEAR_COPY)
    assert not copies, "\n".join(copies)
