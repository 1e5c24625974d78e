"""Verdict quality with the real models: the seed leak report and written probes.

The seed articles in ../shared/seeds are read from there (never copied into the repo):
002 is the leak report; 000, 001, 003 and 004 carry the official statements. They are
ingested as a desk would: each with its publisher and date, and the official side set to
the US and NATO (the authors of the leaked replies).

The expected label of every claim of 002 was decided by reading the seeds as an editor
would, before looking at any output. A claim the public statements cover only in part
may be consistent or novel; none of the 24 is contradicted by anything an official said.
"""
import pytest

from verify.check import Checker
from verify.corpus import Corpus
from verify.ingest import ingest_paths
from verify.nli import BUNDLED_NLI

from conftest import SEEDS

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (BUNDLED_NLI / "config.json").exists(), reason="shipped NLI model missing")]

C, N = "consistent", "novel"
# claim (a fragment of it) -> labels an editor would publish, and why
EXPECTED = {
    "El País published today two documents": ({N}, "the publication itself is news; no official spoke of it"),
    "formally reiterated with Russia their commitment": ({C, N}, "allies pledged to keep the open door (003)"),
    "had largely left the specifics of the proposals confidential": (
        {N, C}, "Blinken's half is in 000; nothing public on Stoltenberg going through it"),
    "None of the documents were officially released publicly": ({C}, "Blinken: would not release the document (000)"),
    "continues to firmly support NATO": ({C}, "dialogue offered (000, 001); open door defended (003)"),
    "mutually agreed concept of comprehensive": ({C, N}, "right to choose alliances is public (000, 004); Astana is not"),
    "enhanced notification regime for drills": ({C, N}, "confidence measures on exercises (000), restrictions (003)"),
    "without prior notice or appropriate transparency": ({N}, "no official said this in public"),
    "Black and Azov Seas": ({N}, "nothing public on navigation in the Black and Azov Seas"),
    "Incidents at Sea Agreement": ({N}, "nothing public on the Incidents at Sea Agreement"),
    "multi-domain military build-up": ({C, N}, "Blinken on the massive build-up (001)"),
    "strengthen their own defensive posture": ({N, C}, "public: sanctions and other measures (001), not posture"),
    "Tomahawk cruise missiles in Romania and Poland": ({N, C}, "missile arms control and New START public (000)"),
    "principles of sovereignty, inviolability of borders": ({C, N}, "Blinken: borders and territorial integrity (001)"),
    "respect the right of other countries to choose or change": ({C}, "Blinken (000), Carpenter (004)"),
    "Open Door Policy under Article 10": ({C, N}, "allies pledged to preserve the open door (003)"),
    "withdrawing forces from Ukraine, Georgia and the Republic of Moldova": ({N, C}, "related only (001, 004)"),
    "Normandy Format": ({N}, "no official named these formats"),
    "coercive force posturing, aggressive nuclear rhetoric": ({N, C}, "de-escalate, stop the rhetoric (000)"),
    "NATO does not seek confrontation": ({C, N}, "core principles upheld (000), no compromise (004)"),
    "reversal of Russia’s military build-up in and around Ukraine": ({C, N}, "progress if Russia de-escalates (000)"),
    "no other states have been offered a comparable relationship": ({N}, "nothing public on this"),
    "NATO remains firmly committed to the fundamental principles": ({C, N}, "principles defended (000, 001)"),
    "several proposals in the context of risk reduction": (
        {C}, "Julianne Smith: risk reduction, transparency, arms control"),
}
PUBLISHERS = {"000": ("Euronews", "2022-01-26"), "001": ("U.S. Department of State", "2022-01-10"),
              "003": ("Euronews", "2022-01-12"), "004": ("POLITICO", "2022-01-13")}


