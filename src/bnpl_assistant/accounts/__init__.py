"""The accounts database and everything stored in it: customer accounts (behind ``AccountsService``),
hand-off tickets and the conversation log. One SQLite file, versioned schema (``accounts.db``)."""
