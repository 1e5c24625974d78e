"""What an editor expects of the seed case: every claim of the leak report (seed 002) and
written probes, each about an official sentence in the seeds (../shared/seeds).

The expected label of every claim was decided by reading the seeds as an editor would,
before looking at any output. A claim the public statements cover only in part may be
consistent or novel; none of the 24 is contradicted by anything an official said. Claims
an official plainly said in public must come out consistent (``SUPPORTED``): a checker that
answers "novel" to everything fails them.
Used by tests/test_slow_quality.py and scripts/seed_report.py.
"""

from verify.pipeline.ingest import ingest_paths

PUBLISHERS = {"000": ("Euronews", "2022-01-26"), "001": ("U.S. Department of State", "2022-01-10"),
              "003": ("Euronews", "2022-01-12"), "004": ("POLITICO", "2022-01-13")}
REPORT_DATE = "2022-02-02"
OFFICIAL_SIDE = ["US", "NATO"]


def ingest_seed_case(corpus, seeds) -> int:
    """Ingest the seed case as a desk would: each official seed with its publisher and date,
    the official side set to the US and NATO, then the leak report (002). Returns its id."""
    for path in sorted(seeds.glob("*.txt")):
        if path.name[:3] in PUBLISHERS:
            publisher, date = PUBLISHERS[path.name[:3]]
            (r,) = ingest_paths(corpus, "official", [path], {"publisher": publisher, "date": date})
            assert r.error is None, r.error
    corpus.set_official_side(OFFICIAL_SIDE)
    [report] = ingest_paths(corpus, "report", [next(seeds.glob("002_*.txt"))], {"date": REPORT_DATE})
    return report.document_id

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
    "Open Door Policy under Article 10": ({C}, "allies pledged to preserve the open door (003)"),
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


# The claims the public record plainly shows: each must be consistent.
SUPPORTED = [fragment for fragment, (labels, _) in EXPECTED.items() if labels == {C}]

# Probes: (claim, the label an editor would publish, words the deciding evidence must contain).
# A changed number or name is caught by a rule (forced mismatches); the model probes ask the
# NLI model to read negation and paraphrase.
RULE_PROBES = [
    # changed number: Carpenter said approximately 100,000 (004)
    ("There are approximately 10,000 Russian soldiers on the Russian side of its border with Ukraine.",
     "contradictory", ["100,000"]),
    # changed name: the same sentence, another country
    ("There are approximately 100,000 soldiers on the Russian side of its border with Finland.",
     "contradictory", ["ukraine"]),
]
MODEL_PROBES = [
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
    # metonymy: Washington for the United States, of Blinken's words (000)
    ("Washington is ready to discuss measures to increase confidence regarding military exercises in Europe.",
     "consistent", ["exercises"]),
    ("The United States is ready to discuss measures to increase confidence regarding military exercises in Europe.",
     "consistent", ["exercises"]),
    # a role for a name: Julianne Smith, the US ambassador to NATO (003)
    ("America's envoy to NATO said the talks could discuss reciprocal restrictions on exercises.",
     "consistent", ["exercises"]),
]

# A confirmation that arrives after the check: the nightly recheck must report the claim
# turning consistent, and name the statement that did it.
RECHECK_CLAIM = "The leaked reply also proposes new measures to prevent incidents at sea in the Black Sea."
CONFIRMATION = ("The spokesman confirmed that the United States offered Russia new measures to prevent "
                "incidents at sea in the Black Sea.")
