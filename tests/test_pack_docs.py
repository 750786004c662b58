"""Importing a help-center export: Markdown, HTML, JSON and JSON Lines files, one file or a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bnpl_assistant.errors import DataError
from bnpl_assistant.packs.docs import ImportedDoc, import_help_center, read_help_center, slug


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _one(path: Path) -> ImportedDoc:
    docs = read_help_center(path)
    assert len(docs) == 1
    return docs[0]


# Markdown ------------------------------------------------------------------------------------------------------


def test_markdown_with_front_matter(tmp_path: Path) -> None:
    path = _write(tmp_path / "late.md", "---\nid: Late_Fees\ntitle: Late fees\nlanguage: de-DE\ntopic: Billing Help\n"
                                        "---\n\nA late fee of 5 EUR applies.\n\n## When\n\n* after 7 days\n+ once\n")
    doc = _one(path)
    assert doc == ImportedDoc(id="late-fees", title="Late fees",
                              text="A late fee of 5 EUR applies.\n\n## When\n\n- after 7 days\n- once",
                              language="de", topic_hint="billing-help", source=str(path))


def test_markdown_title_from_first_heading_which_leaves_the_body(tmp_path: Path) -> None:
    path = _write(tmp_path / "Refunds & Returns.md", "Intro line.\n\n# How refunds work\n\nMoney comes back.\n\n"
                                                     "# Timing\n\nFive days.\n")
    doc = _one(path)
    assert doc.title == "How refunds work"
    assert doc.text == "Intro line.\n\nMoney comes back.\n\n## Timing\n\nFive days."
    assert (doc.id, doc.language, doc.topic_hint) == ("refunds-returns", None, None)


def test_markdown_title_from_file_stem_and_fenced_hash_is_not_a_heading(tmp_path: Path) -> None:
    doc = _one(_write(tmp_path / "pay-early.markdown", "```\n# not a heading\n```\nPay whenever you like.\n"))
    assert doc.title == "pay-early"
    assert "# not a heading" in doc.text
    assert "## not a heading" not in doc.text


def test_front_matter_title_keeps_a_different_heading_and_drops_a_repeated_one(tmp_path: Path) -> None:
    same = _one(_write(tmp_path / "a.md", "---\ntitle: Fees\n---\n# Fees\n\nNone.\n"))
    other = _one(_write(tmp_path / "b.md", "---\ntitle: Fees\n---\n# Overview\n\nNone.\n"))
    assert same.text == "None."
    assert other.text == "## Overview\n\nNone."


# HTML ----------------------------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en-GB"><head><title>Help Center | Pausing payments</title><style>p {color: red}</style></head>
<body>
<header><a href="/">Home</a> Site banner</header>
<nav><ul><li>Menu item</li></ul></nav>
<main>
  <h1>How to pause a payment</h1>
  <!-- editor note: check wording -->
  <p>You can pause <b>one</b> payment
     per order.<br>Only once.</p>
  <script>trackPageView("secret-script-text")</script>
  <noscript>Enable JavaScript</noscript>
  <h2>Steps</h2>
  <ol><li>Open the app</li><li>Choose the order<ul><li>Tap <i>Pause</i></li></ul></li></ol>
  <table><tr><th>Plan</th><th>Pauses</th></tr><tr><td>Pay in 3</td><td>1</td></tr></table>
  <aside>Related: other articles</aside>
  <form><label>Was this helpful?</label></form>
</main>
<footer>Copyright footer</footer>
</body></html>"""


def test_html_strips_chrome_and_keeps_structure(tmp_path: Path) -> None:
    doc = _one(_write(tmp_path / "pause.html", PAGE))
    assert doc.title == "How to pause a payment"
    assert doc.language == "en"
    assert doc.text == ("You can pause one payment per order.\nOnly once.\n\n## Steps\n\n"
                        "- Open the app\n- Choose the order\n  - Tap Pause\n\nPlan | Pauses\nPay in 3 | 1")
    for gone in ("Site banner", "Menu item", "secret-script", "Enable JavaScript", "Related", "helpful",
                 "footer", "color", "editor note", "Help Center"):
        assert gone not in doc.text


def test_html_title_from_title_tag_without_h1_and_body_without_main(tmp_path: Path) -> None:
    page = ("<html><head><title>Contact us</title></head>"
            "<body><nav>Menu</nav><h3>Phone</h3><p>Call us.</p></body></html>")
    doc = _one(_write(tmp_path / "contact.htm", page))
    assert (doc.title, doc.language) == ("Contact us", None)
    assert doc.text == "### Phone\n\nCall us."


def test_html_article_with_its_own_header(tmp_path: Path) -> None:
    page = ("<html lang='de'><body><header><h1>Shop name</h1></header><article><header><h1>Ratenzahlung</h1>"
            "</header><p>Drei Raten.</p></article></body></html>")
    doc = _one(_write(tmp_path / "raten.html", page))
    assert (doc.title, doc.text, doc.language) == ("Ratenzahlung", "Drei Raten.", "de")


# JSON and JSON Lines -------------------------------------------------------------------------------------------


