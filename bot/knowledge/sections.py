"""A resource's body cut at its `## ` headings, each section with the sources its passage rests on.

Contract (the importer and the hand-written resources follow it): every `## ` section, and the text before the
first `## ` if there is some, carries exactly one marker line

    <!-- sources: URL[, URL…] -->

The first URL is the link shown with that passage. Each URL, without its `#fragment` (e.g. `#page=3`), must
be listed in the front matter's `sources`; a front-matter source no section uses is allowed. The marker line
is not part of the passage text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urldefrag

HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
MARKER = re.compile(r"^\s*<!--\s*sources\s*:(.*?)-->\s*$")
MARKER_EXAMPLE = "<!-- sources: URL[, URL…] -->"


@dataclass(frozen=True)
class Section:
    """`heading`: the `## ` title without its hashes ("" for the text before the first heading);
    `text`: the section's Markdown without its marker; `sources`: the marker's URLs, in order;
    `line`: 1-based line in the file of the heading (or of the first line of the leading text)."""

    heading: str
    text: str
    sources: tuple[str, ...]
    line: int


def without_fragment(url: str) -> str:
    return urldefrag(url).url


def marker_line(sources: Iterable[str]) -> str:
    """The marker a section carries, e.g. `<!-- sources: https://a.org/x, https://b.org/y#page=3 -->`."""
    return f"<!-- sources: {', '.join(sources)} -->"


@dataclass
class _Draft:
    heading: str
    line: int
    lines: list[tuple[int, str]]
    markers: list[tuple[int, str]]


def parse_sections(
    body: str, first_line: int, front_sources: Iterable[str]
) -> tuple[list[Section], list[tuple[int, str]]]:
    """Cut `body` (whose first line is line `first_line` of the file) into the sections that have text.

    Problems are `(file line, message)`: a section with text but no marker, a second marker in one section,
    a marker without URL or with a non-http(s) URL, a marker URL (fragment dropped) not in `front_sources`.
    """
    known = {without_fragment(s) for s in front_sources}
    drafts = [_Draft("", first_line, [], [])]
    for number, line in enumerate(body.splitlines(), start=first_line):
        heading = HEADING.match(line)
        marker = MARKER.match(line)
        if heading:
            drafts.append(_Draft(heading.group(1).strip(), number, [], []))
        elif marker:
            drafts[-1].markers.append((number, marker.group(1)))
        else:
            drafts[-1].lines.append((number, line))
    sections: list[Section] = []
    problems: list[tuple[int, str]] = []
    for draft in drafts:
        text = "\n".join(t for _, t in draft.lines).strip()
        if not text and not draft.markers:
            continue
        where = f"section « {draft.heading} »" if draft.heading else "text before the first '## ' heading"
        if not draft.heading:
            draft.line = next((n for n, t in draft.lines if t.strip()), 0) or draft.markers[0][0]
        if not draft.markers:
            if text:
                problems.append(
                    (draft.line, f"{where}: no sources marker (expected a line {MARKER_EXAMPLE})")
                )
            continue
        for number, _ in draft.markers[1:]:
            problems.append((number, f"{where}: more than one sources marker"))
        number, raw = draft.markers[0]
        urls = tuple(u.strip() for u in raw.split(",") if u.strip())
        if not urls:
            problems.append((number, f"{where}: the sources marker lists no URL"))
            continue
        for url in urls:
            if not is_source(without_fragment(url)) or any(c.isspace() for c in url):
                problems.append((number, f"{where}: {url!r} is not an http(s) URL or a file name"))
            elif without_fragment(url) not in known:
                problems.append((number, f"{where}: {url} is not in the front matter's sources"))
        if text:
            sections.append(Section(draft.heading, text, urls, draft.line))
    return sections, problems


_FILE_SOURCE = re.compile(r"^[^\s/\\#]+\.[A-Za-z0-9]{1,5}$")


def is_source(value: str) -> bool:
    """An http(s) URL, or the file name an imported document is cited by when it has no URL."""
    return value.startswith(("http://", "https://")) or _FILE_SOURCE.match(value) is not None
