"""Wiring: which object gets which collaborator, in one place, through constructors.

``build(settings)`` is what the CLI, the page, the eval harness, the benchmarks and the tests use. It opens
(and migrates) only the database it is given: ``db_path`` (a scratch copy for evals) or, by default, the
live one under the data directory. ``ingest_all`` builds what ``build`` reads.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bnpl_assistant.accounts.seed import ensure_demo
from bnpl_assistant.accounts.service import AccountsService
from bnpl_assistant.act.agent import AccountAgent
from bnpl_assistant.act.intents import load_intents
from bnpl_assistant.answer import templates
from bnpl_assistant.assistant import Assistant
from bnpl_assistant.classify import rules
from bnpl_assistant.classify.by_language import LanguageClassifiers
from bnpl_assistant.classify.exemplars import EmbeddingCache, Exemplar, load_exemplars
from bnpl_assistant.kb.topics import TopicCatalog, load_topics
from bnpl_assistant.kb.validate import KnowledgeBase, load_knowledge
from bnpl_assistant.language import LanguageDetector
from bnpl_assistant.policy import load_thresholds
from bnpl_assistant.providers.base import ChatModel, Embedder, Summariser, as_summariser, as_tool_planner
from bnpl_assistant.providers.factory import make_chat_model, make_embedder
from bnpl_assistant.retrieve.articles import ArticleQuestions
from bnpl_assistant.retrieve.hybrid import HybridSearch
from bnpl_assistant.runtime import single_thread_blas
from bnpl_assistant.settings import Settings
from bnpl_assistant.storage import Database, open_database
from bnpl_assistant.store import VectorStore
from bnpl_assistant.support.agents import AgentDesk
from bnpl_assistant.support.convlog import ConversationLog
from bnpl_assistant.support.desk import SupportDesk
from bnpl_assistant.support.handoffs import HandoffStore
from bnpl_assistant.support.hours import SupportHours
from bnpl_assistant.support.live import LiveChat
from bnpl_assistant.understand import Understander

if TYPE_CHECKING:  # the ingest pipeline (and its text splitter) loads only when ingest runs
    import numpy as np

    from bnpl_assistant.ingest import IngestReport
    from bnpl_assistant.ingest.pipeline import Progress

SCRATCH_PREFIX = "bnpl-eval-"


@dataclass(frozen=True)
class Components:
    """Everything a front end needs, built once per process."""

    settings: Settings
    assistant: Assistant
    database: Database | None = None
    accounts: AccountsService | None = None
    handoffs: HandoffStore | None = None
    turn_log: ConversationLog | None = None
    live: LiveChat | None = None

    def desk(self, eval_dir: Path = Path("out/eval"),
             deflection_dir: Path = Path("artifacts/deflection")) -> SupportDesk:
        """The support desk behind the page: assistant, hand-offs, live chat, log and accounts on one
        database."""
        return SupportDesk(self.assistant, self.turn_log, self.accounts, eval_dir, deflection_dir,
                           client_limit=self.settings.client_rate_limit, live=self.live)

    def agent_desk(self) -> AgentDesk | None:
        """The agents' side of the live hand-off (None without a database)."""
        if self.handoffs is None or self.live is None:
            return None
        return AgentDesk(self.assistant, self.handoffs, self.live, self.accounts)


def ingest_all(settings: Settings, rebuild: bool = False, progress: Progress | None = None,
               train: bool = True) -> IngestReport:
    """Index the articles, warm the exemplar-embedding cache (topic classifier and account intents) and, unless
    ``train`` is false (then :func:`train_classifiers` does it), train and store the intent classifier (unless the
    stored one was trained on the same inputs)."""
    from bnpl_assistant.ingest import ingest

    embedder = make_embedder(settings)
    store = VectorStore(settings.index_dir, settings.index_collection, settings.chroma_url)
    report = ingest(settings, store, embedder, rebuild=rebuild, progress=progress)
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    exemplars = pack_exemplars(settings, kb)
    intents = settings.pack.optional("account_intents.yaml")
    account_examples = [text for _, text in load_intents(intents).exemplars] if intents else []
    texts = [e.text for e in exemplars]
    vectors = EmbeddingCache(settings.cache_dir, embedder).embed(texts + account_examples)[: len(texts)]
    if train:
        _train(settings, exemplars, vectors, embedder.name)
    return report


