"""Export the embedding model's encoder to ONNX (`<model>/onnx/model.onnx`) for ONNX Runtime.

The file holds the BERT encoder only (input_ids, attention_mask -> last_hidden_state); tokenisation,
the E5 prompts, mean pooling and normalisation stay in `assistant/storage/onnx_encoder.py`, exactly as
sentence-transformers does them. A no-op when the export is newer than the model weights.

Usage: python scripts/export_onnx.py --model models/multilingual-e5-small
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ONNX_FILE = Path("onnx") / "model.onnx"


def export(model_dir: Path) -> Path:
    target = model_dir / ONNX_FILE
    weights = model_dir / "model.safetensors"
    if target.is_file() and target.stat().st_mtime >= weights.stat().st_mtime:
        print(f"{target}: up to date")
        return target
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()
    ids = torch.tensor([[0, 1000, 2000, 2]], dtype=torch.int64)
    mask = torch.ones_like(ids)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")

    class Encoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    with torch.no_grad():
        torch.onnx.export(Encoder(model), (ids, mask), str(partial), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "last_hidden_state": {0: "batch", 1: "tokens"}})
    os.replace(partial, target)  # a reader never sees half a file
    print(f"{target}: exported ({target.stat().st_size / 1e6:.0f} MB)")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    args = parser.parse_args()
    if not (args.model / "model.safetensors").is_file():
        sys.exit(f"{args.model}: no model.safetensors; run scripts/build_embedding_model.py first.")
    export(args.model)


if __name__ == "__main__":
    main()
