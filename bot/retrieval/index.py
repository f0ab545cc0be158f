"""Build, store and load the index: chunks, their vectors, and a manifest saying what built them.

Files in the index folder: `manifest.json`, `chunks.json`, `vectors.npy`. The dense FAISS index and the
BM25 index are rebuilt from these at load time (milliseconds for this knowledge base).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bot.clock import utc_now
from bot.embedding.base import Embedder, Vectors
from bot.errors import CatabotError
from bot.knowledge import load_knowledge
from bot.retrieval.chunker import CHUNKER_VERSION, Chunk, chunk_resource
from bot.retrieval.lexical import LexicalIndex

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CHUNKS = "chunks.json"
VECTORS = "vectors.npy"


def content_hash(knowledge_dir: Path) -> str:
    """A hash of every resource file (path and bytes): it changes whenever the knowledge changes."""
    digest = hashlib.sha256()
    for path in sorted(knowledge_dir.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        digest.update(path.relative_to(knowledge_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Index:
    chunks: list[Chunk]
    vectors: Vectors
    manifest: dict[str, Any]

    def __post_init__(self) -> None:
        self.dense = faiss.IndexFlatIP(self.vectors.shape[1])
        if len(self.vectors):
            self.dense.add(self.vectors)
        self.lexical = LexicalIndex([c.lexical_text for c in self.chunks])


def stale_reason(
    index_dir: Path,
    knowledge_dir: Path,
    model: str,
    *,
    backend: str | None = None,
    precision: str | None = None,
) -> str | None:
    """Why the stored index cannot answer for this knowledge and model, or None when it can.

    `backend` and `precision` (see Embedder), when given, must be the ones that built the index too.
    """
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no index has been built yet"
    except (OSError, ValueError) as exc:
        return f"the index manifest is unreadable ({exc})"
    if not isinstance(manifest, dict):
        return "the index manifest is unreadable (not a JSON object)"
    if manifest.get("model") != model:
        return f"the index was built with the model {manifest.get('model')!r}, the config says {model!r}"
    for key, value in (("backend", backend), ("precision", precision)):
        if value is not None and manifest.get(key) != value:
            return f"the index was built with the {key} {manifest.get(key)!r}, this one is {value!r}"
    if manifest.get("chunker_version") != CHUNKER_VERSION:
        return "the index was built by another version of the chunker"
    if manifest.get("content_hash") != content_hash(knowledge_dir):
        return "the knowledge base changed since the index was built"
    if not (index_dir / CHUNKS).exists() or not (index_dir / VECTORS).exists():
        return "index files are missing"
    return None


class IndexUnreadable(CatabotError, ValueError):
    """The index files are damaged (truncated, not JSON, wrong shapes): rebuild with `catabot index`."""


def load_index(index_dir: Path) -> Index:
    """The stored index; `IndexUnreadable` when a file is damaged, `FileNotFoundError` when one is missing."""
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
        chunks = [Chunk.from_json(c) for c in json.loads((index_dir / CHUNKS).read_text(encoding="utf-8"))]
        vectors = np.load(index_dir / VECTORS, allow_pickle=False).astype(np.float32, copy=False)
        agree = (
            isinstance(manifest, dict)
            and vectors.ndim == 2
            and len(chunks) == len(vectors)
            and vectors.shape[1] == manifest.get("dimension")
        )
    except FileNotFoundError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, EOFError, OSError) as exc:
        raise IndexUnreadable(f"{index_dir}: the index is unreadable ({type(exc).__name__}: {exc})") from exc
    if not agree:
        raise IndexUnreadable(
            f"{index_dir}: chunks, vectors and manifest disagree; rebuild with `catabot index`"
        )
    return Index(chunks, vectors, manifest)


def _previous_vectors(index_dir: Path, embedder: Embedder) -> dict[str, Vectors]:
    """Vectors of the stored index by text hash, to re-embed only what changed."""
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
        runtime = (embedder.name, embedder.backend, embedder.precision)
        if (manifest.get("model"), manifest.get("backend"), manifest.get("precision")) != runtime:
            return {}
        hashes = manifest.get("text_hashes", [])
        vectors = np.load(index_dir / VECTORS, allow_pickle=False)
    except (OSError, ValueError, EOFError, AttributeError):  # damaged: everything is embedded again
        return {}
    if not isinstance(hashes, list) or vectors.ndim != 2 or len(hashes) != len(vectors):
        return {}
    return {h: vectors[i] for i, h in enumerate(hashes)}


@dataclass(frozen=True)
class BuildReport:
    resources: int
    chunks: int
    embedded: int
    reused: int


def build_index(
    knowledge_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> BuildReport:
    base = load_knowledge(knowledge_dir)
    chunks = [chunk for resource in base.resources for chunk in chunk_resource(resource)]
    hashes = [_text_hash(c.embedding_text) for c in chunks]
    previous = _previous_vectors(index_dir, embedder)
    missing = [i for i, h in enumerate(hashes) if h not in previous]
    progress(f"{len(chunks)} passages, {len(missing)} to embed, {len(chunks) - len(missing)} unchanged")
    fresh = embedder.embed_passages([chunks[i].embedding_text for i in missing]) if missing else None
    vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    fresh_rows = dict(zip(missing, range(len(missing)), strict=True))
    for i, h in enumerate(hashes):
        vectors[i] = fresh[fresh_rows[i]] if fresh is not None and i in fresh_rows else previous[h]
    manifest = {
        "model": embedder.name,
        "backend": embedder.backend,
        "precision": embedder.precision,
        "dimension": embedder.dimension,
        "content_hash": content_hash(knowledge_dir),
        "chunker_version": CHUNKER_VERSION,
        "resources": len(base.resources),
        "chunks": len(chunks),
        "built_at": utc_now().isoformat(timespec="seconds"),
        "text_hashes": hashes,
    }
    _write_atomically(index_dir, chunks, vectors, manifest)
    return BuildReport(len(base.resources), len(chunks), len(missing), len(chunks) - len(missing))


def _write_atomically(
    index_dir: Path, chunks: list[Chunk], vectors: Vectors, manifest: dict[str, Any]
) -> None:
    index_dir.mkdir(parents=True, exist_ok=True)
    staging = index_dir / f".build-{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    (staging / CHUNKS).write_text(
        json.dumps([c.to_json() for c in chunks], ensure_ascii=False, indent=1), encoding="utf-8"
    )
    np.save(staging / VECTORS, vectors)
    (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    # The old manifest goes first, the new one last: a crash mid-way leaves an index `stale_reason` rejects.
    (index_dir / MANIFEST).unlink(missing_ok=True)
    for name in (CHUNKS, VECTORS, MANIFEST):
        os.replace(staging / name, index_dir / name)
    staging.rmdir()
