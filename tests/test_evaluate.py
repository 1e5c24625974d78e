"""Evaluation: metrics on hand-made labels, and evaluate() on a tiny labelled file with fakes."""
from __future__ import annotations

import json

import pytest

from verify.errors import InputError
from verify.quality.evaluate import evaluate, metrics, read_jsonl

from conftest import EVAL_DIR, FakeEmbedder, FakeNLI, needs_shared

C, N, X = "consistent", "novel", "contradictory"


def test_metrics_known_values():
    gold = [C, C, C, N, N, X, X, X]
    pred = [C, C, N, N, X, X, X, C]
    m = metrics(gold, pred)
    assert m["accuracy"] == 0.625
    assert m["per_label"][C] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3}
    assert m["per_label"][N] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_label"][X] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3}
    assert m["macro_f1"] == pytest.approx(0.6111, abs=1e-4)
    assert m["confusion"] == {C: {C: 2, N: 1, X: 0}, N: {C: 0, N: 1, X: 1}, X: {C: 1, N: 0, X: 2}}


def test_metrics_perfect_and_all_wrong():
    gold = [C, N, X, X]
    assert metrics(gold, gold)["accuracy"] == 1.0 and metrics(gold, gold)["macro_f1"] == 1.0
    wrong = metrics(gold, [N, X, C, C])
    assert wrong["accuracy"] == 0.0 and wrong["macro_f1"] == 0.0
    assert all(v["f1"] == 0.0 for v in wrong["per_label"].values())


def test_metrics_label_never_predicted_has_zero_precision_not_an_error():
    m = metrics([C, N, X], [C, C, C])
    assert m["per_label"][N] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_label"][C]["precision"] == pytest.approx(0.3333, abs=1e-4)
    assert m["per_label"][C]["recall"] == 1.0 and m["per_label"][C]["f1"] == 0.5
    assert m["accuracy"] == pytest.approx(0.3333, abs=1e-4)


def test_metrics_empty():
    m = metrics([], [])
    assert m["accuracy"] == 0.0 and m["macro_f1"] == 0.0


