"""Cross-file checks of the knowledge base. Every problem names its file and line."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bnpl_assistant.errors import DataError
from bnpl_assistant.kb.articles import Article, article_files, parse_article
from bnpl_assistant.kb.topics import TopicCatalog, load_topics


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class KnowledgeBase:
    topics: TopicCatalog
    articles: list[Article]


def check_knowledge(knowledge_dir: Path, languages: tuple[str, ...]) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Load the knowledge base and collect every problem instead of stopping at the first."""
    try:
        topics = load_topics(knowledge_dir / "topics.yaml")
    except DataError as exc:
        return None, [Problem(exc.path or str(knowledge_dir), exc.line or 1, str(exc).split(": ", 1)[-1])]
    articles, problems = _parse_all(knowledge_dir)
    seen: dict[tuple[str, str], Article] = {}
    by_lang_topic: dict[str, set[str]] = defaultdict(set)
    ids_by_lang: dict[str, set[str]] = defaultdict(set)
    for art in articles:
        problems.extend(_article_problems(art, languages, topics, seen))
        seen[(art.language, art.id)] = art
        by_lang_topic[art.language].add(art.topic)
        ids_by_lang[art.language].add(art.id)
    kb_languages = sorted(ids_by_lang)
    problems.extend(_uncovered_topics(knowledge_dir, topics, kb_languages, by_lang_topic))
    for art in articles:
        problems.extend(_twin_problems(art, kb_languages, ids_by_lang, seen))
    problems.sort(key=lambda p: (p.path, p.line, p.message))
    return KnowledgeBase(topics, articles), problems


def _parse_all(knowledge_dir: Path) -> tuple[list[Article], list[Problem]]:
    """Every article that parses (drafts left out: they wait for a person), and one problem for each that does
    not parse."""
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in article_files(knowledge_dir):
        try:
            article = parse_article(path)
            if not article.draft:
                articles.append(article)
        except DataError as exc:
            problems.append(Problem(str(path), exc.line or 1, str(exc).split(": ", 2)[-1]))
    return articles, problems


def _article_problems(art: Article, languages: tuple[str, ...], topics: TopicCatalog,
                      seen: dict[tuple[str, str], Article]) -> list[Problem]:
    """The checks of one article on its own: language, folder, file name, topic, and a duplicate id."""
    path = str(art.path)
    problems: list[Problem] = []
    if art.language not in languages:
        problems.append(Problem(path, _line_of(art.path, "language"),
                                f"language '{art.language}' is not supported {languages}"))
    if art.path.parent.name != art.language:
        problems.append(Problem(path, _line_of(art.path, "language"),
                                f"language '{art.language}' does not match folder '{art.path.parent.name}'"))
    if art.path.stem != art.id:
        problems.append(Problem(path, _line_of(art.path, "id"), f"id '{art.id}' does not match the file name"))
    if art.topic not in topics:
        problems.append(Problem(path, _line_of(art.path, "topic"), f"unknown topic '{art.topic}'"))
    key = (art.language, art.id)
    if key in seen:
        problems.append(Problem(path, _line_of(art.path, "id"),
                                f"duplicate id '{art.id}' (also in {seen[key].path})"))
    return problems


def _uncovered_topics(knowledge_dir: Path, topics: TopicCatalog, kb_languages: list[str],
                      by_lang_topic: dict[str, set[str]]) -> list[Problem]:
    """One problem for each topic without an article in one of the knowledge base's languages. A topic that
    has no article at all is allowed when it says so: ``intent_only: true`` (an intent known from labelled
    tickets: it answers with its short ``answer`` or goes to a person) or an ``answer`` of its own."""
    return [Problem(str(knowledge_dir / "topics.yaml"), 1, f"topic '{topic.id}' has no article in '{lang}'")
            for lang in kb_languages for topic in topics
            if topic.id not in by_lang_topic[lang] and not (topic.intent_only or topic.answer)]


def _twin_problems(art: Article, kb_languages: list[str], ids_by_lang: dict[str, set[str]],
                   seen: dict[tuple[str, str], Article]) -> list[Problem]:
    """Twins missing in other languages, and a twin (in the first language) filed under another topic."""
    problems = [Problem(str(art.path), _line_of(art.path, "id"), f"twin missing: no '{other}/{art.id}.md'")
                for other in kb_languages if other != art.language and art.id not in ids_by_lang[other]]
    twin = seen.get((kb_languages[0], art.id)) if kb_languages else None
    if twin is not None and twin.topic != art.topic:
        problems.append(Problem(str(art.path), _line_of(art.path, "topic"),
                                f"twin {twin.key} has topic '{twin.topic}', this one '{art.topic}'"))
    return problems


def load_knowledge(knowledge_dir: Path, languages: tuple[str, ...]) -> KnowledgeBase:
    """Load the knowledge base or raise on the first problem (with file and line)."""
    kb, problems = check_knowledge(knowledge_dir, languages)
    if problems or kb is None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more; run `bnpl-assistant validate`)" if len(problems) > 1 else ""
        raise DataError(first.message + more, first.path, first.line)
    return kb


def _line_of(path: Path, key: str) -> int:
    try:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.startswith(f"{key}:"):
                return i
    except (OSError, UnicodeDecodeError):
        pass
    return 1
