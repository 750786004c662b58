"""HTML help-center pages to Markdown-ish plain text. The only module that imports BeautifulSoup.

Headings become ``## ...`` (an ``<h1>`` inside the body too: the page's title is taken out of it), list items
``- ...`` (indented two spaces per nesting level), table rows ``cell | cell``; every other block is a paragraph.
Site chrome (navigation, header, footer, asides, forms) and code that is not content (scripts, styles) go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

# What a help-center page carries around its article; never part of the article's text.
STRIPPED = ("nav", "header", "footer", "script", "style", "noscript", "aside", "form", "template")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Elements that start a new paragraph; everything else (a, b, span, code, ...) flows inside one.
_BLOCKS = frozenset(
    "address article blockquote body dd details dialog div dl dt fieldset figcaption figure hgroup li main p "
    "section summary tbody td tfoot th thead tr".split()
)
_SPACES = re.compile(r"\s+")  # source formatting inside a text node (newlines included) flows as one space


@dataclass(frozen=True)
class HtmlPage:
    """One page's article: its title (None when the page has neither ``<h1>`` nor ``<title>``), body text and
    the raw ``<html lang>`` value (None when absent)."""

    title: str | None
    text: str
    language: str | None


def read_html(markup: str) -> HtmlPage:
    """The article in one HTML page.

    The title is the first ``<h1>`` of the article (one outside the page's header, navigation and the like
    when there is one), else the ``<title>``. The body is ``<main>``, else ``<article>``, else ``<body>``.
    """
    soup = BeautifulSoup(markup, "html.parser")
    html = soup.find("html")
    lang = html.get("lang") if isinstance(html, Tag) else None
    root = _first_tag(soup, "main", "article", "body") or soup
    heading = _title_heading(root)
    title = _squash(_inline(heading)) if heading is not None else ""
    if heading is not None:
        heading.decompose()
    if not title:
        page_title = soup.find("title")
        title = _squash(page_title.get_text()) if isinstance(page_title, Tag) else ""
    for tag in root.find_all([*STRIPPED, "head", "title"]):
        if isinstance(tag, Tag) and not tag.decomposed:
            tag.decompose()
    language = lang.strip() if isinstance(lang, str) else ""
    return HtmlPage(title or None, "\n\n".join(_blocks(root)), language or None)


def looks_like_html(text: str) -> bool:
    """True when a text (a JSON export's body, say) is HTML markup rather than Markdown or plain text: it opens
    with a tag."""
    if not text.lstrip().startswith("<"):
        return False
    return BeautifulSoup(text, "html.parser").find() is not None


def _first_tag(soup: BeautifulSoup, *names: str) -> Tag | None:
    for name in names:
        found = soup.find(name)
        if isinstance(found, Tag):
            return found
    return None


def _title_heading(root: Tag) -> Tag | None:
    """The first ``<h1>`` not inside page chrome; the first ``<h1>`` at all when every one is (an article whose
    own ``<header>`` holds its title)."""
    headings = [h for h in root.find_all("h1") if isinstance(h, Tag)]
    for h in headings:
        if not any(parent.name in STRIPPED for parent in h.parents if parent is not root):
            return h
    return headings[0] if headings else None


def _blocks(node: Tag) -> list[str]:
    """The block-level pieces of ``node`` in document order: paragraphs, headings, lists and tables."""
    out: list[str] = []
    inline: list[str] = []

    def flush() -> None:
        paragraph = _squash("".join(inline))
        if paragraph:
            out.append(paragraph)
        inline.clear()

    for child in node.children:
        if _is_text(child):
            inline.append(_SPACES.sub(" ", str(child)))
        elif not isinstance(child, Tag):
            continue
        elif child.name == "br":
            inline.append("\n")
        elif child.name in _BLOCKS or child.name in _HEADINGS or child.name in ("ul", "ol", "pre", "table", "hr"):
            flush()
            out.extend(_block(child))
        else:
            inline.append(_inline(child))
    flush()
    return out


def _block(tag: Tag) -> list[str]:
    if tag.name in _HEADINGS:
        text = _squash(_inline(tag)).replace("\n", " ")
        return [f"{'#' * max(2, _HEADINGS[tag.name])} {text}"] if text else []
    if tag.name in ("ul", "ol"):
        listed = _list(tag, 0)
        return [listed] if listed else []
    if tag.name == "pre":
        text = tag.get_text().strip("\n")
        return [text] if text.strip() else []
    if tag.name == "table":
        rows = [" | ".join(_squash(_inline(cell)).replace("\n", " ")
                           for cell in row.find_all(["th", "td"]) if isinstance(cell, Tag))
                for row in tag.find_all("tr") if isinstance(row, Tag)]
        text = "\n".join(r for r in rows if r.strip(" |"))
        return [text] if text else []
    if tag.name == "hr":
        return []
    return _blocks(tag)


def _list(tag: Tag, depth: int) -> str:
    """A list as ``- item`` lines; a list inside an item is indented under it."""
    lines: list[str] = []
    for item in tag.find_all("li", recursive=False):
        if not isinstance(item, Tag):
            continue
        sublists = [s.extract() for s in item.find_all(["ul", "ol"], recursive=False) if isinstance(s, Tag)]
        own = " ".join(_blocks(item)).replace("\n", " ")
        if own:
            lines.append(f"{'  ' * depth}- {own}")
        lines.extend(nested for s in sublists if (nested := _list(s, depth + 1)))
    return "\n".join(lines)


def _inline(tag: Tag) -> str:
    """A tag's text as it flows in a paragraph: markup dropped, ``<br>`` kept as a line break."""
    parts: list[str] = []
    for node in tag.descendants:
        if _is_text(node):
            parts.append(_SPACES.sub(" ", str(node)))
        elif isinstance(node, Tag) and node.name == "br":
            parts.append("\n")
    return "".join(parts)


def _is_text(node: object) -> bool:
    """Visible text: a string that is not a comment, doctype, CDATA or processing instruction."""
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


def _squash(text: str) -> str:
    """Whitespace runs as one space, line by line (the only line breaks left are ``<br>``); blank lines
    dropped."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