def test_json_list_with_content_body_and_category(tmp_path: Path) -> None:
    items = [{"id": "KB 101", "title": "Limits", "content": "Your limit grows.", "language": "en",
              "category": "Account"},
             {"title": "Gebühren", "body": "<p>Keine <b>Gebühren</b>.</p><ul><li>nie</li></ul>", "locale": "de-at"}]
    path = _write(tmp_path / "export.json", json.dumps(items))
    first, second = read_help_center(path)
    assert first == ImportedDoc("kb-101", "Limits", "Your limit grows.", "en", "account", str(path))
    assert (second.id, second.language, second.topic_hint) == ("export-2", "de", None)
    assert second.text == "Keine Gebühren.\n\n- nie"


def test_json_single_object(tmp_path: Path) -> None:
    doc = _one(_write(tmp_path / "one.json", json.dumps({"id": 7, "title": "Seven", "text": "Text."})))
    assert (doc.id, doc.title, doc.topic_hint) == ("7", "Seven", None)


def test_jsonl_source_names_the_line(tmp_path: Path) -> None:
    lines = [json.dumps({"id": "a", "title": "A", "text": "Alpha."}), "",
             json.dumps({"id": "b", "title": "B", "text": "Beta.", "category": "Card Payments"})]
    path = _write(tmp_path / "kb.jsonl", "\n".join(lines) + "\n")
    docs = read_help_center(path)
    assert [(d.id, d.source, d.topic_hint) for d in docs] == [
        ("a", f"{path}:1", None), ("b", f"{path}:3", "card-payments")]


# Folders -------------------------------------------------------------------------------------------------------


def test_folder_topic_hints_order_and_skipped_files(tmp_path: Path) -> None:
    root = tmp_path / "export"
    _write(root / "welcome.md", "# Welcome\n\nHello.\n")
    _write(root / "Billing" / "late fees.md", "# Late fees\n\nFive euro.\n")
    _write(root / "Billing" / "deep" / "refund.html", "<h1>Refund</h1><p>Back in five days.</p>")
    _write(root / "Cards" / "cards.jsonl", json.dumps({"title": "Lost card", "text": "Block it."}) + "\n")
    _write(root / "Cards" / "faq.json", json.dumps({"title": "Card FAQ", "text": "Ask.", "category": "FAQ"}))
    _write(root / "Billing" / "logo.png", b"\x89PNG\r\n")
    _write(root / ".git" / "config.md", "# hidden\n\nnot read\n")
    _write(root / "notes.txt", "not an article")

    result = import_help_center(root)
    got = [(d.id, d.topic_hint) for d in result.docs]
    assert got == [("billing-deep-refund", "billing"), ("billing-late-fees", "billing"),
                   ("cards-cards-1", "cards"), ("cards-faq", "faq"), ("welcome", None)]
    assert result.skipped == (root / "Billing" / "logo.png", root / "notes.txt")
    assert read_help_center(root) == list(result.docs)  # the same again: deterministic


def test_slug() -> None:
    assert slug("  Gebühren & Raten_Zahlung 2 ") == "gebuhren-raten-zahlung-2"
    assert slug("日本") == ""


# Errors: each names the file (and the line for JSON Lines) ---------------------------------------------------


@pytest.mark.parametrize(("name", "content", "message", "line"), [
    ("nul.md", b"# T\n\x00\x01 body", "binary file", None),
    ("latin.md", "# Gebühr\n\nText".encode("latin-1"), "not UTF-8", None),
    ("empty.md", "---\ntitle: Nothing\n---\n\n   \n", "no text", None),
    ("empty.html", "<html><body><nav>Only a menu</nav><h1>Title</h1></body></html>", "no text", None),
    ("broken.json", '[{"title": "A", "text": "x"},\n {"title": ]', "malformed JSON", 2),
    ("notitle.json", json.dumps([{"title": "A", "text": "x"}, {"text": "y"}]), "item 2: object has no 'title'",
     None),
    ("notext.json", json.dumps({"title": "A", "content": "  "}), "no text", None),
    ("list.json", json.dumps(["just a string"]), "expected an object", None),
    ("bad.jsonl", '{"title": "A", "text": "x"}\n{"title": "B", "text": "y"\n', "malformed JSON", 2),
    ("notext.jsonl", '{"title": "A", "text": "x"}\n\n{"title": "B"}\n', "no text", 3),
    ("unclosed.md", "---\ntitle: A\n\nBody\n", "not closed", 1),
    ("lang.md", "---\nlanguage: english\n---\nBody\n", "ISO 639-1", None),
    ("guide.pdf", b"%PDF-1.4", "unsupported file type", None),
])
def test_errors_name_the_file_and_line(tmp_path: Path, name: str, content: str | bytes, message: str,
                                       line: int | None) -> None:
    path = _write(tmp_path / name, content)
    with pytest.raises(DataError, match=message) as caught:
        read_help_center(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:")


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    _write(tmp_path / "a.md", "---\nid: fees\n---\nFirst.\n")
    second = _write(tmp_path / "b.jsonl", "\n" + json.dumps({"id": "Fees", "title": "Fees", "text": "Second."}))
    with pytest.raises(DataError, match=r"duplicate id 'fees' \(also .*a\.md\)") as caught:
        read_help_center(tmp_path)
    assert (caught.value.path, caught.value.line) == (str(second), 2)


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        read_help_center(tmp_path / "absent")


def test_empty_folder_gives_no_documents(tmp_path: Path) -> None:
    assert import_help_center(tmp_path).docs == ()
