"""Content gaps: ``bnpl-assistant gaps --since 30d --out DIR``. The questions the assistant did not resolve,
grouped into clusters of the same need, each with what to write next.

Unresolved: a customer message whose turn was refused as low-confidence or out-of-scope (in-domain-looking: not
an attack, off-topic or greeting refusal), got a thumbs-down, handed the conversation to a person, or whose
hand-off ticket the customer reopened. The messages' e5 query vectors are clustered by scikit-learn's
agglomerative clustering (average linkage, cosine distance, cut at ``DISTANCE``), so the number of clusters comes
from the data. Raw e5 vectors of short support questions are dominated by what every such question shares
("how do I pay ..."): two different needs in the same frame sit closer than one need in two frames. So the
vectors are first post-processed "all-but-the-top" (Mu & Viswanath, ICLR 2018): the mean and the top
``TOP_COMPONENTS`` principal directions of the pack's own training messages are removed, which leaves what
tells needs apart. (On planted clusters written for this: adjusted Rand index 0.29-0.54 on raw vectors, 0.84-1.0
after; tested.) For each cluster of at least ``MIN_SIZE``: its size and trend (first half of the window against the
second), three redacted wordings nearest its centre, the nearest article passage with its cosine similarity, and
a suggested action from that similarity (``ACTIONS``). Where agents answered those conversations, an article
skeleton is drafted from their replies (extractive: their sentences, deduplicated) and written into the pack as
``<articles>/<lang>/draft-<slug>.md`` with ``draft: true`` in its front matter: never loaded or indexed until a
person edits it and removes that line.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bnpl_assistant.analytics.logfile import read_log
from bnpl_assistant.analytics.outcomes import reason_category
from bnpl_assistant.errors import BnplError
from bnpl_assistant.redact import redact
from bnpl_assistant.storage import LoggedTurn, read_only, read_reopened_tickets, read_turns

DISTANCE = 0.7  # cosine distance (of the post-processed vectors) at which clusters stop merging
TOP_COMPONENTS = 4
MIN_SIZE = 2
IN_DOMAIN_REFUSALS = ("low-confidence", "out-of-scope")
# What to do, from the evidence. A cluster that was mostly *answered* on one topic and still not resolved
# (thumbs-down, reopened): extend that topic's article. Otherwise the similarity of its centre to the nearest
# passage decides, a weak signal with e5-small (measured: the best passage of answerable dev questions has median
# cosine 0.891, of needs the knowledge base does not cover 0.858, with much overlap): a starting point for a person.
EXTEND = "extend article {article}: customers were answered from it (topic {topic}) and not helped"
ACTIONS = ((0.90, "add examples to topic {topic}: its article {article} is close, the wording was not recognised"),
           (0.0, "new article: nothing in the knowledge base is close (nearest {article})"))


@dataclass(frozen=True)
class Unresolved:
    text: str
    language: str
    at: str
    conversation_id: str
    why: str  # refused | thumbs-down | handed off | reopened
    topic: str | None


@dataclass
class Gap:
    size: int
    first_half: int
    second_half: int
    examples: list[str]
    why: dict[str, int]
    languages: dict[str, int]
    nearest_topic: str | None
    nearest_article: str | None
    similarity: float
    action: str
    conversations: list[str] = field(default_factory=list)
    draft: str | None = None  # the draft article written for it, when agents answered

    @property
    def trend(self) -> str:
        if self.second_half > self.first_half:
            return "rising"
        return "falling" if self.second_half < self.first_half else "flat"


def unresolved_messages(db_path: Path | str, since: str | None) -> list[Unresolved]:
    """The unresolved customer messages of the log from ``since`` on (see the module docstring)."""
    with read_log(db_path, "run the assistant first") as conn:
        turns = read_turns(conn, since)
        reopened = read_reopened_tickets(conn)
    out = []
    previous: dict[str, LoggedTurn] = {}  # conversation id -> its last turn with a customer message
    taken: set[int] = set()
    for t in turns:
        why = None
        asked = t.outcome == "escalate" and reason_category(t.reason) == "asked for a person"
        if t.outcome == "escalate" and t.ticket in reopened:
            why = "reopened"
        elif t.outcome == "escalate" and reason_category(t.reason) not in ("asked for a person", "escalation topic"):
            why = "handed off"  # escalation topics go to people by design: not a gap in the content
        elif t.feedback == -1:
            why = "thumbs-down"
        elif t.outcome == "refuse" and t.reason in IN_DOMAIN_REFUSALS:
            why = "refused"
        source: LoggedTurn | None = t
        if asked:  # "a person, please" (or the button): the question before it is what went unanswered
            source, why = previous.get(t.conversation_id), why or "handed off"
        if why and source is not None and source.message.strip() and source.id not in taken:
            taken.add(source.id)  # one message once, however many signals it got
            out.append(Unresolved(redact(source.message), source.language, t.created_at, t.conversation_id, why,
                                  source.topic))
        if t.message.strip() and not asked:
            previous[t.conversation_id] = t
    return out


def cluster(vectors: np.ndarray, distance: float = DISTANCE) -> np.ndarray:
    """A cluster label per row (agglomerative, average linkage, cosine distance cut at ``distance``)."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=int)
    if len(vectors) == 1:
        return np.zeros(1, dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average")
    return np.asarray(model.fit_predict(vectors))


def common_directions(reference: np.ndarray, k: int = TOP_COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the top ``k`` principal directions of ``reference`` (unit rows)."""
    ref = _unit(np.asarray(reference, dtype=np.float64))
    mean = ref.mean(axis=0)
    _, _, vt = np.linalg.svd(ref - mean, full_matrices=False)
    return mean, vt[:k]


def remove_common(vectors: np.ndarray, mean: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``vectors`` (made unit) minus ``mean`` and their projection on ``directions``."""
    x = _unit(np.asarray(vectors, dtype=np.float64)) - mean
    return x - (x @ directions.T) @ directions


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def find_gaps(items: list[Unresolved], vectors: np.ndarray, passages: list[tuple[str, str, np.ndarray]],
              since: str | None, until: str, reference: np.ndarray | None = None, distance: float = DISTANCE,
              min_size: int = MIN_SIZE) -> list[Gap]:
    """Clusters of ``items`` (``vectors``: their query vectors; ``reference``: the pack's training messages'
    vectors, whose common directions are removed first) with the nearest of ``passages`` ((article key, topic,
    passage vector)), largest first."""
    features = vectors
    if reference is not None and len(reference) > TOP_COMPONENTS and len(vectors):
        features = remove_common(vectors, *common_directions(reference))
    labels = cluster(features, distance)
    raw = _unit(np.asarray(vectors, dtype=np.float32)) if len(items) else np.zeros((0, 1))
    unit = _unit(np.asarray(features, dtype=np.float64)) if len(items) else np.zeros((0, 1))
    passage_matrix = _unit(np.stack([v for _, _, v in passages]).astype(np.float32)) if passages else None
    start = min((i.at for i in items), default=until) if since is None else since
    middle = _middle(start, until)
    gaps = []
    for label in sorted(set(labels.tolist())):
        members = [k for k, lab in enumerate(labels) if lab == label]
        if len(members) < min_size:
            continue
        centre = _unit(unit[members].mean(axis=0))
        nearest = np.argsort(-(unit[members] @ centre))
        examples: list[str] = []
        for k in nearest:
            text = items[members[int(k)]].text
            if text not in examples:
                examples.append(text)
            if len(examples) == 3:
                break
        raw_centre = _unit(raw[members].mean(axis=0))
        answered = Counter(items[m].topic for m in members
                           if items[m].topic and items[m].why in ("thumbs-down", "reopened"))
        answered_topic, count = answered.most_common(1)[0] if answered else (None, 0)
        topic = article = None
        similarity = 0.0
        if passage_matrix is not None:
            scores = passage_matrix @ raw_centre
            if answered_topic and count * 2 >= len(members):  # the nearest passage of the topic it was given
                scores = np.where([t == answered_topic for _, t, _ in passages], scores, -1.0)
            best = int(np.argmax(scores))
            article, topic, similarity = passages[best][0], passages[best][1], float(scores[best])
        if answered_topic and count * 2 >= len(members):
            action = EXTEND.format(topic=answered_topic, article=article)
        else:
            action = next(a for floor, a in ACTIONS if similarity >= floor).format(topic=topic, article=article)
        gaps.append(Gap(
            size=len(members), first_half=sum(items[m].at < middle for m in members),
            second_half=sum(items[m].at >= middle for m in members), examples=examples,
            why=dict(Counter(items[m].why for m in members)),
            languages=dict(Counter(items[m].language for m in members)),
            nearest_topic=topic, nearest_article=article, similarity=round(similarity, 3), action=action,
            conversations=sorted({items[m].conversation_id for m in members})))
    return sorted(gaps, key=lambda g: (-g.size, g.examples[0]))


def _middle(start: str, end: str) -> str:
    try:
        a, b = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
    except ValueError:
        return end
    return (a + (b - a) / 2).isoformat(timespec="milliseconds")


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def agent_replies(db_path: Path | str, conversation_ids: list[str]) -> dict[str, list[str]]:
    """What agents wrote in each of ``conversation_ids`` (redacted)."""
    wanted = set(conversation_ids)
    out: dict[str, list[str]] = defaultdict(list)
    with read_only(db_path) as conn:
        for cid, text in conn.execute("SELECT conversation_id, text FROM messages WHERE role = 'agent' ORDER BY id"):
            if cid in wanted:
                out[str(cid)].append(redact(str(text)))
    return dict(out)


def slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words[:8]) or "gap"


def draft_article(gap: Gap, replies: list[str], language: str, today: str, writer: Any = None) -> str:
    """An article skeleton (front matter with ``draft: true``) from the agents' replies, for a person to rewrite:
    written by ``writer`` (a chat model with ``draft_article``, the OpenAI path) when given and it answers,
    else extractive: the replies' sentences, deduplicated."""
    sentences: list[str] = []
    for reply in replies:
        for sentence in _SENTENCE.split(reply.strip()):
            if sentence and sentence not in sentences:
                sentences.append(sentence)
    written_by = "extractive"
    answer = " ".join(sentences[:8]) or "(write the answer here)"
    if writer is not None and hasattr(writer, "draft_article"):
        try:
            answer = writer.draft_article(gap.examples, replies[:20], language)
            written_by = str(getattr(writer, "name", "model"))
        except BnplError:
            pass  # the extractive skeleton stands in for a model that is unavailable
    title = gap.examples[0].rstrip("?.! ")[:80]
    questions = "\n".join(f"  - {json.dumps(q, ensure_ascii=False)}" for q in gap.examples)
    return (f"---\nid: draft-{slug(gap.examples[0])}\ntopic: {gap.nearest_topic or 'TODO'}\n"
            f"title: {json.dumps(title, ensure_ascii=False)}\nlanguage: {language}\nupdated: {today}\n"
            f"draft: true  # remove this line once a person has written the article\nquestions:\n{questions}\n---\n"
            f"{answer}\n\n## What agents answered (to be rewritten)\n\n"
            + "\n".join(f"- {s}" for s in sentences[:20]) + "\n\n"
            f"Drafted by `bnpl-assistant gaps` ({written_by}) from {len(replies)} agent replies in {gap.size} "
            f"conversations; nearest existing article: {gap.nearest_article} (similarity {gap.similarity:.2f}).\n")


def write_drafts(gaps: list[Gap], db_path: Path | str, articles_root: Path, today: str,
                 writer: Any = None) -> list[Path]:
    """A draft article per gap whose conversations agents answered; returns the files written."""
    written = []
    by_conversation = agent_replies(db_path, sorted({cid for gap in gaps for cid in gap.conversations}))
    for gap in gaps:
        replies = [r for cid in gap.conversations for r in by_conversation.get(cid, [])]
        if not replies:
            continue
        language = max(gap.languages, key=gap.languages.__getitem__)
        path = articles_root / language / f"draft-{slug(gap.examples[0])}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(draft_article(gap, replies, language, today, writer), encoding="utf-8")
        gap.draft = str(path)
        written.append(path)
    return written


def markdown(gaps: list[Gap], unresolved: int, window: str) -> str:
    if not gaps:
        return f"# Content gaps ({window})\n\n{unresolved} unresolved messages; no cluster of {MIN_SIZE} or more.\n"
    lines = [f"# Content gaps ({window})\n", f"{unresolved} unresolved messages in {len(gaps)} clusters of "
             f"{MIN_SIZE} or more (definitions: `analytics/gaps.py`).\n",
             "| # | size | trend | why | examples | nearest article (similarity) | suggested action | draft |",
             "|---|---|---|---|---|---|---|---|"]
    for k, g in enumerate(gaps, 1):
        why = ", ".join(f"{w} {n}" for w, n in g.why.items())
        examples = "<br>".join(e.replace("|", "/") for e in g.examples)
        lines.append(f"| {k} | {g.size} | {g.trend} ({g.first_half} -> {g.second_half}) | {why} | {examples} | "
                     f"{g.nearest_article} ({g.similarity:.2f}) | {g.action} | {g.draft or '-'} |")
    return "\n".join(lines) + "\n"


def to_json(gaps: list[Gap]) -> list[dict[str, Any]]:
    return [{**asdict(g), "trend": g.trend} for g in gaps]


def gaps_in_log(db_path: Path | str, embed: Any, passages: list[tuple[str, str, np.ndarray]], since: str | None,
                now: str, reference: np.ndarray | None = None) -> tuple[list[Gap], int]:
    """(clusters, unresolved messages) of the log at ``db_path`` from ``since`` on (``embed``: texts -> query
    vectors; ``reference``: the pack's training messages' vectors)."""
    items = unresolved_messages(db_path, since)
    if not items:
        return [], 0
    return find_gaps(items, embed([i.text for i in items]), passages, since, now, reference), len(items)


def report_gaps(db_path: Path | str, embed: Any, passages: list[tuple[str, str, np.ndarray]], since: str | None,
                now: str, out: Path, articles_root: Path | None,
                reference: np.ndarray | None = None, writer: Any = None) -> tuple[list[Gap], int]:
    """Find the gaps of the log at ``db_path`` (``embed``: texts -> query vectors), write ``gaps.md`` and
    ``gaps.json`` into ``out`` and, with ``articles_root``, the draft articles; returns (gaps, unresolved)."""
    gaps, unresolved = gaps_in_log(db_path, embed, passages, since, now, reference)
    if articles_root is not None:
        write_drafts(gaps, db_path, articles_root, now[:10], writer)
    out.mkdir(parents=True, exist_ok=True)
    window = f"since {since[:10]}" if since else "whole log"
    (out / "gaps.md").write_text(markdown(gaps, unresolved, window), encoding="utf-8")
    (out / "gaps.json").write_text(json.dumps({"unresolved": unresolved, "gaps": to_json(gaps)}, indent=1,
                                              ensure_ascii=False), encoding="utf-8")
    return gaps, unresolved


def passages_of(chunks: list[Any]) -> list[tuple[str, str, np.ndarray]]:
    """(article key, topic, vector) of every indexed chunk (``store.StoredChunk`` with embeddings)."""
    return [(f"{c.metadata['language']}/{c.metadata['article_id']}", str(c.metadata["topic"]), c.embedding)
            for c in chunks if c.embedding is not None]
