"""The model protocols, all in one place: what the assistant needs from an embedder and a chat model.

A chat model *declares* what it can do in ``capabilities``, a subset of a closed set:

- ``"stream"``: :meth:`ChatModel.stream` yields the reply as it is written (token deltas);
- ``"tools"``: the model also is a :class:`ToolPlanner` (picks an account tool by function calling);
- ``"summaries"``: the model also is a :class:`Summariser` (writes hand-off summaries).

Callers ask :func:`supports` (or take the typed view from :func:`as_tool_planner` / :func:`as_summariser`)
instead of checking which class a model is, so a new model server only has to declare what it does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, cast, get_args

import numpy as np

if TYPE_CHECKING:  # annotations only: the protocols stay a leaf of the import graph
    from bnpl_assistant.conversation import Turn
    from bnpl_assistant.retrieve.hybrid import Passage

Capability = Literal["stream", "tools", "summaries"]
STREAM: Final = "stream"
TOOLS: Final = "tools"
SUMMARIES: Final = "summaries"
CAPABILITIES: Final[frozenset[str]] = frozenset(get_args(Capability))


class Embedder(Protocol):
    """Turns text into L2-normalised vectors; queries and passages may be embedded differently."""

    name: str

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


class ChatModel(Protocol):
    """Writes grounded replies from retrieved passages (what the assistant needs from a chat model)."""

    name: str

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this model can do beyond :meth:`answer`, from the closed set :data:`CAPABILITIES`."""
        ...

    def answer(self, question: str, language: str, passages: list[Passage], history: list[Turn]) -> str: ...

    def stream(self, question: str, language: str, passages: list[Passage],
               history: list[Turn]) -> Iterator[str]: ...


class ToolPlanner(Protocol):
    """A chat model that picks an account tool by function calling (capability ``"tools"``)."""

    name: str

    def choose_tool(self, question: str, language: str, history: list[Turn],
                    tools: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None: ...


class Summariser(Protocol):
    """Writes a hand-off summary from a redacted transcript (capability ``"summaries"``)."""

    name: str

    def summarise(self, transcript: list[dict[str, Any]]) -> str: ...


def supports(model: ChatModel | None, capability: Capability) -> bool:
    """Whether ``model`` declares ``capability``.

    Args:
        model: a chat model, or None (the offline path, which supports nothing).
        capability: one of :data:`CAPABILITIES`.

    Returns:
        True when the capability is in the model's declared ``capabilities``.

    Raises:
        ValueError: ``capability`` is not in the closed set (the message lists the valid ones).
    """
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability '{capability}'; choose one of {', '.join(sorted(CAPABILITIES))}")
    return model is not None and capability in model.capabilities


def as_tool_planner(model: ChatModel | None) -> ToolPlanner | None:
    """``model`` as a :class:`ToolPlanner` when it declares ``"tools"``, else None.

    Args:
        model: a chat model, or None.

    Returns:
        The same object, typed as a planner, or None.
    """
    # The declaration is the contract: a model that declares "tools" implements choose_tool.
    return cast("ToolPlanner", model) if supports(model, TOOLS) else None


def as_summariser(model: ChatModel | None) -> Summariser | None:
    """``model`` as a :class:`Summariser` when it declares ``"summaries"``, else None.

    Args:
        model: a chat model, or None.

    Returns:
        The same object, typed as a summariser, or None.
    """
    # The declaration is the contract: a model that declares "summaries" implements summarise.
    return cast("Summariser", model) if supports(model, SUMMARIES) else None
