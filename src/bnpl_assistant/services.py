"""Wiring: builds the long-lived objects from settings (once per process) for the CLI and the app."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bnpl_assistant.assistant import Assistant
from bnpl_assistant.classify.exemplars import EmbeddingCache, load_exemplars
from bnpl_assistant.ingest import IngestReport, ingest
from bnpl_assistant.ingest.pipeline import Progress
from bnpl_assistant.kb.validate import load_knowledge
from bnpl_assistant.providers.base import as_summariser, as_tool_planner
from bnpl_assistant.providers.factory import make_embedder
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import VectorStore

if TYPE_CHECKING:
    from bnpl_assistant.providers.base import Summariser
    from bnpl_assistant.storage import Database
    from bnpl_assistant.support.desk import SupportDesk
    from bnpl_assistant.support.handoffs import HandoffStore


def ingest_all(settings: Settings, rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
    """Index the articles and warm the exemplar-embedding cache (topic classifier and account intents)."""
    embedder = make_embedder(settings)
    store = VectorStore(settings.index_dir, settings.collection, settings.chroma_url)
    report = ingest(settings, store, embedder, rebuild=rebuild, progress=progress)
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    exemplars = load_exemplars(kb.articles, kb.topics.ids)
    from bnpl_assistant.act.intents import load_intents

    account_examples = [text for _, text in load_intents().exemplars]
    EmbeddingCache(settings.cache_dir, embedder).embed([e.text for e in exemplars] + account_examples)
    return report


def build_assistant(settings: Settings, accounts: bool = True, log_turns: bool = True,
                    db_path: Path | None = None) -> Assistant:
    """The assistant with the demo accounts, hand-off tickets and the conversation log.

    Args:
        accounts: wire the accounts service, account actions and hand-off tickets (seeding the demo
            database on first use).
        log_turns: log every turn to the conversation log.
        db_path: use this database instead of ``settings.db_path`` (the eval harness uses a scratch copy);
            the other one is then not opened at all.
    """
    assistant = Assistant.from_settings(settings)
    if accounts:
        from bnpl_assistant.accounts.seed import ensure_demo
        from bnpl_assistant.accounts.service import AccountsService
        from bnpl_assistant.act.agent import AccountAgent
        from bnpl_assistant.storage import open_database

        database = open_database(db_path or settings.db_path)
        ensure_demo(database)
        cache = EmbeddingCache(settings.cache_dir, assistant.embedder)
        # signed out: only a message naming an order or customer id gets the sign-in explanation; other
        # account-flavoured questions ("where's my refund?") are answered from the FAQ.
        # A chat model that declares "tools" / "summaries" also picks account tools (function calling) and
        # writes hand-off summaries (the OpenAI path).
        assistant.actions = AccountAgent(AccountsService(database), assistant.embedder.embed_query,
                                         signed_out="defer", embed_examples=cache.embed,
                                         planner=as_tool_planner(assistant.llm))
        assistant.actions.warm()  # from the disk cache after the first start: milliseconds
        assistant.handoffs = build_handoffs(settings, database, summariser=as_summariser(assistant.llm))
        if log_turns:
            from bnpl_assistant.support.convlog import ConversationLog

            assistant.log = ConversationLog(database)
    return assistant


def build_handoffs(settings: Settings, database: Database, summariser: Summariser | None = None) -> HandoffStore:
    """The hand-off store on ``database`` with the webhook from the settings and the topic priorities from
    ``knowledge/topics.yaml``."""
    from bnpl_assistant.kb.topics import load_topics
    from bnpl_assistant.support.handoffs import HandoffStore

    path = settings.knowledge_dir / "topics.yaml"
    priorities = {t.id: t.priority for t in load_topics(path)} if path.exists() else {}
    return HandoffStore(database, settings.handoff_webhook, priorities, summariser=summariser)


def scratch_database() -> Path:
    """A fresh demo database in a temporary folder (for evals: nothing leaks into the live log)."""
    folder = Path(tempfile.mkdtemp(prefix="bnpl-eval-"))
    return folder / "eval.sqlite3"


def remove_scratch(path: Path) -> None:
    if path.parent.name.startswith("bnpl-eval-"):
        shutil.rmtree(path.parent, ignore_errors=True)


def build_desk(settings: Settings, assistant: Assistant | None = None,
               eval_dir: Path = Path("out/eval"), deflection_dir: Path = Path("artifacts/deflection")) -> SupportDesk:
    """The support desk behind the page: assistant + hand-offs + log + accounts on one database."""
    from bnpl_assistant.accounts.service import AccountsService
    from bnpl_assistant.storage import open_database
    from bnpl_assistant.support.desk import SupportDesk

    assistant = assistant or build_assistant(settings)
    accounts = AccountsService(open_database(settings.db_path))
    return SupportDesk(assistant, assistant.handoffs, assistant.log, accounts,
                       eval_dir, deflection_dir, client_limit=settings.client_rate_limit)