def train_classifiers(settings: Settings) -> None:
    """Train and store the pack's intent classifiers (those not stored yet for the same inputs), from the
    exemplar embeddings (computed here when not cached): what ``ingest_all`` does last, on its own."""
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    exemplars = pack_exemplars(settings, kb)
    embedder = make_embedder(settings)
    vectors = EmbeddingCache(settings.cache_dir, embedder).embed([e.text for e in exemplars])
    _train(settings, exemplars, vectors, embedder.name)


def _train(settings: Settings, exemplars: list[Exemplar], vectors: np.ndarray, embedder_name: str) -> None:
    if exemplars:  # nothing to train on: build_core reports it when the assistant is built
        LanguageClassifiers(settings.cache_dir, exemplars, vectors, embedder_name, settings.languages)


def pack_exemplars(settings: Settings, kb: KnowledgeBase) -> list[Exemplar]:
    """The classifier's training messages for the settings' pack: its tickets and articles, the gate examples."""
    pack = settings.pack
    return load_exemplars(kb.articles, kb.topics.ids, pack.ticket_files, pack.company)


@dataclass(frozen=True)
class Core:
    """The heavy, stateless parts (knowledge base, embedder, index, classifier, detector): built once, shared
    by every assistant that :func:`assemble` makes from them (a test builds several, with other models)."""

    settings: Settings
    topics: TopicCatalog
    understander: Understander
    detector: LanguageDetector
    cache: EmbeddingCache
    articles: ArticleQuestions | None = None  # the articles' listed questions, for the composer


def build_core(settings: Settings, *, embedder: Embedder | None = None, store: VectorStore | None = None) -> Core:
    """Load the knowledge base, open the index and load the classifier ingest trained (or train it, when
    its inputs changed since: see ``classify/persist.py``).

    Raises:
        BnplError: a missing index ("run ingest"), an unreachable Chroma server, a malformed knowledge base.
    """
    single_thread_blas()
    detector = LanguageDetector(settings.languages, settings.default_language)
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    embedder = embedder or make_embedder(settings)
    store = store or VectorStore(settings.index_dir, settings.index_collection, settings.chroma_url)
    search = HybridSearch(store, embedder.name, dense=settings.dense_search)
    search.table()  # fail early ("run ingest", "Chroma unreachable"), before the classifier is loaded
    cache = EmbeddingCache(settings.cache_dir, embedder)
    exemplars = pack_exemplars(settings, kb)
    vectors = cache.embed([e.text for e in exemplars])
    classifier = LanguageClassifiers(settings.cache_dir, exemplars, vectors, embedder.name, settings.languages)
    articles = ArticleQuestions.of(kb.articles, cache.embed)  # the exemplars' vectors: from the cache
    thresholds = load_thresholds(settings.pack.optional("thresholds.yaml"))
    templates.use_pack(settings.pack)
    rules.use_company(settings.pack.company)
    return Core(settings, kb.topics, Understander(embedder, classifier, search, thresholds), detector, cache,
                articles)


