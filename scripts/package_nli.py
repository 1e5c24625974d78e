#!/usr/bin/env python
"""Pack a trained NLI model for shipping: int8 encoder weights, fp16 embeddings.

A 12-layer model (all-mpnet-base-v2 fine-tuned, 110 M parameters) is 420 MB in float32 and
210 MB in fp16, over what the package may carry. Packed, each encoder linear weight is
stored as int8 in groups of 64 columns with a float scale per group and the embedding
tables in fp16 (the rest, small, in float32): about 135 MB, read back by
``verify.pipeline.nli.load_packed``. With ``--runtime bfloat16`` (the default) the loader
runs the model in bfloat16, as it was trained (autocast): about twice the speed of float32
on a CPU with bfloat16 instructions. Measure what both cost with
``scripts/eval_nli.py --model OUT`` against the unpacked model.

Torch's dynamic int8 (``quantize_dynamic``) was tried and is not used: quantising the
activations per tensor flips the argmax of half of a sample of MNLI pairs with MPNet, and
the API is deprecated.

Example:
    python scripts/package_nli.py build/nli-mpnet-v3/final-fp32 verify/models/nli-mpnet
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verify.pipeline.nli import GROUP, PACKING_KEY, SCALE_SUFFIX, pack_int8  # noqa: E402

COPIED = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "training.json")


def shard(state: dict, limit_bytes: int) -> list[dict]:
    """``state`` split, in key order, into dicts of at most ``limit_bytes`` each (a weight
    and its scale stay together)."""
    shards, current, size = [], {}, 0
    for key in [k for k in state if not k.endswith(SCALE_SUFFIX)]:
        group = {key: state[key]}
        if key + SCALE_SUFFIX in state:
            group[key + SCALE_SUFFIX] = state[key + SCALE_SUFFIX]
        nbytes = sum(t.numel() * t.element_size() for t in group.values())
        if current and size + nbytes > limit_bytes:
            shards.append(current)
            current, size = {}, 0
        current.update(group)
        size += nbytes
    if current:
        shards.append(current)
    return shards


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="a trained model directory (float32 or fp16 safetensors)")
    ap.add_argument("out", type=Path, help="the packed model directory to write (replaced)")
    ap.add_argument("--runtime", choices=("bfloat16", "float32"), default="bfloat16",
                    help="the dtype the loader runs the model in (default: bfloat16)")
    ap.add_argument("--shard-mb", type=float, default=90.0,
                    help="largest weights file, in MiB: git hosts refuse files over 100 MB (default: 90)")
    args = ap.parse_args(argv)

    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(args.source), local_files_only=True,
                                                               dtype=torch.float32)
    state = pack_int8(model)
    for key in state:
        if ".embeddings." in key and state[key].dtype == torch.float32:
            state[key] = state[key].half()  # fp16 keeps the embeddings' argmax; int8 rows would not pay here
    tmp = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shards = shard(state, int(args.shard_mb * 2**20))
    for i, part in enumerate(shards, 1):
        save_file(part, str(tmp / f"model-{i:05d}-of-{len(shards):05d}.safetensors"), metadata={"format": "pt"})
    config = json.loads((args.source / "config.json").read_text())
    config[PACKING_KEY] = {"weights": "int8-groups", "group": GROUP, "runtime": args.runtime,
                           "embeddings": "float16", "packed_tensors": sum(k.endswith(SCALE_SUFFIX) for k in state)}
    config["dtype"] = "float32"
    (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for name in COPIED:
        if (args.source / name).exists():
            shutil.copy2(args.source / name, tmp / name)
    for f in tmp.iterdir():
        f.chmod(0o644)  # safetensors writes owner-only files; a package's files are for everyone
    if args.out.exists():
        shutil.rmtree(args.out)
    tmp.rename(args.out)
    size = sum(f.stat().st_size for f in args.out.glob("*.safetensors")) / 2**20
    print(f"packed {config[PACKING_KEY]['packed_tensors']} linear weights into {len(shards)} file(s), "
          f"{size:.1f} MiB, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
