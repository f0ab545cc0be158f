"""The composition root: builds the domain services from the configuration."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.config import Config
from bot.embedding.install import load_embedder
from bot.retrieval.index import build_index, load_index, stale_reason
from bot.retrieval.search import Searcher

log = logging.getLogger(__name__)


def open_searcher(config: Config, *, say: Callable[[str], None] = log.warning) -> Searcher:
    """Load the model and the index, rebuilding the index first (and saying why) when it is stale."""
    embedder = load_embedder(config)
    knowledge_dir, index_dir = config.path(config.knowledge_dir), config.path(config.index_dir)
    reason = stale_reason(index_dir, knowledge_dir, embedder.name)
    if reason is not None:
        say(f"Rebuilding the index in {index_dir}: {reason}.")
        report = build_index(knowledge_dir, index_dir, embedder, progress=say)
        say(
            f"Index built: {report.resources} resources, {report.chunks} passages "
            f"({report.embedded} embedded)."
        )
    return Searcher(load_index(index_dir), embedder, config.retrieval)
