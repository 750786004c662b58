"""Opening the conversation log for the operator's-loop readers (report, gaps, export-evals)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bnpl_assistant.errors import DataError
from bnpl_assistant.storage import Connection, MissingSchemaError, OperationalError, read_only, redacted, sqlite_path


@contextmanager
def read_log(db_path: Path | str, hint: str) -> Iterator[Connection]:
    """A read-only connection to the log at ``db_path`` (a SQLite file or a database URL).

    Raises:
        DataError: "no conversation log yet: <hint>" when the file or its tables do not exist; "cannot read
            the conversation log" when the database cannot be reached.
    """
    missing = f"no conversation log yet: {hint}"
    where = redacted(db_path)
    file = sqlite_path(db_path)
    if file is not None and not file.exists():
        raise DataError(missing, where)
    try:
        with read_only(db_path) as conn:
            yield conn
    except MissingSchemaError:
        raise DataError(missing, where) from None
    except OperationalError as exc:
        raise DataError(f"cannot read the conversation log: {exc.orig}", where) from None
