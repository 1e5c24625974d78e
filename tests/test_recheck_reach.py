"""Rechecks search the claims with the new sentences: the pre-filter must never miss a claim.

The reference is brute force: every claim's full dense and lexical candidate lists over
the grown corpus. Any claim with a new sentence in either list must pass the pre-filter
(stored retrieval cutoffs, new vectors against claim vectors, FTS5 over the new rowids);
claims it lets through whose evidence turns out unchanged cost a retrieval, not NLI.
"""
import random
import shutil

import pytest

import verify.pipeline.retrieve
from verify.pipeline.check import Checker
from verify.pipeline.claims import split_frame
from verify.pipeline.embed import embed_cached
from verify.pipeline.recheck import _latest, recheck
from verify.pipeline.retrieve import could_enter, lexical_search, retrieve
from verify.store.corpus import Corpus

from conftest import FakeEmbedder, FakeNLI, make_document

SETUP_KEYS = ("embed_model", "nli_model", "k", "retrieval", "scope", "thresholds")
NOUNS = ("ministers embassy tunnel treaty missiles border talks sanctions garrison pipeline harbour "
         "convoy inspectors reactor ceasefire parliament ambassador frigate drills airspace corridor "
         "grain satellite envoy summit refugees budget tariffs garden spring winter northern coast "
         "river bridge railway council delegates observers hospital brigade uranium port depot").split()
PLACES = ("Vilnius Riga Tallinn Warsaw Kyiv Odesa Minsk Tbilisi Baku Yerevan Chisinau Bucharest Sofia Varna "
          "Helsinki Oslo Gdansk Kaunas Narva Lviv").split()


def sentence(rng: random.Random) -> str:
    a, b, c, d = rng.sample(NOUNS, 4)
    e, f = rng.sample(PLACES, 2)
    return f"The {a} of {e} said that the {b} and the {c} will be at the {d} near {f}."


@pytest.fixture(scope="module")
def grown_template(tmp_path_factory):
    """300 official sentences, 40 claims checked once, then 3 new official sentences (1%):
    built once per module, copied for each test (the tests recheck it)."""
    path = tmp_path_factory.mktemp("grown") / "corpus.db"
    corpus = Corpus(path)
    rng = random.Random(5)
    official = [sentence(rng) for _ in range(300)]
    for i in range(0, 300, 50):
        corpus.add_document(make_document("official", "\n".join(official[i:i + 50]), published="2022-01-20",
                                          source=f"test:official:{i}"))
    with corpus.transaction():
        claim_ids = [corpus.claim_for_text(sentence(rng)) for _ in range(40)]
    run = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3).check_claim_ids(claim_ids)
    setup = {k: run.manifest[k] for k in SETUP_KEYS}
    seen = run.manifest["max_official_sentence_id"]
    corpus.add_document(make_document("official", "\n".join(sentence(rng) for _ in range(3)),
                                      published="2022-02-03", source="test:official:new"))
    corpus.close()  # the last connection: the WAL is checkpointed into the file
    return path, claim_ids, setup, seen


@pytest.fixture
def corpus(request, tmp_path):
    """A fresh corpus, or for tests that use ``grown`` a copy of the grown one."""
    if "grown" in request.fixturenames:
        shutil.copy(request.getfixturevalue("grown_template")[0], tmp_path / "corpus.db")
    c = Corpus(tmp_path / "corpus.db")
    yield c
    c.close()


@pytest.fixture
def grown(grown_template, corpus):
    _, claim_ids, setup, seen = grown_template
    embedder, nli = FakeEmbedder(), FakeNLI()

    def make_checker():
        return Checker(corpus, embedder=embedder, nli=nli, k=3)

    return claim_ids, make_checker, setup, seen


def brute_force_changed(corpus, checker, claim_ids) -> set[int]:
    previous = _latest(corpus, claim_ids)
    texts = [split_frame(corpus.claim(c)["text"])[1] for c in claim_ids]
    vectors = embed_cached(corpus, checker.embedder, texts)
    hits = retrieve(corpus, checker.index, texts, vectors, checker.k, checker.retrieval, checker.scope)
    return {c for c, h in zip(claim_ids, hits) if [s for s, _ in h] != previous[c]["evidence"]}


def new_in_candidates(corpus, checker, claim_ids, seen) -> set[int]:
    """Brute force: claims with a sentence newer than ``seen`` in a full candidate list."""
    texts = [split_frame(corpus.claim(c)["text"])[1] for c in claim_ids]
    vectors = embed_cached(corpus, checker.embedder, texts)
    depth = max(checker.k * 4, 20)
    dense = checker.index.search(vectors, depth)
    out = set()
    for cid, text, d in zip(claim_ids, texts, dense):
        lexical = lexical_search(corpus, text, depth, checker.scope)
        if any(sid > seen for sid, _ in [*d, *lexical]):
            out.add(cid)
    return out


