"""What the pair generators (``hard_cases.py``, ``desk_cases.py``) share: their command
line, the split they draw from, and how they write their cases.

Both draw training cases from the pairs ``train_nli.py`` trains on and held-out cases
from its validation pairs, so they must split the same files the same way it does.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
WORDNET = Path("/usr/share/wordnet")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parser(description: str, name: str, per_kind: int, heldout_per_kind: int,
           wordnet_needs: str) -> argparse.ArgumentParser:
    """The options every generator takes; ``name`` names its output files in build/."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+",
                    default=[SHARED / "nli/train_mix.jsonl", SHARED / "nli/extra_nli.jsonl"],
                    help="the pairs files train_nli.py trains on (same order: the split depends on it)")
    ap.add_argument("--val-size", type=int, default=3000)
    ap.add_argument("--extra-val-size", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=ROOT / f"build/{name}.jsonl")
    ap.add_argument("--heldout", type=Path, default=ROOT / f"build/{name}_heldout.jsonl")
    ap.add_argument("--per-kind", type=int, default=per_kind, help="training pairs per generator")
    ap.add_argument("--heldout-per-kind", type=int, default=heldout_per_kind)
    ap.add_argument("--wordnet", type=Path, default=WORDNET, help=f"WordNet dict folder ({wordnet_needs})")
    ap.add_argument("--seed", type=int, default=13)
    return ap


def split(args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """(training pairs, validation pairs) as ``train_nli.py`` splits ``args.data``.

    A training pair that shares a sentence with a validation pair is dropped, so held-out
    cases are made from text the model has never been trained on.
    """
    from train_nli import split_data  # scripts/ is on the path: it is where this module was found

    _, train, val, val_extra = split_data(args.data, args.val_size, args.extra_val_size, args.seed)
    held_texts = {t for p in val + val_extra for t in (p["premise"], p["hypothesis"])}
    train = [p for p in train if p["premise"] not in held_texts and p["hypothesis"] not in held_texts]
    return train, val + val_extra


def write_cases(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` as JSONL and log how many of each generator and label."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = Counter((r["source"], r["label"]) for r in rows)
    log(f"{path}: {len(rows)} pairs " + ", ".join(f"{source.split(':')[1]}/{label[:4]} {n}"
                                                 for (source, label), n in sorted(counts.items())))