def assemble(core: Core, *, db_path: Path | str | None = None, llm: ChatModel | None = None, accounts: bool = True,
             log_turns: bool = True, model_tools: bool = True, model_summaries: bool = True,
             clock: Callable[[], datetime] | None = None) -> Components:
    """An assistant on ``core`` with its model and, with ``accounts``, the demo accounts, the account agent,
    hand-off tickets and the conversation log on one database (``db_path``, default the live one).
    ``clock`` times the log, the tickets and the chat messages (default: now; ``simulate`` replays a week).

    A chat model that declares "tools" / "summaries" also picks account tools and writes hand-off summaries,
    unless ``model_tools`` / ``model_summaries`` say otherwise (then the offline detector and the extractive
    summary do it).
    """
    settings = core.settings
    parts = (settings, core.topics, core.understander, core.detector)
    if not accounts:
        return Components(settings, Assistant(*parts, llm=llm, articles=core.articles))
    database = open_database(db_path or settings.database)
    ensure_demo(database)
    service = AccountsService(database)
    intents = settings.pack.optional("account_intents.yaml")
    agent = None
    if intents is not None:  # a pack without account phrasings answers and hands off, and never acts
        # Signed out, only a message naming an order or customer id gets the sign-in explanation; other
        # account-flavoured questions ("where's my refund?") are answered from the FAQ.
        agent = AccountAgent(service, core.understander.embedder.embed_query, signed_out="defer",
                             data=load_intents(intents), embed_examples=core.cache.embed,
                             planner=as_tool_planner(llm) if model_tools else None)
        agent.warm()  # from the disk cache after the first start: milliseconds
    handoffs = handoff_store(settings, database, core.topics,
                             summariser=as_summariser(llm) if model_summaries else None, clock=clock)
    turn_log = ConversationLog(database, clock=clock) if log_turns else None
    assistant = Assistant(*parts, llm=llm, handoffs=handoffs, agent=agent, turn_log=turn_log,
                          articles=core.articles)
    live = LiveChat(database, handoffs, SupportHours.parse(settings.support_hours, settings.support_timezone),
                    settings.agent_handle_minutes, clock=clock)
    return Components(settings, assistant, database, service, handoffs, turn_log, live)


def handoff_store(settings: Settings, database: Database, topics: TopicCatalog | None = None,
                  summariser: Summariser | None = None, clock: Callable[[], datetime] | None = None) -> HandoffStore:
    """The hand-off store on ``database``: the webhook from the settings, each topic's priority from the
    topics (default: the knowledge base's ``topics.yaml``)."""
    if topics is None:
        topics = load_topics(settings.knowledge_dir / "topics.yaml")
    return HandoffStore(database, settings.handoff_webhook, {t.id: t.priority for t in topics},
                        summariser=summariser, clock=clock)


def build(settings: Settings, *, db_path: Path | str | None = None, llm: ChatModel | None = None,
          embedder: Embedder | None = None, store: VectorStore | None = None, accounts: bool = True,
          log_turns: bool = True) -> Components:
    """Everything from the settings: :func:`build_core`, then :func:`assemble`.

    Args:
        settings: the one settings object.
        db_path: the database to use instead of the live ``settings.db_path`` (evals pass a scratch file);
            the live one is then not opened at all.
        llm: the chat model; default: the one ``settings.llm`` names (None offline).
        embedder: the embedder; default: the one ``settings.embedder`` names.
        store: the vector store; default: the one the settings name (embedded or a Chroma server).
        accounts: wire the accounts service, account agent and hand-off tickets.
        log_turns: log every turn to the conversation log.

    Raises:
        BnplError: a missing index, an unreachable Chroma server, a malformed knowledge base, an unknown model.
    """
    core = build_core(settings, embedder=embedder, store=store)
    model = llm if llm is not None else make_chat_model(settings)
    return assemble(core, db_path=db_path, llm=model, accounts=accounts, log_turns=log_turns)


def scratch_database() -> Path:
    """A fresh demo database in a temporary folder (for evals: nothing leaks into the live log)."""
    return Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX)) / "eval.sqlite3"


def remove_scratch(path: Path) -> None:
    """Remove a folder made by :func:`scratch_database` (and nothing else)."""
    if path.parent.name.startswith(SCRATCH_PREFIX):
        shutil.rmtree(path.parent, ignore_errors=True)
