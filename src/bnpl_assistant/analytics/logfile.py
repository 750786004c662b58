"""Opening the conversation log for the operator's-loop readers (report, gaps, export-evals)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bnpl_assistant.errors import DataError
from bnpl_assistant.storage import Connection, MissingSchemaError, read_only


@contextmanager
def read_log(db_path: Path, hint: str) -> Iterator[Connection]:
    """A read-only connection to the log at ``db_path``.

    Raises:
        DataError: "no conversation log yet: <hint>" when the file or its tables do not exist.
    """
    missing = f"no conversation log yet: {hint}"
    if not db_path.exists():
        raise DataError(missing, str(db_path))
    try:
        with read_only(db_path) as conn:
            yield conn
    except MissingSchemaError:
        raise DataError(missing, str(db_path)) from None
