from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import Config, load_config

pytest_plugins = ["tests.storage_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "knowledge"
DOMAIN_SOURCES = Path(__file__).resolve().parent / "data" / "domain_sources.txt"
SEED = Path(__file__).resolve().parent / "data" / "catalyse-territoriale-atelier-2021-06-02.txt"


def domain_sources() -> set[str]:
    """The source URLs of the domain briefing (tests/data/domain_sources.txt, comments left out)."""
    lines = DOMAIN_SOURCES.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def write_config(
    folder: Path, *, model: str = "fake:256", knowledge: Path | None = None, **retrieval: object
) -> Path:
    lines = [
        f"knowledge_dir: {knowledge or folder / 'knowledge'}",
        f"index_dir: {folder / 'index'}",
        "embedding:",
        f"  model: '{model}'",
        f"  cache_dir: {Path.home() / '.cache/catabot/models'}",
    ]
    if retrieval:
        lines.append("retrieval:")
        lines += [f"  {key}: {value}" for key, value in retrieval.items()]
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A private copy of the real knowledge base, safe to edit."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


@pytest.fixture
def fake_config(tmp_path: Path, knowledge_copy: Path) -> Config:
    """The real knowledge base with the fast deterministic embedder, in a temporary folder."""
    return load_config(write_config(tmp_path), env={})


@pytest.fixture
def seed_text() -> str:
    """The text of the workshop deck this project started from (tests/data/, a copy of ../shared/seed/)."""
    if not SEED.exists():
        pytest.fail(f"the seed document is missing: {SEED}")
    return SEED.read_text(encoding="utf-8")
