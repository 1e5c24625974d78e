#!/usr/bin/env python
"""Mix generated pair files into one ``--extra`` file for ``scripts/train_nli.py``.

Every pair of the ``--all`` files is kept; ``--sample N FILE`` adds a random N of FILE's
pairs (seeded). The mpnet model's extra file was made this way from the two generators'
outputs: all desk cases and 12,000 of the hard cases, so that the lessons a desk's prose
needs weigh as much as the older hard cases on a base that trains at 4 pairs a second.

Example:
    python scripts/mix_cases.py build/v3_extra_small.jsonl --all build/desk_cases.jsonl \\
        --sample 12000 build/hard_cases.jsonl
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--all", type=Path, nargs="*", default=[], help="files kept whole")
    ap.add_argument("--sample", nargs=2, action="append", default=[], metavar=("N", "FILE"),
                    help="a random N pairs of FILE (repeatable)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    lines: list[str] = []
    for path in args.all:
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for n, path in args.sample:
        pool = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        if int(n) > len(pool):
            print(f"{path}: has {len(pool)} pairs, fewer than {n}", file=sys.stderr)
            return 2
        lines += rng.sample(pool, int(n))
    rng.shuffle(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"{args.out}: {len(lines)} pairs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
