"""Shared pieces of the benchmark scripts: reproducible real sentences, raw model baselines."""
from __future__ import annotations

import json
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def nli_sentences(min_words: int = 6, max_words: int = 60) -> list[str]:
    """Distinct, whitespace-normalised premises and hypotheses of the NLI training file, sorted."""
    seen = set()
    with open(SHARED / "nli/train_mix.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            for s in (row["premise"], row["hypothesis"]):
                s = " ".join(s.split())
                if min_words <= len(s.split()) <= max_words:
                    seen.add(s)
    return sorted(seen)


def raw_nli_forward(nli, pairs: list[tuple[str, str]], batch_size: int) -> None:
    """The baseline verify's NLI serving is measured against: tokenise, forward, softmax.

    Pairs are length-sorted like the wrapper does, so the comparison isolates its overhead.
    """
    torch, tok, net = nli.torch, nli.tokenizer, nli.model
    order = sorted(pairs, key=lambda ph: len(ph[0]) + len(ph[1]))
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            b = order[s:s + batch_size]
            enc = tok([p for p, _ in b], [h for _, h in b], padding=True, truncation=True,
                      max_length=nli.max_length, return_tensors="pt")
            torch.softmax(net(**enc).logits, dim=-1)
