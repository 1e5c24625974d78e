"""NLI: the pair-score cache, label order from config.json, and model loading errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import verify.pipeline.nli as nli_mod
from verify.errors import ModelError
from verify.pipeline.nli import NLIModel, PairScore, TransformersNLI, label_order, load_nli, score_cached
from verify.util import text_hash

from conftest import FakeNLI

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import average_nli  # noqa: E402
import model_card  # noqa: E402
import package_nli  # noqa: E402

PAIRS = [
    ("We will not halt the enlargement of NATO.", "The United States will halt the enlargement of NATO."),
    ("Washington is ready to discuss limits on exercises.", "Washington is ready to discuss limits on exercises."),
    ("The talks resumed in Geneva.", "A secret tunnel was dug under the embassy."),
]


def test_fake_nli_is_deterministic_and_three_way():
    scores = FakeNLI().score(PAIRS)
    assert scores == [(0.05, 0.05, 0.9), (0.9, 0.05, 0.05), (0.05, 0.9, 0.05)]


def test_score_cached_scores_each_pair_once_and_stores_it(corpus):
    model = FakeNLI()
    first = score_cached(corpus, model, PAIRS)
    assert [s.as_tuple() for s in first] == model.score(PAIRS)[:3]
    model = FakeNLI()
    assert model.pairs_scored == 0
    rows = list(corpus.db.execute(
        "select premise_hash, hypothesis_hash, entail, neutral, contradict, truncated from nli_scores "
        "where model_id = 'fake-nli' order by rowid"))
    assert [(r[0], r[1]) for r in rows] == [(text_hash(p), text_hash(h)) for p, h in PAIRS]
    assert rows[0][2:] == (0.05, 0.05, 0.9, 0)
    again = score_cached(corpus, model, list(reversed(PAIRS)))
    assert model.calls == 0 and model.pairs_scored == 0  # all from the cache
    assert [s.as_tuple() for s in again] == [s.as_tuple() for s in reversed(first)]
    assert all(isinstance(s, PairScore) and s.truncated is False for s in again)


def test_score_cached_only_scores_what_is_missing(corpus):
    model = FakeNLI()
    score_cached(corpus, model, PAIRS[:1])
    new = ("NATO's door remains open.", "NATO's door remains open.")
    out = score_cached(corpus, model, [PAIRS[0], new, new])
    assert model.calls == 2 and model.pairs_scored == 2  # one pair the first time, then only `new` once
    assert model.seen[-1] == new
    assert [s.as_tuple() for s in out] == [(0.05, 0.05, 0.9), (0.9, 0.05, 0.05), (0.9, 0.05, 0.05)]
    assert corpus.count("nli_scores") == 2


def test_score_cached_is_per_model(corpus):
    score_cached(corpus, FakeNLI(), PAIRS)
    other = FakeNLI()
    other.model_id = "other-nli"
    score_cached(corpus, other, PAIRS)
    assert other.pairs_scored == 3
    assert corpus.count("nli_scores") == 6


def test_score_cached_prefers_score_pairs_and_keeps_truncation(corpus):
    class Detailed(NLIModel):
        model_id = "detailed"

        def __init__(self):
            self.calls = 0

        def score_pairs(self, pairs):
            self.calls += 1
            return [PairScore(0.1, 0.2, 0.7, truncated=len(p) > 30) for p, _ in pairs]

        def score(self, pairs):  # pragma: no cover - must not be used
            raise AssertionError("score() used although score_pairs() exists")

    model = Detailed()
    out = score_cached(corpus, model, PAIRS)
    assert [s.truncated for s in out] == [True, True, False]
    again = score_cached(corpus, model, PAIRS)
    assert model.calls == 1
    assert [s.truncated for s in again] == [True, True, False]
    assert again[0].as_tuple() == (0.1, 0.2, 0.7)


# --- label order from config.json --------------------------------------------------------------

@pytest.mark.parametrize("id2label,expected", [
    ({"0": "entailment", "1": "neutral", "2": "contradiction"}, [0, 1, 2]),
    ({"0": "contradiction", "1": "entailment", "2": "neutral"}, [1, 2, 0]),  # cross-encoder/nli-* order
    ({"0": "neutral", "1": "contradiction", "2": "entailment"}, [2, 0, 1]),
    ({0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}, [2, 1, 0]),          # int keys, upper case
    ({"0": "SUPPORTS", "1": "REFUTES", "2": "NOT ENOUGH INFO"}, [0, 2, 1]),   # FEVER names
    ({"0": " Entail ", "1": "not_enough_info", "2": "contradicts"}, [0, 1, 2]),
])
def test_label_order_reads_config(id2label, expected):
    assert label_order({"id2label": id2label}, "model") == expected


@pytest.mark.parametrize("config", [
    {"id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}},
    {"id2label": {"0": "negative", "1": "positive"}},
    {"id2label": {"0": "entailment", "1": "not_entailment"}},
    {"id2label": {"0": "entailment", "1": "neutral"}},
    {},
    {"id2label": None},
])
def test_label_order_refuses_non_nli_labels(config):
    with pytest.raises(ModelError, match="not an NLI model"):
        label_order(config, "some/model")


# --- loading -----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["none", "None", "NONE"])
def test_load_nli_none_means_similarity_only(spec):
    assert load_nli(spec) is None


def test_load_nli_reads_the_environment(monkeypatch):
    monkeypatch.setenv("VERIFY_NLI_MODEL", "none")
    assert load_nli(None) is None


def test_load_nli_without_any_model_is_similarity_only(monkeypatch, tmp_path):
    monkeypatch.delenv("VERIFY_NLI_MODEL", raising=False)
    monkeypatch.setattr(nli_mod, "MODELS_DIR", tmp_path / "not-shipped")
    assert load_nli(None) is None


def test_load_nli_missing_directory_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_nli(str(tmp_path / "missing-model"))


def test_transformers_nli_missing_dir(tmp_path):
    with pytest.raises(ModelError, match="directory not found"):
        TransformersNLI(tmp_path / "nope")


def test_transformers_nli_dir_without_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(ModelError, match="no config.json"):
        TransformersNLI(tmp_path)


def test_transformers_nli_config_not_json(tmp_path):
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(ModelError, match="not valid JSON"):
        TransformersNLI(tmp_path)


def test_transformers_nli_non_nli_labels(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}))
    with pytest.raises(ModelError, match="not an NLI model"):
        TransformersNLI(tmp_path)


def test_transformers_nli_unloadable_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "bert", "id2label": {"0": "contradiction", "1": "entailment", "2": "neutral"}}))
    with pytest.raises(ModelError, match="cannot load NLI model"):
        TransformersNLI(tmp_path)


# --- packed models: int8 weights in groups, read back by the loader -----------------------

@pytest.fixture(scope="module")
def tiny_nli(tmp_path_factory):
    """A small random BERT NLI classifier saved as a model directory (the shipped
    tokenizer, so no download)."""
    import shutil

    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=256, id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
                        label2id={"entailment": 0, "neutral": 1, "contradiction": 2})
    model = BertForSequenceClassification(config).eval()
    folder = tmp_path_factory.mktemp("tiny-nli")
    model.save_pretrained(str(folder), safe_serialization=True)
    shipped = nli_mod.MODELS_DIR / "nli-minilm"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy2(shipped / name, folder / name)
    return folder


def test_pack_int8_round_trip_is_close_and_leaves_the_rest_alone(tiny_nli):
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_nli), local_files_only=True)
    packed = nli_mod.pack_int8(model)
    original = model.state_dict()
    linear = [k for k in packed if k + nli_mod.SCALE_SUFFIX in packed]
    assert linear and all(".encoder." in k for k in linear)
    assert all(packed[k].dtype == torch.int8 for k in linear)
    # one scale per group of GROUP columns of each row
    q = "bert.encoder.layer.0.intermediate.dense.weight"
    assert packed[q + nli_mod.SCALE_SUFFIX].shape == (256, 128 // nli_mod.GROUP)
    assert packed["classifier.weight"].dtype == torch.float32  # the head is not packed
    back = nli_mod.unpack_int8(packed)
    assert set(back) == set(original)
    for key in linear:
        w = original[key]
        group_max = w.view(w.shape[0], -1, nli_mod.GROUP).abs().amax(dim=2, keepdim=True)
        err = (back[key] - w).view(w.shape[0], -1, nli_mod.GROUP).abs()
        assert bool((err <= group_max / 254 + 1e-7).all())  # at most half a quantisation step
    assert torch.equal(back["classifier.weight"], original["classifier.weight"])


@pytest.mark.parametrize("runtime", ["float32", "bfloat16"])
def test_packed_model_loads_and_scores_like_the_original(tiny_nli, tmp_path, runtime):
    out = tmp_path / "packed"
    assert package_nli.main([str(tiny_nli), str(out), "--runtime", runtime, "--shard-mb", "4"]) == 0
    assert len(list(out.glob("*.safetensors"))) > 1  # sharded under the limit
    config = json.loads((out / "config.json").read_text())
    assert config[nli_mod.PACKING_KEY]["runtime"] == runtime
    original, packed = TransformersNLI(tiny_nli), TransformersNLI(out)
    a, b = original.score(PAIRS), packed.score(PAIRS)
    assert max(abs(x - y) for sa, sb in zip(a, b) for x, y in zip(sa, sb)) < 0.05
    assert packed.model_id != original.model_id
    assert nli_mod.nli_model_id(str(out)) == packed.model_id


def test_packed_model_runtime_is_part_of_its_id(tiny_nli, tmp_path):
    ids = set()
    for runtime in ("float32", "bfloat16"):
        package_nli.main([str(tiny_nli), str(tmp_path / runtime), "--runtime", runtime])
        ids.add(nli_mod.nli_model_id(str(tmp_path / runtime)).split("@")[1])
    assert len(ids) == 2


def test_model_id_is_hashed_once_but_follows_weights_changed_in_place(tiny_nli, tmp_path):
    import os
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "model"
    shutil.copytree(tiny_nli, folder)
    first = nli_mod.nli_model_id(str(folder))
    assert nli_mod.nli_model_id(str(folder)) == first
    [weights] = folder.glob("*.safetensors")
    stat = weights.stat()
    state = load_file(str(weights))
    state["classifier.bias"] = state["classifier.bias"] + 1  # same size, other bytes
    save_file(state, str(weights), metadata={"format": "pt"})
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # coarse clocks
    assert nli_mod.nli_model_id(str(folder)) != first


def test_unknown_packing_is_a_model_error(tiny_nli, tmp_path):
    out = tmp_path / "packed"
    package_nli.main([str(tiny_nli), str(out)])
    config = json.loads((out / "config.json").read_text())
    config[nli_mod.PACKING_KEY]["weights"] = "int4-magic"
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="unknown weight packing"):
        TransformersNLI(out)



# --- averaged models: two fine-tunes of one lineage, weighted ---------------------------------

def _continued(tiny_nli, folder, shift):
    """A copy of ``tiny_nli`` with every float weight moved by ``shift``, recorded as a run
    continued from it."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(tiny_nli, folder)
    [weights] = folder.glob("*.safetensors")
    state = {k: v + shift if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
    save_file(state, str(weights), metadata={"format": "pt"})
    (folder / "training.json").write_text(json.dumps({"command": "run 2", "continued_from": {"command": "run 1"}}))
    return folder


def test_averaged_model_is_the_weighted_mean_and_records_how_it_was_made(tiny_nli, tmp_path):
    import shutil

    from safetensors.torch import load_file

    first = tmp_path / "first"
    shutil.copytree(tiny_nli, first)
    (first / "training.json").write_text(json.dumps({"command": "run 1"}))
    second = _continued(tiny_nli, tmp_path / "second", 1.0)
    out = tmp_path / "soup"
    assert average_nli.main([str(first), str(second), "--weight", "0.3", "--out", str(out)]) == 0
    [a] = first.glob("*.safetensors")
    original, soup = load_file(str(a)), load_file(str(out / "model.safetensors"))
    assert soup.keys() == original.keys()
    for key in original:
        assert float((soup[key] - original[key] - 0.3).abs().max()) < 1e-5, key
    record = json.loads((out / "training.json").read_text())
    assert record["command"] == "run 2"
    assert record["averaged"]["weight"] == 0.3 and record["averaged"]["with"] == "continued_from"
    assert "--weight 0.3" in record["averaged"]["command"]
    # it loads and scores like any model directory, and packs
    assert len(TransformersNLI(out).score(PAIRS)) == len(PAIRS)
    assert package_nli.main([str(out), str(tmp_path / "packed")]) == 0


def test_averaging_refuses_models_that_do_not_match(tiny_nli, tmp_path, capsys):
    second = _continued(tiny_nli, tmp_path / "second", 0.5)
    config = json.loads((second / "config.json").read_text())
    config["id2label"] = {"0": "contradiction", "1": "neutral", "2": "entailment"}
    (second / "config.json").write_text(json.dumps(config))
    out = tmp_path / "soup"
    assert average_nli.main([str(tiny_nli), str(second), "--weight", "0.5", "--out", str(out)]) == 2
    assert "label orders differ" in capsys.readouterr().err
    assert not out.exists()
    assert average_nli.main([str(tiny_nli), str(tiny_nli), "--weight", "1.0", "--out", str(out)]) == 2
    package_nli.main([str(tiny_nli), str(tmp_path / "packed")])
    assert average_nli.main([str(tiny_nli), str(tmp_path / "packed"), "--weight", "0.5", "--out", str(out)]) == 2
    assert "packed model" in capsys.readouterr().err



def test_model_card_tells_which_weights_were_averaged(tmp_path):
    """A run continued from an average, itself an average of a continuation: the card says
    each step, so the shipped weights can be traced back to the base model."""
    import torch
    from safetensors.torch import save_file

    def run(n, **more):
        return {"base": "all-mpnet-base-v2", "data": ["train_mix.jsonl"], "train_pairs": 100, "epochs": 1.0,
                "batch_size": 16, "lr": 2e-05, "max_length": 128, "val_accuracy": 0.8, "val_pairs": 3000,
                "seed": 13, "command": f"train run {n}", **more}

    first = run(1)
    second = run(2, continued_from=first, averaged={"weight": 0.3, "with": "continued_from", "command": "avg 1+2"})
    third = run(3, continued_from=second)
    model = tmp_path / "nli-test"
    model.mkdir()
    save_file({"w": torch.zeros(2)}, str(model / "model.safetensors"))
    (model / "config.json").write_text(json.dumps({"architectures": ["MPNetForSequenceClassification"],
                                                    "num_hidden_layers": 12}))
    (model / "training.json").write_text(json.dumps(third))
    confusion = {g: {"entailment": 1, "neutral": 0, "contradiction": 0} for g in ("entailment", "neutral", "contradiction")}
    ev = {"model": "nli-test@abc", "results": {"validation": {"n": 3, "accuracy": 0.5, "macro_f1": 0.5,
                                                                "contradiction_recall": 0.0, "confusion": confusion}}}
    (tmp_path / "eval.json").write_text(json.dumps(ev))
    assert model_card.main([str(tmp_path / "eval.json"), "--model", str(model)]) == 0
    card = (model / "README.md").read_text()
    assert ("Run 3 started not from run 2's own weights but from the average 0.7 × (run 1, the run it continued "
            "from) + 0.3 × run 2") in card
    assert "(continued from the average after run 2)" in card and "(continued from run 1)" in card
    assert "The shipped weights are" not in card  # run 3 itself was not averaged
    assert "`avg 1+2`" in card


def test_shipped_models_by_short_name(monkeypatch, tmp_path):
    monkeypatch.delenv("VERIFY_NLI_MODEL", raising=False)
    monkeypatch.setattr(nli_mod, "MODELS_DIR", tmp_path)
    assert nli_mod.resolve_nli_path(None) is None
    (tmp_path / "nli-minilm").mkdir()
    (tmp_path / "nli-minilm" / "config.json").write_text("{}")
    assert nli_mod.resolve_nli_path(None) == tmp_path / "nli-minilm"  # the only one shipped
    assert nli_mod.resolve_nli_path("minilm") == tmp_path / "nli-minilm"
    with pytest.raises(ModelError, match="not shipped"):
        nli_mod.resolve_nli_path("mpnet")
    (tmp_path / "nli-mpnet").mkdir()
    (tmp_path / "nli-mpnet" / "config.json").write_text("{}")
    assert nli_mod.resolve_nli_path(None) == tmp_path / "nli-mpnet"  # the stronger one first
    assert nli_mod.resolve_nli_path("minilm") == tmp_path / "nli-minilm"

