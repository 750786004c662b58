"""The project's exception hierarchy. Messages say what to do next; only the CLI and UI turn them into
exit codes or chat messages."""


class BnplError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(BnplError):
    """A setting is missing or invalid."""


class ProviderError(BnplError):
    """A model provider (OpenAI or compatible) failed after retries."""


class IngestError(BnplError):
    """The knowledge base could not be loaded or indexed."""


class IndexMissingError(BnplError):
    """There is no search index yet."""


class EmbedderMismatchError(BnplError):
    """The index was built with another embedder than the one configured."""


class StoreUnavailableError(BnplError):
    """The vector store (for example a Chroma server) cannot be reached."""


class DataError(BnplError):
    """An input file (dataset, scenario, article) is malformed."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class AccountError(BnplError):
    """An account action was refused or failed (the message is safe to show the customer)."""
