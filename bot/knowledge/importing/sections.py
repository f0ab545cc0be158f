"""Cut a document's cleaned blocks into sections: at its own headings, else at its pages or slides."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import py3langid

from bot.knowledge.importing.cleaning import (
    compounds,
    continues,
    drop_repeated,
    join_lines,
    normalize_characters,
    reflow,
)
from bot.knowledge.importing.document import Extracted, Section

# Longer sections are cut at paragraph ends: one passage should hold one idea for retrieval.
MAX_SECTION_CHARS = 2000
# Shorter texts are too short for a reliable language guess; they take the document's language.
MIN_LANGUAGE_CHARS = 200
_PAGE_TITLE_CHARS = 120
_PAGE_NAMES = {"page": "Page", "slide": "Diapositive", "": "Partie"}
_CONTINUED = " (suite)"


def slug(text: str, limit: int = 60) -> str:
    """Lowercase ASCII words joined by hyphens: « Méthode & outils » → `methode-outils`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    out = "-".join(words)[:limit].strip("-")
    return out or "document"


def language(text: str) -> str:
    """ISO 639-1 code of the language `text` is written in (py3langid), e.g. "fr", "en"."""
    code, _ = py3langid.classify(text)
    return str(code)


@dataclass
class _Draft:
    title: str
    page: int | None
    paragraphs: list[tuple[int | None, str]] = field(default_factory=list)
    title_only: bool = False  # a page whose first box became the title: its text if nothing follows


def _page_title(text: str) -> str | None:
    """The first box of a page (reflowed) as its title when it reads like one: short, one paragraph,
    not a list item."""
    if len(text) <= _PAGE_TITLE_CHARS and "\n" not in text and not text.startswith("- "):
        return text
    return None


def _drafts(extracted: Extracted, document_title: str) -> list[_Draft]:
    blocks = drop_repeated(extracted.blocks, extracted.pages)
    known = compounds(normalize_characters(b.text) for b in blocks)
    by_headings = any(b.heading for b in blocks)
    drafts: list[_Draft] = []
    for block in blocks:
        text = reflow(block.text, known)
        if not text:
            continue
        if block.heading:
            title = " ".join(text.split())
            if drafts and not drafts[-1].paragraphs:  # a heading with no text of its own
                parent = drafts.pop().title
                title = title if parent == document_title else f"{parent} — {title}"
            drafts.append(_Draft(title, block.page))
            continue
        new_page = not by_headings and extracted.page_kind and (not drafts or drafts[-1].page != block.page)
        if new_page:
            page_title = _page_title(text)
            name = f"{_PAGE_NAMES[extracted.page_kind]} {block.page}"
            drafts.append(_Draft(page_title or name, block.page))
            if page_title:
                drafts[-1].title_only = True
                continue
        elif not drafts:
            drafts.append(_Draft(document_title, block.page))
        parts = [(block.page, part) for part in text.split("\n\n") if part.strip()]
        paragraphs = drafts[-1].paragraphs
        if paragraphs and parts and continues(paragraphs[-1][1], parts[0][1]):  # a sentence cut by a page
            paragraphs[-1] = (paragraphs[-1][0], join_lines(paragraphs[-1][1], parts.pop(0)[1], known))
        paragraphs += parts
    for draft in drafts:
        if draft.title_only and not draft.paragraphs:
            draft.paragraphs.append((draft.page, draft.title))
    return [d for d in drafts if d.paragraphs]


def _split(draft: _Draft) -> list[_Draft]:
    parts = [_Draft(draft.title, draft.page)]
    size = 0
    for page, paragraph in draft.paragraphs:
        if parts[-1].paragraphs and size + len(paragraph) > MAX_SECTION_CHARS:
            parts.append(_Draft(draft.title + _CONTINUED, page))
            size = 0
        parts[-1].paragraphs.append((page, paragraph))
        size += len(paragraph) + 2
    return parts


def cut_sections(extracted: Extracted, document_title: str) -> tuple[list[Section], str]:
    """The sections of a document and its main language (by characters).

    Anchors: `page=N` / `slide=N` for paged documents (the page where the section starts), else the
    heading's slug, made unique within the document. Raises nothing: an empty list means no text."""
    sections: list[Section] = []
    used: set[str] = set()
    for draft in (part for d in _drafts(extracted, document_title) for part in _split(d)):
        text = "\n\n".join(p for _, p in draft.paragraphs)
        if extracted.page_kind and draft.page is not None:
            anchor = f"{extracted.page_kind}={draft.page}"
        else:
            base = slug(draft.title.removesuffix(_CONTINUED))
            anchor, n = base, 1
            while anchor in used:
                n += 1
                anchor = f"{base}-{n}"
            used.add(anchor)
        guess = language(text) if len(text) >= MIN_LANGUAGE_CHARS else ""
        sections.append(Section(draft.title, text, anchor, draft.page, guess))
    votes: dict[str, int] = {}
    for section in sections:
        if section.language:
            votes[section.language] = votes.get(section.language, 0) + section.chars
    main = max(votes, key=lambda k: votes[k]) if votes else language(" ".join(s.text for s in sections))
    return [s if s.language else Section(s.title, s.text, s.anchor, s.page, main) for s in sections], main
