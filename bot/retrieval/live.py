"""The index of a running bot, kept in step with `knowledge/` on disk.

`refresh()` (called on a timer, and right after a coordinator adds to the knowledge) compares the knowledge's
content hash with the one the current index was built from. When they differ it rebuilds the stored index
if it is stale (re-embedding only the changed passages, in a worker thread), loads it, and hands a new
`Searcher` to `on_swap`. The swap is one assignment on the event loop: a batch of questions already handed
to the old searcher finishes on it, the next batch uses the new one, so no answer mixes two indexes.

Several instances sharing `knowledge/` and `index/` converge: each one loads the stored index whose manifest
matches the knowledge it sees; whichever notices a stale index first rebuilds it (the files are replaced
atomically, see `bot.retrieval.index`), and a half-replaced index is never loaded (the manifest is read
again after loading; a mismatch waits for the next tick).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.retrieval.index import MANIFEST, build_index, content_hash, load_index, stale_reason
from bot.retrieval.search import Searcher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Swap:
    """What a refresh did: the content hash now served, and how many passages were embedded (0: loaded)."""

    content_hash: str
    embedded: int


class LiveIndex:
    def __init__(
        self,
        searcher: Searcher,
        knowledge_dir: Path,
        index_dir: Path,
        on_swap: Callable[[Searcher], None] = lambda _: None,
    ) -> None:
        self.current = searcher
        self.knowledge_dir = knowledge_dir
        self.index_dir = index_dir
        self._on_swap = on_swap
        self._lock = asyncio.Lock()

    @property
    def content_hash(self) -> str:
        return str(self.current.index.manifest.get("content_hash", ""))

    async def refresh(self) -> Swap | None:
        """Swap in the index of the knowledge on disk if it changed; the swap, or None when nothing did.

        Errors (a broken resource written by hand, an unreadable index) are logged and leave the current
        index serving; the next call tries again.
        """
        async with self._lock:
            try:
                loaded = await asyncio.to_thread(self._load_if_changed)
            except Exception:
                log.exception("the knowledge changed but its index could not be loaded; serving the old one")
                return None
            if loaded is None:
                return None
            swap, searcher = loaded
            self.current = searcher  # on the event loop, between two batches of questions
            self._on_swap(searcher)
            log.info("index swapped: %d passages (%d embedded)", len(searcher.index.chunks), swap.embedded)
            return swap

    def _load_if_changed(self) -> tuple[Swap, Searcher] | None:
        wanted = content_hash(self.knowledge_dir)
        if wanted == self.content_hash:
            return None
        embedder = self.current.embedder
        embedded = 0
        runtime = {"backend": embedder.backend, "precision": embedder.precision}
        if stale_reason(self.index_dir, self.knowledge_dir, embedder.name, **runtime) is not None:
            embedded = build_index(self.knowledge_dir, self.index_dir, embedder).embedded
        before = (self.index_dir / MANIFEST).read_bytes()
        index = load_index(self.index_dir)
        if (self.index_dir / MANIFEST).read_bytes() != before or index.manifest.get("content_hash") != wanted:
            return None  # another instance replaced the files meanwhile: the next tick loads the new ones
        return Swap(wanted, embedded), Searcher(index, embedder, self.current.config)