@pytest.fixture(scope="module")
def real_embedder():
    from verify.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory, real_embedder):
    if not SEEDS.exists():
        pytest.skip("../shared/seeds not present")
    corpus = Corpus(tmp_path_factory.mktemp("quality") / "corpus.db")
    for path in sorted(SEEDS.glob("*.txt")):
        if path.name[:3] in PUBLISHERS:
            publisher, date = PUBLISHERS[path.name[:3]]
            (r,) = ingest_paths(corpus, "official", [path], {"publisher": publisher, "date": date})
            assert r.error is None, r.error
    corpus.set_official_side(["US", "NATO"])
    [report] = ingest_paths(corpus, "report", [next(SEEDS.glob("002_*.txt"))], {"date": "2022-02-02"})
    checker = Checker(corpus, embedder=real_embedder, nli="auto")
    return checker, checker.check_document(report.document_id)


def verdict_for(run, fragment):
    [r] = [r for r in run.results if fragment.lower() in r.text.lower()]
    return r


def test_every_seed_claim_has_an_editors_expectation(seed_run):
    _, run = seed_run
    assert len(run.results) == len(EXPECTED) == 24
    for fragment in EXPECTED:
        verdict_for(run, fragment)  # exactly one claim each


def test_no_seed_claim_is_falsely_contradicted(seed_run):
    _, run = seed_run
    wrong = [f"{r.text[:70]}: {r.verdict.reason}" for r in run.results if r.verdict.label == "contradictory"]
    assert not wrong, "\n".join(wrong)


def test_at_least_20_of_24_seed_claims_get_a_label_an_editor_would_publish(seed_run):
    _, run = seed_run
    wrong = []
    for fragment, (labels, why) in EXPECTED.items():
        r = verdict_for(run, fragment)
        if r.verdict.label not in labels:
            wrong.append(f"{fragment}: {r.verdict.label} ({r.verdict.reason}); expected {'/'.join(sorted(labels))}: {why}")
    assert len(EXPECTED) - len(wrong) >= 20, "\n".join(wrong)


def test_seed_verdicts_rest_on_official_side_evidence(seed_run):
    _, run = seed_run
    for r in run.results:
        if r.verdict.label != "novel" and r.verdict.decisive is not None:
            e = r.evidence[r.verdict.decisive]
            assert e.counted and e.sentence["affiliation"] in ("US", "NATO"), (r.text[:60], e.sentence)


def test_seed_scores_spread_and_weak_calls_say_so(seed_run):
    _, run = seed_run
    scores = [r.verdict.score for r in run.results]
    assert max(scores) - min(scores) >= 0.3, scores
    for r in run.results:
        if r.verdict.needs_review:
            assert len(r.verdict.needs_review) > 10


# Probes written for these tests, each about an official sentence in the seeds:
# (claim, expected label, words the decisive evidence must contain).
PROBES = [
    # changed number: Carpenter said approximately 100,000 (004)
    ("There are approximately 10,000 Russian soldiers on the Russian side of its border with Ukraine.",
     "contradictory", ["100,000"]),
    # changed name: the same sentence, another country
    ("There are approximately 100,000 soldiers on the Russian side of its border with Finland.",
     "contradictory", ["ukraine"]),
    # negation, both ways: Blinken said Washington would not release the document (000)
    ("Washington will not publish its written response to Russia.", "consistent", ["release"]),
    ("Washington will publish its written response to Russia.", "contradictory", ["release"]),
    # paraphrase of Blinken (000)
    ("The leaked U.S. reply offers measures to increase confidence regarding military exercises in Europe.",
     "consistent", ["exercises"]),
    ("The text says Washington agreed to limit the right of states to choose their alliances.",
     "contradictory", ["alliances"]),
    ("According to the document, a new invasion of Ukraine would bring Russia only minor sanctions.",
     "contradictory", ["sanctions"]),
]


@pytest.mark.parametrize("claim, label, words", PROBES)
def test_written_probes_get_the_right_label_and_evidence(seed_run, claim, label, words):
    checker, _ = seed_run
    [r] = checker.check_text(claim).results
    assert r.verdict.label == label, r.verdict.reason
    best = r.evidence[r.verdict.decisive].sentence["text"].lower()
    assert all(w in best for w in words), best
