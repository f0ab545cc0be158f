"""Embedders behind one small protocol: the real sentence-transformers model and a fake for fast tests."""

from bot.embedding.base import Embedder
from bot.embedding.fake import FakeEmbedder

__all__ = ["Embedder", "FakeEmbedder"]
