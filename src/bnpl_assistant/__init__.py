"""bnpl-assistant: an offline-first AI support assistant for a buy-now-pay-later provider."""

__version__ = "0.1.0"
