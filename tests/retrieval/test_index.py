from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.app import open_searcher
from bot.config import Config
from bot.embedding.base import Vectors
from bot.embedding.fake import FakeEmbedder
from bot.retrieval.chunker import CHUNKER_VERSION
from bot.retrieval.index import build_index, content_hash, load_index, stale_reason


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__(256)
        self.embedded: list[str] = []

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        self.embedded += list(texts)
        return super().embed_passages(texts)


def _dirs(config: Config) -> tuple[Path, Path]:
    return config.path(config.knowledge_dir), config.path(config.index_dir)


def test_manifest_says_which_model_and_content_built_the_index(fake_config: Config) -> None:
    knowledge, index = _dirs(fake_config)
    report = build_index(knowledge, index, FakeEmbedder(256))
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["model"] == "fake-hash-256"
    assert manifest["dimension"] == 256
    assert manifest["content_hash"] == content_hash(knowledge)
    assert manifest["chunker_version"] == CHUNKER_VERSION
    loaded = load_index(index)
    assert len(loaded.chunks) == report.chunks > report.resources
    assert all(chunk.title in chunk.embedding_text for chunk in loaded.chunks)


def test_only_changed_passages_are_embedded_again(fake_config: Config) -> None:
    knowledge, index = _dirs(fake_config)
    first = CountingEmbedder()
    build_index(knowledge, index, first)
    fiche = knowledge / "fiches" / "metier-gestion-lieu.md"
    fiche.write_text(
        fiche.read_text(encoding="utf-8")
        + "\n## Une section ajoutée\n"
        + "<!-- sources: https://associations.gouv.fr/les-catalyseurs-territoriaux-11363.html -->\n"
        + "Un lieu partagé.\n"
    )
    second = CountingEmbedder()
    report = build_index(knowledge, index, second)
    assert report.embedded == 1 and report.reused == report.chunks - 1
    assert second.embedded == [
        c.embedding_text for c in load_index(index).chunks if c.heading == "Une section ajoutée"
    ]


def test_a_stale_index_is_detected_and_rebuilt_with_a_reason(fake_config: Config) -> None:
    knowledge, index = _dirs(fake_config)
    assert stale_reason(index, knowledge, "fake-hash-256") == "no index has been built yet"
    build_index(knowledge, index, FakeEmbedder(256))
    assert stale_reason(index, knowledge, "fake-hash-256") is None
    assert "model" in str(stale_reason(index, knowledge, "another-model"))
    (knowledge / "faq" / "faq-01-catalyseur-territorial.md").unlink()
    assert (
        stale_reason(index, knowledge, "fake-hash-256")
        == "the knowledge base changed since the index was built"
    )
    said: list[str] = []
    searcher = open_searcher(fake_config, say=said.append)
    assert said[0].startswith(f"Rebuilding the index in {index}: the knowledge base changed")
    assert "faq-01-catalyseur-territorial" not in {c.resource_id for c in searcher.index.chunks}


def test_a_half_written_index_is_never_trusted(fake_config: Config) -> None:
    knowledge, index = _dirs(fake_config)
    build_index(knowledge, index, FakeEmbedder(256))
    (index / "vectors.npy").unlink()
    assert stale_reason(index, knowledge, "fake-hash-256") == "index files are missing"


@pytest.mark.parametrize("bad", ["{", "[]"])
def test_an_unreadable_manifest_means_rebuild(fake_config: Config, bad: str) -> None:
    knowledge, index = _dirs(fake_config)
    index.mkdir()
    (index / "manifest.json").write_text(bad)
    assert stale_reason(index, knowledge, "fake-hash-256") is not None
