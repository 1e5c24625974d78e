"""The FAISS index of official sentences and the embedding cache behind it."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from verify.pipeline.embed import embed_cached
from verify.pipeline.index import VectorIndex
from verify.util import text_hash

from conftest import OFFICIAL_TEXT, OFFICIAL_TEXT_2, REPORT_TEXT, FakeEmbedder, make_document


def official_ids(corpus) -> list[int]:
    return [r[0] for r in corpus.db.execute(
        "select s.id from sentences s join documents d on d.id = s.document_id "
        "where d.kind = 'official' order by s.id")]


@pytest.fixture
def built(corpus, fake_embedder):
    corpus.add_document(make_document("official", OFFICIAL_TEXT, speaker="Antony Blinken"))
    corpus.add_document(make_document("report", REPORT_TEXT))
    index = VectorIndex(corpus, fake_embedder)
    status = index.ensure()
    return index, status


def test_index_is_built_and_persisted_beside_the_database(corpus, built, fake_embedder):
    index, status = built
    ids = official_ids(corpus)
    assert status.action == "built" and status.count == status.added == len(ids) == 4
    assert index.index.ntotal == 4
    assert index.path.parent == corpus.embeddings_dir == corpus.path.parent / "embeddings"
    assert index.path.exists() and index.meta_path.exists()
    meta = json.loads(index.meta_path.read_text())
    assert meta["model_id"] == "fake-embed" and meta["dim"] == 64
    assert meta["count"] == 4 and meta["max_id"] == max(ids)
    assert meta["sha256"] == hashlib.sha256(index.path.read_bytes()).hexdigest()
    assert not [p for p in corpus.embeddings_dir.iterdir() if p.name.endswith(".tmp")]
    assert fake_embedder.texts_encoded == 4  # report sentences are not embedded for the index


def test_only_official_sentences_are_searchable(corpus, built, fake_embedder):
    index, _ = built
    report = [s for s in corpus.sentences(kind="report")]
    vecs = fake_embedder.encode([s["text"] for s in report])
    allowed = set(official_ids(corpus))
    for row in index.search(vecs, 10):
        assert row and {sid for sid, _ in row} <= allowed


def test_search_ranks_the_identical_sentence_first(corpus, built, fake_embedder):
    index, _ = built
    target = next(corpus.sentences(containing="military exercises"))
    (row,) = index.search(fake_embedder.encode([target["text"]]), 3)
    assert len(row) == 3
    assert row[0][0] == target["id"] and row[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in row] == sorted((s for _, s in row), reverse=True)


def test_search_k_larger_than_the_index(corpus, built, fake_embedder):
    index, _ = built
    (row,) = index.search(fake_embedder.encode(["NATO enlargement"]), 50)
    assert len(row) == 4


def test_search_restricted_to_given_ids(corpus, built, fake_embedder):
    index, _ = built
    keep = official_ids(corpus)[:2]
    (row,) = index.search(fake_embedder.encode(["reciprocal limits on military exercises"]), 4,
                          ids=np.array(keep, dtype=np.int64))
    assert {sid for sid, _ in row} == set(keep)


def test_empty_corpus_builds_an_empty_index(corpus, fake_embedder):
    index = VectorIndex(corpus, fake_embedder)
    status = index.ensure()
    assert status.count == 0 and index.index.ntotal == 0
    assert index.search(fake_embedder.encode(["anything at all"]), 3) == [[]]


def test_reindex_never_re_encodes_cached_sentences(corpus, built):
    index, _ = built
    fresh = FakeEmbedder()
    index.path.unlink()  # force a rebuild from the database
    status = VectorIndex(corpus, fresh).ensure()
    assert status.action == "built" and status.count == 4
    assert fresh.texts_encoded == 0  # every vector came from corpus.db's cache
    assert corpus.execute("select count(*) from embeddings where model_id = ?", ["fake-embed"]).fetchone()[0] == 4


def test_new_official_sentences_are_added_to_the_index(corpus, built, fake_embedder):
    corpus.add_document(make_document("official", OFFICIAL_TEXT_2))
    index = VectorIndex(corpus, fake_embedder)
    status = index.ensure()
    assert status.count == index.index.ntotal == len(official_ids(corpus)) == 6
    assert fake_embedder.texts_encoded == 6  # 4 before, and only the 2 new sentences now
    new = next(corpus.sentences(containing="withdraw its troops"))
    (row,) = index.search(fake_embedder.encode([new["text"]]), 1)
    assert row[0][0] == new["id"]
    assert json.loads(index.meta_path.read_text())["count"] == 6


def test_a_valid_index_is_loaded_without_rebuild(corpus, built):
    index, _ = built
    before = (index.path.read_bytes(), index.path.stat().st_mtime_ns)
    fresh = FakeEmbedder()
    again = VectorIndex(corpus, fresh)
    status = again.ensure()
    assert (status.action, status.added, status.count, status.reason) == ("loaded", 0, 4, "")
    assert fresh.calls == 0
    assert (index.path.read_bytes(), index.path.stat().st_mtime_ns) == before  # not rewritten
    assert again.index.ntotal == 4


def test_new_official_sentences_extend_rather_than_rebuild(corpus, built):
    corpus.add_document(make_document("official", OFFICIAL_TEXT_2))
    corpus.add_document(make_document("report", "A leak says the garden has a tunnel under it.\n"))
    fresh = FakeEmbedder()
    index = VectorIndex(corpus, fresh)
    status = index.ensure()
    assert (status.action, status.added, status.count) == ("updated", 2, 6)
    assert fresh.texts_encoded == 2 and all("troops" in t or "Moscow" in t for t in fresh.seen)
    assert index.max_id == max(official_ids(corpus))
    assert VectorIndex(corpus, FakeEmbedder()).ensure().action == "loaded"


@pytest.mark.parametrize("damage,reason", [
    (lambda ix: ix.path.write_bytes(ix.path.read_bytes()[:40]), "checksum"),
    (lambda ix: ix.path.write_bytes(b"garbage" * 100), "checksum"),
    (lambda ix: ix.meta_path.write_text("{not json"), "unreadable"),
    (lambda ix: ix.meta_path.write_text(json.dumps({**json.loads(ix.meta_path.read_text()), "sha256": "0" * 64})),
     "checksum"),
    (lambda ix: ix.meta_path.write_text(json.dumps({**json.loads(ix.meta_path.read_text()), "dim": 32})),
     "another model"),
    (lambda ix: ix.meta_path.unlink(), "no index"),
])
def test_damaged_or_stale_index_is_rebuilt(corpus, built, fake_embedder, damage, reason):
    index, _ = built
    damage(index)
    fresh = VectorIndex(corpus, fake_embedder)
    status = fresh.ensure()
    # "rebuilt" when a damaged file was replaced, "built" when there was none.
    assert status.action in ("built", "rebuilt") and reason in status.reason
    assert status.count == fresh.index.ntotal == 4
    meta = json.loads(fresh.meta_path.read_text())
    assert meta["sha256"] == hashlib.sha256(fresh.path.read_bytes()).hexdigest() and meta["dim"] == 64
    target = next(corpus.sentences(containing="transparency measures"))
    assert fresh.search(fake_embedder.encode([target["text"]]), 1)[0][0][0] == target["id"]


@pytest.mark.parametrize("header", ["null", "[]"])
def test_header_that_is_json_but_not_an_object_is_rebuilt(corpus, built, fake_embedder, header):
    index, _ = built
    index.meta_path.write_text(header)
    status = VectorIndex(corpus, fake_embedder).ensure()
    assert status.action == "rebuilt" and status.count == 4


def test_each_embedding_model_has_its_own_index(corpus, built):
    other = FakeEmbedder()
    other.model_id = "other/model:v2"
    index = VectorIndex(corpus, other)
    index.ensure()
    assert index.path.name == "other_model_v2.faiss"
    assert other.texts_encoded == 4
    assert sorted(p.name for p in corpus.embeddings_dir.glob("*.faiss")) == ["fake-embed.faiss", "other_model_v2.faiss"]


# --- the embedding cache -------------------------------------------------------------------

def test_embed_cached_encodes_each_new_text_once(corpus, fake_embedder):
    texts = ["NATO's door remains open.", "Talks resumed in Geneva.", "NATO's door remains open."]
    v1 = embed_cached(corpus, fake_embedder, texts)
    assert v1.shape == (3, 64) and v1.dtype == np.float32
    assert fake_embedder.texts_encoded == 2
    np.testing.assert_array_equal(v1[0], v1[2])
    np.testing.assert_allclose(np.linalg.norm(v1, axis=1), 1.0, rtol=1e-5)
    v2 = embed_cached(corpus, fake_embedder, ["Talks resumed in Geneva.", "A brand new sentence."])
    assert fake_embedder.texts_encoded == 3 and fake_embedder.seen[-1] == "A brand new sentence."
    np.testing.assert_array_equal(v2[0], v1[1])
    assert set(corpus.cached_vectors([text_hash(t) for t in texts], "fake-embed")) == {text_hash(t) for t in texts}


def test_embed_cached_without_store_leaves_the_cache_alone(corpus, fake_embedder):
    embed_cached(corpus, fake_embedder, ["A throwaway query sentence."], store=False)
    assert corpus.count("embeddings") == 0
    embed_cached(corpus, fake_embedder, ["A throwaway query sentence."], store=False)
    assert fake_embedder.texts_encoded == 2


def test_embed_cached_keeps_models_apart(corpus, fake_embedder):
    other = FakeEmbedder()
    other.model_id = "other"
    embed_cached(corpus, fake_embedder, ["Same text for both models."])
    embed_cached(corpus, other, ["Same text for both models."])
    assert other.texts_encoded == 1
    assert corpus.count("embeddings") == 2
