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
from functools import lru_cache
from pathlib import Path

from verify.errors import InputError, ModelError
from verify.util import text_hash

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
# The models shipped inside the package, by the short names ``--nli-model`` takes. The
# first one present is the default.
BUNDLED_NAMES = {"mpnet": "nli-mpnet", "minilm": "nli-minilm"}
LABEL_ALIASES = {
    "entailment": "entailment", "entail": "entailment", "entails": "entailment", "supports": "entailment",
    "neutral": "neutral", "not_enough_info": "neutral", "not enough info": "neutral",
    "contradiction": "contradiction", "contradict": "contradiction", "contradicts": "contradiction",
    "refutes": "contradiction",
}
MAX_LENGTH = 256
# Scores are rounded so that a pair gets the same numbers whatever else shares its batch:
# padding to a different width changes the last bits of a float32 forward pass. A model
# run in bfloat16 moves by more (up to about 0.005 with the shipped mpnet model), which is
# one reason scores are cached: a pair is scored once per corpus and model, and a recheck
# reads the stored score instead of a new one.
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

        packing = config.get(PACKING_KEY)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            if packing:
                self.model = load_packed(path, packing)
            else:
                self.model = AutoModelForSequenceClassification.from_pretrained(
                    str(path), local_files_only=True, dtype=torch.float32)
        except ModelError:
            raise
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


# A packed model directory says so in config.json under this key. Its encoder's linear
# weights are stored as int8, each row in groups of GROUP columns with one float scale per
# group ("<name>" plus "<name>.int8_scale"); everything else as saved. A 12-layer model
# fits the package that way (fp16 would not), and groups of 64 keep its probabilities
# within about 0.02 of the unpacked model's where one scale per row moves them by 0.14.
# "runtime": "bfloat16" then runs the model in bfloat16, which it was trained under
# (autocast) and which halves the CPU time where the processor has bfloat16 instructions.
PACKING_KEY = "verify_packing"
SCALE_SUFFIX = ".int8_scale"
GROUP = 64


def pack_int8(model, group: int = GROUP) -> dict:
    """The state dict of ``model`` with each encoder ``nn.Linear`` weight packed as int8.

    Each row is cut into groups of ``group`` columns, quantised symmetrically with the
    group's own scale (absolute maximum / 127): an outlier then costs only its group. The
    classifier head and embeddings are left as they are (the caller may halve them).
    """
    import torch

    base = getattr(model, model.base_model_prefix)
    linear = {f"{model.base_model_prefix}.encoder.{name}.weight" for name, m in base.encoder.named_modules()
              if isinstance(m, torch.nn.Linear)}
    state = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().float()
        if key in linear and tensor.shape[1] % group == 0:
            rows = tensor.view(tensor.shape[0], -1, group)
            scale = rows.abs().amax(dim=2).clamp(min=1e-12) / 127.0
            q = torch.round(rows / scale[:, :, None]).clamp(-127, 127).to(torch.int8)
            state[key] = q.view_as(tensor).contiguous()
            state[key + SCALE_SUFFIX] = scale.contiguous()
        else:
            state[key] = tensor.contiguous()
    return state


def unpack_int8(state: dict) -> dict:
    """The float32 state dict a packed one stands for (the group size is read from the
    shape of each scale)."""
    import torch

    out = {}
    for key, tensor in state.items():
        if key.endswith(SCALE_SUFFIX):
            continue
        scale = state.get(key + SCALE_SUFFIX)
        if scale is None:
            out[key] = tensor.to(torch.float32)
            continue
        rows = tensor.float().view(tensor.shape[0], scale.shape[1], -1)
        out[key] = (rows * scale.float()[:, :, None]).view(tensor.shape)
    return out


def load_packed(path: Path, packing: dict):
    """A model from a packed directory (see ``PACKING_KEY``), ready for inference."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if packing.get("weights") != "int8-groups":
        raise ModelError(f"{path}: unknown weight packing {packing.get('weights')!r}")
    runtime = packing.get("runtime", "float32")
    if runtime not in ("float32", "bfloat16"):
        raise ModelError(f"{path}: unknown runtime {runtime!r}")
    config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    try:  # random initialisation of weights about to be replaced takes 2 of a 3 s load
        from transformers.initialization import no_init_weights
    except ImportError:  # older transformers
        from contextlib import nullcontext as no_init_weights
    with no_init_weights():
        model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    state: dict = {}
    for shard in sorted(path.glob("*.safetensors")):
        state.update(load_file(str(shard)))
    missing, unexpected = model.load_state_dict(unpack_int8(state), strict=False)
    if missing or unexpected:
        raise ModelError(f"{path}: weights do not fit the config (missing {len(missing)}, unexpected "
                         f"{len(unexpected)} tensors)")
    return model.to(getattr(torch, runtime)).eval()


def _weights_digest(path: Path) -> str:
    files = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    stamp = tuple((f.name, st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()])
    config = path / "config.json"
    return _digest_files(str(path.resolve()), stamp, config.stat().st_mtime_ns if config.exists() else None)


@lru_cache(maxsize=8)
def _digest_files(path: str, stamp: tuple, config_time: int | None) -> str:
    """Hashing 141 MB takes a fraction of a second: once per process per version of the
    files (``stamp``: names, sizes and modification times; the config's time)."""
    path = Path(path)
    h = hashlib.sha256()
    try:
        packing = json.loads((path / "config.json").read_text()).get(PACKING_KEY)
    except (OSError, ValueError):
        packing = None
    if packing:  # the same weights run another way score otherwise
        h.update(json.dumps(packing, sort_keys=True).encode())
    for name, _, _ in stamp:
        h.update((path / name).read_bytes())
    return h.hexdigest()[:12]


def resolve_nli_path(spec: str | None) -> Path | None:
    """The model directory ``load_nli(spec)`` would load, or None for similarity only."""
    from verify.settings import settings

    spec = spec or settings().nli_model or ""
    if spec.lower() == "none":
        return None
    if spec in BUNDLED_NAMES:
        path = MODELS_DIR / BUNDLED_NAMES[spec]
        if not (path / "config.json").exists():
            raise ModelError(f"NLI model {spec!r} is not shipped in this installation ({path})")
        return path
    if spec:
        return Path(spec)
    return default_nli_path()


def default_nli_path() -> Path | None:
    """The first shipped model present, in the order of ``BUNDLED_NAMES``."""
    for name in BUNDLED_NAMES.values():
        if (MODELS_DIR / name / "config.json").exists():
            return MODELS_DIR / name
    return None


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
        spec: a model directory, a shipped model's short name (``"mpnet"``, ``"minilm"``),
            ``"none"`` for similarity-only checking, or ``None`` for ``$VERIFY_NLI_MODEL``
            and then the default shipped model.
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
