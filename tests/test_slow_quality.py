"""Verdict quality with the real models: the seed leak report and written probes.

The seed articles in ../shared/seeds are read from there (never copied into the repo):
002 is the leak report; 000, 001, 003 and 004 carry the official statements.
"""
from pathlib import Path

import pytest

from verify.check import Checker
from verify.corpus import Corpus
from verify.ingest import ingest_paths
from verify.nli import BUNDLED_NLI

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (BUNDLED_NLI / "config.json").exists(), reason="shipped NLI model missing")]

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"


@pytest.fixture(scope="module")
def real_embedder():
    from verify.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory, real_embedder):
    if not SEEDS.exists():
        pytest.skip("../shared/seeds not present")
    corpus = Corpus(tmp_path_factory.mktemp("quality") / "corpus.db")
    official = [p for p in sorted(SEEDS.glob("*.txt")) if not p.name.startswith("002")]
    assert all(r.error is None for r in ingest_paths(corpus, "official", official))
    [report] = ingest_paths(corpus, "report", [next(SEEDS.glob("002_*.txt"))])
    checker = Checker(corpus, embedder=real_embedder, nli="auto")
    return checker, checker.check_document(report.document_id)


def verdict_for(run, fragment):
    [r] = [r for r in run.results if fragment.lower() in r.text.lower()]
    return r


# Known gap of the shipped MiniLM NLI model (open quality issue): on the seed report's long,
# multi-clause sentences it finds neither these entailments nor the absence of support for
# the Black/Azov Seas and Incidents-at-Sea details. Not strict: a better model turns them green.
GAP = pytest.mark.xfail(strict=False, reason="shipped NLI model too weak on long seed sentences")


@pytest.mark.parametrize("fragment, evidence_words", [
    pytest.param("Open Door Policy under Article 10", ["open"], marks=GAP),
    pytest.param("right of other countries to choose or change their security arrangements", ["choose"], marks=GAP),
    pytest.param("sovereignty, inviolability of borders, and territorial integrity", ["territorial"], marks=GAP),
])
def test_seed_claims_that_officials_made_are_consistent(seed_run, fragment, evidence_words):
    _, run = seed_run
    r = verdict_for(run, fragment)
    assert r.verdict.label == "consistent", r.verdict.reason
    best = r.evidence[r.verdict.decisive].sentence["text"].lower()
    assert all(w in best for w in evidence_words), best


@pytest.mark.parametrize("fragment", [pytest.param("Black and Azov Seas", marks=GAP),
                                      pytest.param("Incidents at Sea Agreement", marks=GAP), "Normandy Format"])
def test_seed_details_no_official_gave_are_novel(seed_run, fragment):
    _, run = seed_run
    r = verdict_for(run, fragment)
    assert r.verdict.label == "novel", r.verdict.reason
    assert r.evidence, "a novel verdict shows its nearest misses"


# Probes written for these tests, each about an official sentence in the seeds:
# (claim, expected label, a word the decisive evidence must contain).
PROBES = [
    ("The leaked reply states that the United States will not discuss military exercises with Russia.",
     "contradictory", "exercises"),
    ("According to the document, a new invasion of Ukraine would bring Russia only minor sanctions.",
     "contradictory", "sanctions"),
    ("The text says Washington agreed to limit the right of states to choose their alliances.",
     "contradictory", "alliances"),
    ("The leaked U.S. reply offers measures to increase confidence regarding military exercises in Europe.",
     "consistent", "exercises"),
]


@pytest.mark.parametrize("claim, label, word", PROBES)
def test_written_probes_get_the_right_label_and_evidence(seed_run, claim, label, word):
    checker, _ = seed_run
    [r] = checker.check_text(claim).results
    assert r.verdict.label == label, r.verdict.reason
    assert word in r.evidence[r.verdict.decisive].sentence["text"].lower()