def reached(corpus, checker, claim_ids, seen) -> set[int]:
    previous = _latest(corpus, claim_ids)
    texts = [split_frame(corpus.claim(c)["text"])[1] for c in claim_ids]
    vectors = embed_cached(corpus, checker.embedder, texts)
    reach = could_enter(corpus, checker.index, texts, vectors, [previous[c]["cutoffs"] for c in claim_ids],
                        [seen] * len(claim_ids), checker.scope)
    return {c for c, r in zip(claim_ids, reach) if r}


def test_every_claim_a_new_sentence_can_reach_is_reached_and_most_are_not(grown, corpus):
    claim_ids, make_checker, _, seen = grown
    checker = make_checker()
    truth = new_in_candidates(corpus, checker, claim_ids, seen)
    hit = reached(corpus, checker, claim_ids, seen)
    assert truth, "the new sentences should reach some claim, or the test proves nothing"
    assert truth <= hit
    assert len(hit) < len(claim_ids) // 2  # the point of the pre-filter


def test_recheck_rescores_the_claims_whose_evidence_a_new_sentence_changed(grown, corpus):
    claim_ids, make_checker, setup, seen = grown
    checker = make_checker()
    changed = brute_force_changed(corpus, checker, claim_ids)
    by_new = changed & new_in_candidates(corpus, checker, claim_ids, seen)
    assert by_new
    result = recheck(corpus, make_checker, setup=setup)
    # BM25 weights shift a little as the corpus grows, which can reorder old sentences;
    # that alone is not a reason to re-score (``--exhaustive`` is), so ``changed`` is the upper bound.
    assert len(by_new) <= result.rescored <= len(changed)
    # The carried verdicts record fresh cutoffs, so a second growth step is judged against
    # today's candidate lists: after a recheck nothing is reachable by sentences already seen.
    again = reached(corpus, make_checker(), claim_ids, corpus.max_official_sentence_id())
    assert again == set()


def test_only_reached_claims_are_retrieved_again(grown, corpus, monkeypatch):
    claim_ids, make_checker, setup, seen = grown
    hit = reached(corpus, make_checker(), claim_ids, seen)
    retrieved = []
    real = verify.pipeline.retrieve.retrieve

    def counting(corpus, index, texts, *args, **kwargs):
        retrieved.append(len(texts))
        return real(corpus, index, texts, *args, **kwargs)

    monkeypatch.setattr(verify.pipeline.retrieve, "retrieve", counting)
    result = recheck(corpus, make_checker, setup=setup)
    # One retrieval for the reached claims, one inside the re-scoring of the affected ones.
    assert retrieved[0] == len(hit)
    assert sum(retrieved[1:]) == result.rescored


def test_verdicts_without_cutoffs_fall_back_to_full_retrieval(grown, corpus):
    claim_ids, make_checker, setup, seen = grown
    # As a corpus written before cutoffs were stored would have it.
    corpus.conn.execute("update verdicts set details = json_remove(details, '$.cutoffs')")
    assert reached(corpus, make_checker(), claim_ids, seen) == set(claim_ids)
    changed = brute_force_changed(corpus, make_checker(), claim_ids)
    assert recheck(corpus, make_checker, setup=setup).rescored == len(changed)


def test_exhaustive_recheck_retrieves_every_claim(grown, corpus):
    claim_ids, make_checker, setup, _ = grown
    changed = brute_force_changed(corpus, make_checker(), claim_ids)
    assert recheck(corpus, make_checker, setup=setup, exhaustive=True).rescored == len(changed)


def test_a_list_that_was_not_full_lets_any_new_sentence_in(corpus):
    """With fewer official sentences than the candidate depth, every new one is a candidate."""
    corpus.add_document(make_document("official", "Envoy visited the northern port.\n", published="2022-01-20"))
    with corpus.transaction():
        cid = corpus.claim_for_text("Ministers agreed a grain corridor.")
    checker = Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3)
    run = checker.check_claim_ids([cid])
    seen = run.manifest["max_official_sentence_id"]
    cut = _latest(corpus, [cid])[cid]["cutoffs"]
    assert cut == {"dense": -1.0, "lexical": 0.0}
    corpus.add_document(make_document("official", "Refugees crossed the river bridge.\n", published="2022-02-03"))
    assert reached(corpus, Checker(corpus, embedder=FakeEmbedder(), nli=FakeNLI(), k=3), [cid], seen) == {cid}


def test_blocks_of_claims_give_the_same_answer(grown, corpus, monkeypatch):
    claim_ids, make_checker, _, seen = grown
    whole = reached(corpus, make_checker(), claim_ids, seen)
    monkeypatch.setattr(verify.pipeline.retrieve, "SIM_BLOCK_CELLS", 7)  # 3 new sentences: blocks of 2 claims
    assert reached(corpus, make_checker(), claim_ids, seen) == whole