CLAIMS = [
    {"id": "c1", "claim": "Washington is ready to discuss limits on military exercises in Europe.", "label": C,
     "evidence": [{"id": "e1", "text": "Washington is ready to discuss limits on military exercises in Europe, "
                                       "officials said."}],
     "gold_evidence_ids": ["e1"]},
    {"id": "c2", "claim": "NATO will halt its enlargement in the east.", "label": X,
     "evidence": [{"id": "e2", "text": "NATO will not halt its enlargement in the east."}],
     "gold_evidence_ids": ["e2"]},
    {"id": "c3", "claim": "A secret tunnel was dug under the embassy garden.", "label": N,
     "evidence": [{"id": "e3", "text": "The ambassador hosted a reception for diplomats on Friday."}],
     "gold_evidence_ids": ["not-in-the-pool"]},
    {"id": "c4", "claim": "Ice sheets may or may not be melting, experts disagree.", "label": None,
     "evidence": [{"id": "e4", "text": "Ice sheets are melting fast in Greenland."}],
     "gold_evidence_ids": ["e4"]},
    {"id": "c5", "claim": "The moon is made of cheese and crackers.", "label": C, "evidence": [],
     "gold_evidence_ids": []},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_evaluate_with_fakes(tmp_path):
    path = write_jsonl(tmp_path / "claims.jsonl", CLAIMS)
    emb, nli = FakeEmbedder(), FakeNLI()
    out = evaluate(str(path), embedder=emb, nli=nli, k=1)
    assert {"macro_f1", "accuracy", "recall_at_5", "per_label", "confusion", "n", "skipped"} <= set(out)
    assert out["n"] == 4 and out["skipped"] == 1  # the null label is not scored
    assert out["pool"] == 4  # but its evidence is still part of the pool
    # gold [C, X, N, C]; c5 has nothing to support it, so it comes out novel
    assert out["confusion"][C] == {C: 1, N: 1, X: 0}
    assert out["confusion"][X] == {C: 0, N: 0, X: 1}
    assert out["confusion"][N] == {C: 0, N: 1, X: 0}
    assert out["accuracy"] == 0.75
    assert out["macro_f1"] == pytest.approx((0.6667 + 0.6667 + 1.0) / 3, abs=1e-3)
    assert out["predicted"] == {C: 1, X: 1, N: 2}
    # gold evidence found for c1 and c2, never for c3 (its gold id is not in the pool)
    assert out["claims_with_gold"] == 3 and out["recall_at_5"] == pytest.approx(0.6667, abs=1e-4)
    assert out["embed_model"] == "fake-embed" and out["nli_model"] == "fake-nli" and out["mode"] == "nli"
    assert out["k"] == 1 and out["file"] == str(path)
    assert nli.pairs_scored > 0
    assert not any("Ice sheets may or may not" in t for t in emb.seen)  # skipped claims are not checked
    json.dumps(out)


def test_evaluate_limit_and_similarity_only(tmp_path):
    path = write_jsonl(tmp_path / "claims.jsonl", CLAIMS)
    out = evaluate(str(path), embedder=FakeEmbedder(), nli=None, k=2, limit=2)
    assert out["n"] == 2 and out["skipped"] == 0 and out["pool"] == 2
    assert out["mode"] == "similarity-only" and out["nli_model"] is None
    assert out["predicted"].get(X, 0) == 0


def test_evaluate_with_a_separate_pool(tmp_path):
    claims = [{"claim": c["claim"], "label": c["label"], "evidence": [], "gold_evidence_ids": c["gold_evidence_ids"]}
              for c in CLAIMS[:2]]
    path = write_jsonl(tmp_path / "claims.jsonl", claims)
    pool = write_jsonl(tmp_path / "pool.jsonl", [
        {"id": "e1", "text": CLAIMS[0]["evidence"][0]["text"], "speaker": "Ned Price", "date": "2022-01-26"},
        {"id": "e2", "text": CLAIMS[1]["evidence"][0]["text"]},
        {"id": "e2-copy", "text": CLAIMS[1]["evidence"][0]["text"]},  # same text, one sentence, both ids
        {"id": "x", "text": "The weather in Brussels was cold and grey."},
    ])
    out = evaluate(str(path), str(pool), embedder=FakeEmbedder(), nli=FakeNLI(), k=2)
    assert out["pool"] == 4 and out["n"] == 2
    assert out["accuracy"] == 1.0 and out["recall_at_5"] == 1.0


@pytest.mark.parametrize("content,message", [
    ('{"claim": "x y z", "label": "consistent"}\n{"claim": "broken\n', ":2: malformed JSON"),
    ('{"claim": "x y z"}\n', ":1: needs fields claim, label"),
    ('[1, 2]\n', ":1: needs fields"),
    ("\n\n", "no rows"),
])
def test_read_jsonl_errors(tmp_path, content, message):
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    with pytest.raises(InputError, match=message):
        read_jsonl(p, ("claim", "label"))


def test_read_jsonl_not_utf8_and_missing(tmp_path):
    p = tmp_path / "latin.jsonl"
    p.write_bytes('{"claim": "caf\xe9 au lait", "label": "novel"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not valid UTF-8"):
        read_jsonl(p, ("claim", "label"))
    with pytest.raises(InputError, match="no such file"):
        read_jsonl(tmp_path / "missing.jsonl", ("claim",))


def test_evaluate_rejects_unknown_labels_and_missing_evidence(tmp_path):
    path = write_jsonl(tmp_path / "claims.jsonl", [{**CLAIMS[0], "label": "SUPPORTS"}])
    with pytest.raises(InputError, match="unknown labels SUPPORTS"):
        evaluate(str(path), embedder=FakeEmbedder(), nli=FakeNLI())
    path = write_jsonl(tmp_path / "bare.jsonl", [{"claim": "NATO will reopen its office.", "label": C}])
    with pytest.raises(InputError, match="no evidence"):
        evaluate(str(path), embedder=FakeEmbedder(), nli=FakeNLI())


@needs_shared
@pytest.mark.parametrize("name", ["mnli_dev.jsonl", "vitaminc_dev.jsonl", "climate_fever_dev.jsonl"])
def test_shared_eval_files_follow_the_format(name):
    rows = read_jsonl(EVAL_DIR / name, ("claim", "label", "evidence"))
    assert len(rows) >= 400
    assert {r["label"] for r in rows} <= {C, N, X, None}
    assert all(isinstance(e.get("id"), str) for r in rows[:50] for e in r["evidence"])


@needs_shared
def test_evaluate_on_a_slice_of_shared_data_with_fakes():
    out = evaluate(str(EVAL_DIR / "mnli_dev.jsonl"), embedder=FakeEmbedder(), nli=FakeNLI(), k=3, limit=20)
    assert out["n"] + out["skipped"] == 20
    assert 0.0 <= out["macro_f1"] <= 1.0 and 0.0 <= out["accuracy"] <= 1.0
    assert sum(sum(row.values()) for row in out["confusion"].values()) == out["n"]
    assert out["recall_at_5"] is not None and 0.0 <= out["recall_at_5"] <= 1.0


def test_an_evidence_id_reused_for_another_text_is_rekeyed_not_dropped(tmp_path):
    # Numbered per claim: both claims call their evidence "e1", with different texts.
    rows = [
        {"id": "a", "claim": "Washington is ready to discuss limits on military exercises in Europe.", "label": C,
         "evidence": [{"id": "e1", "text": "Washington is ready to discuss limits on military exercises in Europe."}],
         "gold_evidence_ids": ["e1"]},
        {"id": "b", "claim": "NATO will reopen its office in Moscow next spring.", "label": C,
         "evidence": [{"id": "e1", "text": "NATO will reopen its office in Moscow next spring."}],
         "gold_evidence_ids": ["e1"]},
    ]
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = evaluate(str(path), embedder=FakeEmbedder(), nli=FakeNLI(), k=3, per_claim=True)
    assert out["pool"] == 2 and out["recall_at_5"] == 1.0  # both texts in the pool, both gold found
    assert out["warnings"] and "re-keyed" in out["warnings"][0]
    assert [(c["id"], c["gold"], c["predicted"]) for c in out["claims"]] == [("a", C, C), ("b", C, C)]
    assert out["claims"][1]["evidence"]["text"].startswith("NATO will reopen")
    assert 0 <= out["contradiction_precision"] <= 1 and isinstance(out["needs_review"], int)


def test_a_pool_file_giving_one_id_two_texts_is_refused(tmp_path):
    claims = tmp_path / "claims.jsonl"
    claims.write_text(json.dumps({"claim": "x y z w", "label": C, "evidence": []}) + "\n")
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id": "p1", "text": "One text."}\n{"id": "p1", "text": "Another text."}\n')
    with pytest.raises(InputError, match="id 'p1' is given to two different texts"):
        evaluate(str(claims), str(pool), embedder=FakeEmbedder(), nli=FakeNLI())
