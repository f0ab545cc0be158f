"""Cut resources into passages at their `## ` headings, keeping the resource title with each passage."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from bot.knowledge import Resource

CHUNKER_VERSION = 3
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
# A section's own sources; the first one is the link shown with its passages.
_SOURCES = re.compile(r"^\s*<!--\s*sources:\s*(.+?)\s*-->\s*$")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)]+)\)")


@dataclass(frozen=True)
class Chunk:
    id: str
    resource_id: str
    title: str
    heading: str
    text: str
    url: str
    type: str
    roles: tuple[str, ...]
    tags: tuple[str, ...]
    # Set for passages of an imported document: its own date (ISO, "" when unknown).
    imported: bool = False
    document_date: str = ""

    @property
    def embedding_text(self) -> str:
        head = f"{self.title}. {self.heading}." if self.heading else f"{self.title}."
        return f"{head}\n{self.text}"

    @property
    def lexical_text(self) -> str:
        return f"{self.embedding_text}\n{' '.join(self.tags)}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(**{**data, "roles": tuple(data["roles"]), "tags": tuple(data["tags"])})


def plain_text(markdown: str) -> str:
    """Markdown to the plain text users see: emphasis marks dropped, links written as « text (url) »."""
    text = _EMPHASIS.sub(r"\2", markdown)
    text = _LINK.sub(r"\1 (\2)", text)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def chunk_resource(resource: Resource) -> list[Chunk]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in resource.body.splitlines():
        match = _HEADING.match(line)
        if match:
            sections.append((match.group(1).strip(), []))
        else:
            sections[-1][1].append(line)
    chunks: list[Chunk] = []
    for heading, lines in sections:
        markers = [m.group(1) for m in map(_SOURCES.match, lines) if m]
        url = markers[0].split(",")[0].strip() if markers else resource.url
        text = plain_text("\n".join(line for line in lines if not _SOURCES.match(line)))
        if not text:
            continue
        chunks.append(
            Chunk(
                id=f"{resource.id}#{len(chunks)}",
                resource_id=resource.id,
                title=resource.title,
                heading=plain_text(heading),
                text=text,
                url=url,
                type=resource.type,
                roles=resource.roles,
                tags=resource.tags,
                imported=bool(resource.imported_from),
                document_date=resource.document_date.isoformat() if resource.document_date else "",
            )
        )
    return chunks
