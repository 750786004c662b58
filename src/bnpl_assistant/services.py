"""Wiring: builds the long-lived objects from settings (once per process) for the CLI and the app."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bnpl_assistant.assistant import Assistant
from bnpl_assistant.classify.exemplars import EmbeddingCache, load_exemplars
from bnpl_assistant.embeddings import make_embedder
from bnpl_assistant.ingest import IngestReport, ingest
from bnpl_assistant.ingest.pipeline import Progress
from bnpl_assistant.kb.validate import load_knowledge
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import VectorStore


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
        db_path: use this database instead of ``settings.db_path`` (the eval harness uses a scratch copy).
    """
    assistant = Assistant.from_settings(settings)
    if accounts:
        from bnpl_assistant.accounts.handoffs import HandoffStore
        from bnpl_assistant.accounts.seed import ensure_demo
        from bnpl_assistant.accounts.service import AccountsService
        from bnpl_assistant.act.agent import AccountAgent
        from bnpl_assistant.answer.llm import OpenAIChatModel

        path = db_path or settings.db_path
        path.parent.mkdir(parents=True, exist_ok=True)
        ensure_demo(path)
        cache = EmbeddingCache(settings.cache_dir, assistant.embedder)
        # signed out: only a message naming an order or customer id gets the sign-in explanation; other
        # account-flavoured questions ("where's my refund?") are answered from the FAQ.
        # OpenAI path: the chat model also picks account tools (function calling) and writes hand-off summaries.
        llm = assistant.llm if isinstance(assistant.llm, OpenAIChatModel) else None
        assistant.actions = AccountAgent(AccountsService(path), assistant.embedder.embed_query,
                                         signed_out="defer", embed_examples=cache.embed, planner=llm)
        assistant.actions.warm()  # from the disk cache after the first start: milliseconds
        handoffs = HandoffStore.from_settings(settings)
        handoffs.db_path = path
        handoffs.summariser = llm
        assistant.handoffs = handoffs
        if log_turns:
            from bnpl_assistant.accounts.convlog import ConversationLog

            assistant.log = ConversationLog(path)
    return assistant


def scratch_database() -> Path:
    """A fresh demo database in a temporary folder (for evals: nothing leaks into the live log)."""
    folder = Path(tempfile.mkdtemp(prefix="bnpl-eval-"))
    return folder / "eval.sqlite3"


def remove_scratch(path: Path) -> None:
    if path.parent.name.startswith("bnpl-eval-"):
        shutil.rmtree(path.parent, ignore_errors=True)


def build_desk(settings: Settings, assistant: Assistant | None = None,
               eval_dir: Path = Path("out/eval"), deflection_dir: Path = Path("artifacts/deflection")):  # type: ignore[no-untyped-def]
    """The support desk behind the page: assistant + hand-offs + log + accounts on one database."""
    from bnpl_assistant.accounts.service import AccountsService
    from bnpl_assistant.desk import SupportDesk

    assistant = assistant or build_assistant(settings)
    return SupportDesk(assistant, assistant.handoffs, assistant.log, AccountsService(settings.db_path),
                       eval_dir, deflection_dir, client_limit=settings.client_rate_limit)
