"""Bundled deflection scenarios (package data): ``klarna-2024`` and ``demo``."""
