"""Cut resources into passages at their `## ` headings, keeping the resource title and section sources."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from bot.knowledge import Resource

CHUNKER_VERSION = 3
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)]+)\)")


@dataclass(frozen=True)
class Chunk:
    """One passage. `url`: its section's first source (the links shown: `Hit.urls`); `sources`: all the
    sources of its section (the `<!-- sources: … -->` marker, see bot.knowledge.sections)."""

    id: str
    resource_id: str
    title: str
    heading: str
    text: str
    url: str
    type: str
    roles: tuple[str, ...]
    tags: tuple[str, ...]
    sources: tuple[str, ...] = ()
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
        tuples = {k: tuple(data.get(k, ())) for k in ("roles", "tags", "sources")}
        return cls(**{**data, **tuples})


def plain_text(markdown: str) -> str:
    """Markdown to the plain text users see: emphasis marks dropped, links written as « text (url) »."""
    text = _EMPHASIS.sub(r"\2", markdown)
    text = _LINK.sub(r"\1 (\2)", text)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def chunk_resource(resource: Resource) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in resource.sections:
        text = plain_text(section.text)
        if not text:
            continue
        chunks.append(
            Chunk(
                id=f"{resource.id}#{len(chunks)}",
                resource_id=resource.id,
                title=resource.title,
                heading=plain_text(section.heading),
                text=text,
                url=section.sources[0],
                type=resource.type,
                roles=resource.roles,
                tags=resource.tags,
                sources=section.sources,
                imported=bool(resource.imported_from),
                document_date=resource.document_date.isoformat() if resource.document_date else "",
            )
        )
    return chunks
