"""Natural-language inference: P(entailment), P(neutral), P(contradiction) for pairs.

The premise is the official sentence, the hypothesis is the claim. Any object with a
``model_id`` and ``score(pairs) -> [(p_entail, p_neutral, p_contradict)]`` serves; the
real one wraps a local Hugging Face sequence-classification directory (a
sentence-transformers CrossEncoder directory is one), reading its label order from its
``config.json`` rather than assuming it.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verify.errors import InputError, ModelError
from verify.util import text_hash

BUNDLED_NLI = Path(__file__).resolve().parents[1] / "models" / "nli-minilm"
LABEL_ALIASES = {
    "entailment": "entailment", "entail": "entailment", "entails": "entailment", "supports": "entailment",
    "neutral": "neutral", "not_enough_info": "neutral", "not enough info": "neutral",
    "contradiction": "contradiction", "contradict": "contradiction", "contradicts": "contradiction",
    "refutes": "contradiction",
}
MAX_LENGTH = 256
# Scores are rounded so that a pair gets the same numbers whatever else shares its batch:
# padding to a different width changes the last bits of a float32 forward pass.
DECIMALS = 5


@dataclass
class PairScore:
    entail: float
    neutral: float
    contradict: float
    truncated: bool = False

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.entail, self.neutral, self.contradict)


class NLIModel:
    """What verify asks of an NLI model: a ``model_id`` and ``score_pairs``.

    A model implements ``score_pairs`` (probabilities and whether the pair was truncated)
    or only ``score`` (probabilities: entail, neutral, contradict); each defaults to the
    other, so implementing neither recurses.
    """

    model_id: str

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[PairScore]:
        return [PairScore(*s) for s in self.score(pairs)]

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, float, float]]:
        return [s.as_tuple() for s in self.score_pairs(pairs)]


def label_order(config: dict, where: str) -> list[int]:
    """Indices of (entailment, neutral, contradiction) in the model's output."""
    id2label = config.get("id2label") or {}
    found: dict[str, int] = {}
    for idx, name in id2label.items():
        canon = LABEL_ALIASES.get(str(name).strip().lower())
        if canon:
            found[canon] = int(idx)
    missing = [lab for lab in ("entailment", "neutral", "contradiction") if lab not in found]
    if missing:
        labels = ", ".join(str(v) for v in id2label.values()) or "none"
        raise ModelError(f"{where}: not an NLI model (labels are {labels}; need entailment, neutral, contradiction)")
    return [found["entailment"], found["neutral"], found["contradiction"]]


class TransformersNLI(NLIModel):
    """A local NLI cross-encoder directory, scored on the CPU.

    Args:
        path: directory with ``config.json`` (with an entailment/neutral/contradiction
            ``id2label``), tokenizer files and weights.
        batch_size: pairs per forward pass; pairs are sorted by length first so each
            batch pads little.
        max_length: longer pairs are truncated, and say so in ``PairScore.truncated``.
    """

    def __init__(self, path: str | os.PathLike, batch_size: int = 32, max_length: int = MAX_LENGTH):
        path = Path(path)
        cfg_path = path / "config.json"
        if not path.is_dir():
            raise ModelError(f"{path}: NLI model directory not found")
        if not cfg_path.exists():
            raise ModelError(f"{path}: not a model directory (no config.json)")
        try:
            config = json.loads(cfg_path.read_text())
        except ValueError:
            raise ModelError(f"{cfg_path}: not valid JSON") from None
        self.order = label_order(config, str(path))
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                str(path), local_files_only=True, dtype=torch.float32)
        except Exception as e:  # any loader failure means the directory is unusable
            raise ModelError(f"{path}: cannot load NLI model ({str(e).splitlines()[0][:200]})") from None
        self.model.eval()
        self.torch = torch
        self.path = path
        self.batch_size = batch_size
        self.max_length = min(max_length, getattr(self.tokenizer, "model_max_length", max_length) or max_length)
        self.model_id = f"{path.name}@{_weights_digest(path)}"

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[PairScore]:
        for premise, hypothesis in pairs:
            if not premise.strip() or not hypothesis.strip():
                raise InputError("NLI needs non-empty premise and hypothesis")
        if not pairs:
            return []
        lengths = [len(ids) for ids in self.tokenizer([p for p, _ in pairs], [h for _, h in pairs],
                                                      truncation=False)["input_ids"]]
        order = sorted(range(len(pairs)), key=lambda i: lengths[i])
        out: list[PairScore | None] = [None] * len(pairs)
        with self.torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                enc = self.tokenizer([pairs[i][0] for i in idx], [pairs[i][1] for i in idx], padding=True,
                                     truncation=True, max_length=self.max_length, return_tensors="pt")
                probs = self.torch.softmax(self.model(**enc).logits.float(), dim=-1).tolist()
                for i, p in zip(idx, probs):
                    e, n, c = (round(p[j], DECIMALS) for j in self.order)
                    out[i] = PairScore(e, n, c, lengths[i] > self.max_length)
        return out  # type: ignore[return-value]



def _weights_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def resolve_nli_path(spec: str | None) -> Path | None:
    """The model directory ``load_nli(spec)`` would load, or None for similarity only."""
    from verify.settings import settings

    spec = spec or settings().nli_model or ""
    if spec.lower() == "none":
        return None
    if spec:
        return Path(spec)
    return BUNDLED_NLI if (BUNDLED_NLI / "config.json").exists() else None


def nli_model_id(spec: str | None) -> str | None:
    """The model id ``load_nli(spec)`` would report, computed without loading the model."""
    path = resolve_nli_path(spec)
    if path is None:
        return None
    if not (path / "config.json").exists():
        raise ModelError(f"{path}: not a model directory (no config.json)")
    return f"{path.name}@{_weights_digest(path)}"


def load_nli(spec: str | None) -> NLIModel | None:
    """The NLI model to use.

    Args:
        spec: a model directory, ``"none"`` for similarity-only checking, or ``None`` for
            ``$VERIFY_NLI_MODEL`` and then the model shipped inside the package.
    """
    path = resolve_nli_path(spec)
    return TransformersNLI(path) if path is not None else None


def score_cached(corpus, model: NLIModel, pairs: Sequence[tuple[str, str]]) -> list[PairScore]:
    """Scores for ``pairs``, computing only those not cached for this model in corpus.db."""
    keys = [(text_hash(p), text_hash(h)) for p, h in pairs]
    cached = corpus.cached_nli(model.model_id, keys)
    todo = sorted({k: i for i, k in enumerate(keys) if k not in cached}.items(), key=lambda kv: kv[1])
    if todo:
        todo_pairs = [pairs[i] for _, i in todo]
        scored = model.score_pairs(todo_pairs)
        rows = []
        for (key, _), s in zip(todo, scored):
            cached[key] = (s.entail, s.neutral, s.contradict, int(s.truncated))
            rows.append((*key, s.entail, s.neutral, s.contradict, int(s.truncated)))
        corpus.store_nli(model.model_id, rows)
    return [PairScore(*cached[k][:3], bool(cached[k][3])) for k in keys]
