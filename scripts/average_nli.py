#!/usr/bin/env python
"""Average the weights of two fine-tunes of one NLI model (a "model soup": Wortsman et al.,
2022, "Model soups: averaging weights of multiple fine-tuned models improves accuracy
without increasing inference time").

A run continued from an earlier one (``train_nli.py --base`` that model, unpacked) can gain
on one kind of pair and lose on another: the continuation of the v3 mpnet model confirmed
more paraphrases and found fewer contradictions. Averaging it with the run it continued
from keeps part of each, at no cost in speed. Both models must have one architecture and
label order. The output is a float32 model directory for ``scripts/package_nli.py``; its
``training.json`` is the second model's record with an ``averaged`` entry: the weight, the
other model's record (unless it is the run the second continued from, which the record
already holds) and this command.

The weight is a decision like any other: pick it on claim-level figures (``verify eval``,
the seed case) and pair figures together, and say which weights were tried.

Example:
    python scripts/average_nli.py build/nli-mpnet-v3-unpacked build/nli-mpnet-v4/final-fp32 \\
        --weight 0.3 --out build/nli-mpnet-soup
    python scripts/package_nli.py build/nli-mpnet-soup verify/models/nli-mpnet
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verify.pipeline.nli import PACKING_KEY  # noqa: E402

COPIED = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


class AverageError(Exception):
    """The two models cannot be averaged."""


def _config(folder: Path) -> dict:
    config = json.loads((folder / "config.json").read_text())
    if config.get(PACKING_KEY):
        raise AverageError(f"{folder}: a packed model; average the float32 models it was packed from")
    return config


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise AverageError(f"{folder}: no safetensors weights")
    state = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


def _record(folder: Path) -> dict:
    path = folder / "training.json"
    return json.loads(path.read_text()) if path.exists() else {"base": folder.name}


def average(first: Path, second: Path, weight: float, out: Path, command: str = "") -> dict:
    """Write ``(1 - weight) * first + weight * second`` to ``out``; return its training record."""
    from safetensors.torch import save_file

    if not 0 < weight < 1:
        raise AverageError(f"--weight {weight}: must lie strictly between 0 and 1")
    labels = [_config(f).get("id2label") for f in (first, second)]
    if labels[0] != labels[1]:
        raise AverageError(f"label orders differ: {labels[0]} / {labels[1]}")
    a, b = _weights(first), _weights(second)
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise AverageError("the two models do not share one architecture (tensor names or shapes differ)")
    soup = {k: ((1 - weight) * a[k].float() + weight * b[k].float()).contiguous()
            if b[k].is_floating_point() else b[k] for k in b}
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.safetensors"):
        old.unlink()
    save_file(soup, str(out / "model.safetensors"), metadata={"format": "pt"})
    for name in COPIED:
        if (second / name).exists():
            shutil.copy2(second / name, out / name)
    record, other = _record(second), _record(first)
    continued = record.get("continued_from")
    record["averaged"] = {"weight": weight, "command": command,
                          "with": "continued_from" if continued == other else other}
    (out / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("first", type=Path, help="a float32 model directory (weight 1 - W)")
    ap.add_argument("second", type=Path, help="a float32 model directory of the same architecture (weight W)")
    ap.add_argument("--weight", type=float, required=True, help="W, the second model's share, between 0 and 1")
    ap.add_argument("--out", type=Path, required=True, help="the averaged model directory to write")
    args = ap.parse_args(argv)
    command = "python scripts/average_nli.py " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        average(args.first, args.second, args.weight, args.out, command)
    except (AverageError, OSError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"averaged {args.first} ({1 - args.weight:g}) and {args.second} ({args.weight:g}) into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
