"""decide(): consistent / contradictory / novel, conflicting evidence, similarity-only mode."""
from __future__ import annotations

import itertools

import pytest

from verify.pipeline.evidence import Mismatch
from verify.pipeline.verdict import ENTAIL_FLOOR, LABELS, Code, Evidence, Review, Thresholds, Unit, decide, shortfall

T = Thresholds()


def ev(sim, e=None, n=None, c=None, speaker="Antony Blinken", date="2022-01-26", rank=1):
    return Evidence({"id": rank, "document_id": 1, "text": f"official sentence {rank}", "speaker": speaker,
                     "published": date}, rank, sim, e, n, c)


def test_defaults_are_sane():
    assert 0 < T.related < T.sim_consistent <= 1
    assert 0 < T.entail <= 1 and 0 < T.contradict <= 1
    assert set(LABELS) == {"consistent", "novel", "contradictory"}


def test_entailed_claim_is_consistent():
    evidence = [ev(0.5, 0.2, 0.7, 0.1, rank=1), ev(0.8, 0.93, 0.05, 0.02, rank=2, speaker="Ned Price")]
    v = decide(evidence, T, nli=True)
    assert v.label == "consistent" and v.score == pytest.approx(0.93)
    assert v.decisive == 1 and not v.conflicting
    assert v.code == Code.ENTAILED and v.review_code is None
    assert "Ned Price, 2022-01-26" in v.reason  # the words cite who said it


def test_contradicted_claim_is_contradictory():
    evidence = [ev(0.9, 0.03, 0.05, 0.92, rank=1), ev(0.6, 0.1, 0.8, 0.1, rank=2)]
    v = decide(evidence, T, nli=True)
    assert v.label == "contradictory" and v.score == pytest.approx(0.92)
    assert v.decisive == 0 and not v.conflicting
    assert v.code == Code.CONTRADICTED and "Antony Blinken" in v.reason


def test_related_but_neutral_evidence_is_novel():
    v = decide([ev(0.7, 0.2, 0.7, 0.1), ev(0.6, 0.3, 0.6, 0.1, rank=2)], T, nli=True)
    assert v.label == "novel" and v.score == pytest.approx(0.7)  # 1 - max(support, against)
    assert v.code == Code.UNDECIDED


def test_strong_nli_on_unrelated_evidence_is_ignored():
    v = decide([ev(0.2, 0.01, 0.01, 0.98), ev(0.1, 0.97, 0.02, 0.01, rank=2)], T, nli=True)
    assert v.label == "novel"
    assert v.code == Code.UNRELATED and "0.20" in v.reason
    assert v.score == pytest.approx(0.8)


def test_no_evidence_is_novel_with_full_score():
    v = decide([], T, nli=True)
    assert (v.label, v.score) == ("novel", 1.0)
    assert decide([], T, nli=False).label == "novel"


def test_support_and_contradiction_both_strong_is_flagged_conflicting():
    support_wins = decide([ev(0.8, 0.85, 0.05, 0.1, rank=1, speaker="Ned Price"),
                           ev(0.7, 0.1, 0.2, 0.7, rank=2, speaker="Jens Stoltenberg")], T, nli=True)
    assert support_wins.label == "consistent" and support_wins.conflicting
    assert "Ned Price" in support_wins.reason and "but contradicted by Jens Stoltenberg" in support_wins.reason
    against_wins = decide([ev(0.8, 0.6, 0.1, 0.3, rank=1, speaker="Ned Price"),
                           ev(0.7, 0.05, 0.05, 0.9, rank=2, speaker="Jens Stoltenberg")], T, nli=True)
    assert against_wins.label == "contradictory" and against_wins.conflicting
    assert against_wins.decisive == 1
    assert "contradicted by Jens Stoltenberg" in against_wins.reason and "but entailed by Ned Price" in against_wins.reason


def test_a_tie_between_support_and_contradiction_goes_to_consistent():
    v = decide([ev(0.8, 0.7, 0.0, 0.3, rank=1), ev(0.8, 0.1, 0.2, 0.7, rank=2)], T, nli=True)
    assert v.label == "consistent" and v.conflicting


def test_only_the_most_similar_evidence_may_contradict():
    # A strong contradiction from the third most similar sentence is not about the same fact.
    evidence = [ev(0.8, 0.1, 0.8, 0.1, rank=1), ev(0.7, 0.1, 0.8, 0.1, rank=2),
                ev(0.6, 0.05, 0.05, 0.9, rank=3, speaker="Jens Stoltenberg")]
    v = decide(evidence, Thresholds(contradict_top=2), nli=True)
    assert v.label == "novel" and "contradict p=0.10" in v.reason
    widened = decide(evidence, Thresholds(contradict_top=3), nli=True)
    assert widened.label == "contradictory" and widened.decisive == 2
    # Support is not limited: any related sentence may paraphrase the claim.
    evidence[2] = ev(0.6, 0.9, 0.05, 0.05, rank=3)
    assert decide(evidence, Thresholds(contradict_top=1), nli=True).label == "consistent"


def test_similarity_not_list_order_picks_who_may_contradict():
    evidence = [ev(0.5, 0.05, 0.05, 0.9, rank=1), ev(0.9, 0.1, 0.8, 0.1, rank=2)]
    assert decide(evidence, Thresholds(contradict_top=1), nli=True).label == "novel"
    assert decide(evidence[::-1], Thresholds(contradict_top=1), nli=True).label == "novel"


def test_shortfall_says_when_a_contradiction_was_not_counted():
    from verify.pipeline.verdict import may_contradict, shortfall

    evidence = [ev(0.8, 0.1, 0.8, 0.1, rank=1), ev(0.7, 0.1, 0.2, 0.7, rank=2), ev(0.1, 0.1, 0.8, 0.1, rank=3)]
    t = Thresholds(contradict_top=1, contradict=0.6)
    assert may_contradict(evidence, t) == [0]
    assert "contradict p=0.70 not counted: only the 1 most similar" in shortfall(evidence[1], t, True, counts_against=False)
    assert "contradict p=0.70 < 0.80" in shortfall(evidence[1], Thresholds(contradict=0.8), True, counts_against=False)
    assert "< 0.80" in shortfall(evidence[1], Thresholds(contradict=0.8), True, counts_against=True)


def test_a_far_contradiction_does_not_count_when_the_nearest_sentence_leans_to_support():
    from verify.pipeline.verdict import outweighed

    # desk_dev d18: the nearest sentence (0.70) leans to support, a far one (0.53) "contradicts"
    near, far = ev(0.70, 0.44, 0.25, 0.31, rank=1), ev(0.53, 0.07, 0.17, 0.76, rank=2)
    v = decide([near, far], T, nli=True)
    assert v.label == "novel" and outweighed([near, far], 1, T) is near
    why = shortfall(far, T, True, counts_against=False, outweighed_by=near)
    assert "contradict p=0.76 not counted: the most similar sentence (similarity 0.70) leans to support" in why
    # each condition matters: the gap, the lean, the lean beating the nearest's own contradiction
    assert decide([near, ev(0.60, 0.07, 0.17, 0.76, rank=2)], T, nli=True).label == "contradictory"
    assert decide([ev(0.70, 0.20, 0.5, 0.30, rank=1), far], T, nli=True).label == "contradictory"
    assert decide([ev(0.70, 0.40, 0.1, 0.45, rank=1), far], T, nli=True).label == "contradictory"
    # the nearest sentence itself is never outweighed
    assert outweighed([near, far], 0, T) is None
    # a nearest sentence that supports the claim outright hides no contradiction: the desk sees the conflict
    supported = decide([ev(0.70, 0.80, 0.1, 0.10, rank=1), ev(0.53, 0.07, 0.07, 0.86, rank=2)], T, nli=True)
    assert supported.label == "contradictory" and supported.conflicting
    # runs from before the rule are explained without it
    recorded = {k: v for k, v in T.as_dict().items() if k not in ("lean_gap", "score_steps", "fit", "source")}
    old = Thresholds.from_manifest({"thresholds": recorded})
    assert decide([near, far], old, nli=True).label == "contradictory"


def test_thresholds_are_respected():
    evidence = [ev(0.6, 0.55, 0.4, 0.05)]
    assert decide(evidence, T, nli=True).label == "consistent"
    assert decide(evidence, Thresholds(entail=0.6), nli=True).label == "novel"
    assert decide(evidence, Thresholds(related=0.7), nli=True).label == "novel"


def test_similarity_only_close_match_is_consistent_and_says_so():
    v = decide([ev(0.62, rank=1), ev(0.91, rank=2, speaker="Ned Price")], T, nli=False)
    assert v.label == "consistent" and v.score == pytest.approx(0.91) and v.decisive == 1
    assert "similarity only" in v.reason and "contradictions cannot be detected" in v.reason
    assert "Ned Price" in v.reason


def test_similarity_only_never_says_contradictory():
    # NLI-looking numbers on the evidence are ignored when the run has no NLI model.
    strong_against = [ev(0.95, 0.0, 0.0, 1.0), ev(0.5, 0.0, 0.0, 1.0, rank=2)]
    v = decide(strong_against, T, nli=False)
    assert v.label == "consistent" and "similarity only" in v.reason
    v = decide([ev(0.5, 0.0, 0.0, 1.0)], T, nli=False)
    assert v.label == "novel" and v.score == pytest.approx(0.5)
    assert "similarity only" in v.reason and "contradictions cannot be detected" in v.reason


GRID = [0.0, 0.2, 0.5, 0.51, 0.9, 1.0]


@pytest.mark.parametrize("nli", [True, False])
def test_score_is_a_probability_and_label_known(nli):
    for sim, e, c in itertools.product([0.0, 0.3, 0.36, 0.79, 0.8, 1.0], GRID, GRID):
        n = max(0.0, 1 - e - c)
        for evidence in ([ev(sim, e, n, c)], [ev(sim, e, n, c), ev(sim / 2, c, n, e, rank=2)]):
            v = decide(evidence, T, nli=nli)
            assert v.label in LABELS
            assert 0.0 <= v.score <= 1.0, (sim, e, c, v)
            assert v.reason
            if not nli:
                assert v.label != "contradictory"


def test_cite_falls_back_to_title_or_document():
    s = {"id": 1, "document_id": 7, "text": "x", "title": "Press briefing", "published": None}
    v = decide([Evidence(s, 1, 0.9, 0.9, 0.05, 0.05)], T, nli=True)
    assert "entailed by Press briefing," in v.reason
    s = {"id": 1, "document_id": 7, "text": "x"}
    assert "document 7" in decide([Evidence(s, 1, 0.9, 0.9, 0.05, 0.05)], T, nli=True).reason


def test_similarity_only_score_stays_in_range_for_negative_cosine():
    v = decide([ev(-0.12)], T, nli=False)
    assert v.label == "novel" and 0.0 <= v.score <= 1.0


# --- rules a desk relies on ----------------------------------------------------------------------


def test_a_same_subject_number_mismatch_contradicts_whatever_the_nli_says():
    e = ev(0.9, 0.95, 0.03, 0.02)
    e.forced = [Mismatch("number", "10,000 soldiers", "100,000 soldiers")]
    v = decide([e], T, nli=True)
    assert v.label == "contradictory" and "number: claim 10,000 soldiers / official 100,000 soldiers" in v.reason
    assert v.conflicting and v.needs_review  # the same sentence also "entails" it: a desk should look
    # a threshold setting cannot switch the rule off; only a run recorded before it existed has it off
    assert decide([e], Thresholds(contradict=0.99, mismatch_p=0.0), nli=True).label == "contradictory"
    old = Thresholds(forced_mismatch=False)
    assert decide([e], old, nli=True).label == "consistent"


def test_a_mismatch_does_not_override_another_sentence_that_entails_the_claim_and_agrees_on_it():
    other = ev(0.9, 0.05, 0.2, 0.75, rank=1, speaker="Ned Price")  # about another year: 50 years
    other.forced = [Mismatch("number", "30 years", "50 years")]
    agreeing = ev(0.8, 0.92, 0.05, 0.03, rank=2)
    v = decide([other, agreeing], T, nli=True)
    assert v.label == "consistent" and v.decisive == 1 and v.conflicting
    assert "Ned Price, 2022-01-26 disagrees: number: claim 30 years / official 50 years" in v.reason
    assert "disagrees on a number" in v.needs_review
    agreeing.forced = [Mismatch("number", "30 years", "40 years")]  # the entailing sentence mismatches too
    assert decide([other, agreeing], T, nli=True).label == "contradictory"


def test_a_mismatch_on_loosely_related_evidence_does_not_force():
    e = ev(0.5, 0.2, 0.7, 0.1)  # below mismatch_sim
    e.forced = [Mismatch("date", "January 26", "January 14")]
    assert decide([e], T, nli=True).label == "novel"


def test_entailment_below_the_floor_never_supports_even_if_a_calibration_says_so():
    low = Thresholds(entail=0.3)
    assert low.entail_bar == ENTAIL_FLOOR
    assert decide([ev(0.8, 0.45, 0.5, 0.05)], low, nli=True).label == "novel"
    assert decide([ev(0.8, 0.55, 0.4, 0.05)], low, nli=True).label == "consistent"


def test_entailment_that_the_model_finds_less_likely_than_contradiction_is_no_support():
    # p_entail 0.5 passes the bar, but the same pair's contradiction is higher: not real support
    v = decide([ev(0.8, 0.5, 0.0, 0.5)], Thresholds(contradict=0.9), nli=True)
    assert v.label == "novel"


def test_contradiction_needs_the_same_subject():
    e = ev(0.9, 0.02, 0.03, 0.95)
    e.overlap = 0.3  # under T.subject_overlap: the sentence talks about something else
    v = decide([e], T, nli=True)
    assert v.label == "novel" and "not about the same subject" in shortfall(e, T, True)
    assert decide([e], Thresholds(subject_overlap=0.25), nli=True).label == "contradictory"
    e.overlap = 0.8
    assert decide([e], T, nli=True).label == "contradictory"


def test_support_needs_a_sentence_that_shares_some_of_the_claims_words():
    e = ev(0.7, 0.8, 0.1, 0.1)
    # "we are open to dialogue" for "NATO does not seek confrontation"
    e.overlap, e.unmatched = 0.1, ["confrontation", "compromise"]
    v = decide([e], T, nli=True)
    assert v.label == "novel"
    assert "shares too few of the claim's words" in shortfall(e, T, True) and "confrontation" in shortfall(e, T, True)
    assert decide([e], Thresholds(support_overlap=0.05), nli=True).label == "consistent"
    e.overlap = T.support_overlap
    assert decide([e], T, nli=True).label == "consistent"


def test_runs_from_before_the_support_alignment_floor_are_explained_without_it():
    recorded = {k: v for k, v in T.as_dict().items() if k not in ("support_overlap", "score_steps", "fit", "source")}
    assert Thresholds.from_manifest({"thresholds": recorded}).support_overlap == 0.0
    assert Thresholds.from_manifest({"thresholds": T.as_dict()}).support_overlap == T.support_overlap


def test_two_negative_sentences_never_contradict_and_the_desk_is_told_to_read_them():
    e = ev(0.9, 0.05, 0.06, 0.89)
    e.both_negative = True  # "None of the documents were released" / "Washington would not release it"
    v = decide([e], T, nli=True)
    assert v.label == "novel"
    assert v.review_code == Review.NEGATION_ECHO and "0.89" in v.needs_review
    assert "both sentences are negative" in shortfall(e, T, True)
    assert decide([e], Thresholds(shared_negation=False), nli=True).label == "contradictory"  # older runs
    e.both_negative = False
    assert decide([e], T, nli=True).label == "contradictory"


def test_a_negative_clause_pair_does_not_contradict_but_another_clause_can():
    e = ev(0.9, 0.05, 0.5, 0.3)
    e.units = [Unit("they did not agree", None, 0.02, 0.03, 0.95, 1.0, both_negative=True)]
    assert decide([e], T, nli=True).label == "novel"
    e.units.append(Unit("they signed", None, 0.02, 0.03, 0.9, 1.0))
    assert decide([e], T, nli=True).label == "contradictory"


def test_other_side_statements_never_decide_but_are_named_when_they_disagree():
    theirs = ev(0.95, 0.01, 0.02, 0.97, speaker="Ivan Petrov", rank=1)
    theirs.counted = False
    ours = ev(0.7, 0.9, 0.05, 0.05, speaker="Mary Jones", rank=2)
    v = decide([theirs, ours], T, nli=True)
    assert v.label == "consistent" and v.decisive == 1
    assert v.review_code == Review.OTHER_SIDE_CONTRADICTS and "Ivan Petrov" in v.needs_review
    only_theirs = decide([theirs], T, nli=True)
    assert only_theirs.label == "novel" and only_theirs.code == Code.NO_OFFICIAL


def test_every_clause_supported_is_consistent_and_part_of_them_needs_review():
    clauses = ["Stoltenberg went over the contents in detail.", "Blinken kept the specifics confidential."]
    a = ev(0.7, 0.2, 0.7, 0.1, speaker="Jens Stoltenberg", rank=1)
    b = ev(0.7, 0.3, 0.6, 0.1, speaker="Antony Blinken", rank=2)
    b.units = [Unit("", 1, 0.9, 0.05, 0.05)]
    partly = decide([a, b], T, nli=True, clauses=clauses)
    assert partly.label == "novel" and partly.code == Code.PARTLY_SUPPORTED
    assert partly.review_code == Review.PARTLY_SUPPORTED
    assert "Blinken kept the specifics" in partly.needs_review and "Antony Blinken" in partly.needs_review
    a.units = [Unit("", 0, 0.8, 0.1, 0.1)]
    whole = decide([a, b], T, nli=True, clauses=clauses)
    assert whole.label == "consistent" and whole.code == Code.CLAUSES_ENTAILED
    assert "Jens Stoltenberg" in whole.reason and "Antony Blinken" in whole.reason


def test_a_clause_of_the_official_sentence_can_entail_the_whole_claim():
    e = ev(0.7, 0.3, 0.6, 0.1)
    e.units = [Unit("Washington would not release the document.", None, 0.92, 0.05, 0.03)]
    v = decide([e], T, nli=True)
    assert v.label == "consistent" and v.score == pytest.approx(0.92)


def test_close_calls_need_review_and_clear_ones_do_not():
    assert decide([ev(0.8, 0.55, 0.4, 0.05)], T, nli=True).review_code == Review.WEAK_SUPPORT
    assert decide([ev(0.8, 0.95, 0.03, 0.02)], T, nli=True).needs_review is None
    assert decide([ev(0.8, 0.45, 0.5, 0.05)], T, nli=True).review_code == Review.NEAR_CONSISTENT
    assert decide([ev(0.8, 0.05, 0.9, 0.05)], T, nli=True).needs_review is None


def test_a_quote_decides_only_through_the_sentence_it_was_found_in():
    """A claim supported by its quote points at the quoted sentence, not at another one."""
    e1, e2 = ev(0.9, 0.1, 0.8, 0.1, rank=1), ev(0.6, 0.1, 0.8, 0.1, rank=2)
    found = {"quote": "space for confidential talks", "ratio": 0.97, "sentence_id": 2, "speaker": "Ned Price",
             "title": None, "date": "2022-01-26"}
    v = decide([e1, e2], T, nli=True, quotes=[found])
    assert v.label == "consistent" and v.code == Code.QUOTED and v.decisive == 1
    elsewhere = decide([e1, e2], T, nli=True, quotes=[found | {"sentence_id": 99}])
    assert elsewhere.code == Code.QUOTED and elsewhere.decisive is None


def test_contradiction_counts_only_between_aligned_sentences():
    """The subject bar is the claim's alignment with the sentence (names, lemmas, meaning)."""
    e = ev(0.8, 0.05, 0.15, 0.8)
    e.overlap = 0.4
    assert decide([e], T, nli=True).label == "novel"
    e.overlap = 0.7
    assert decide([e], T, nli=True).label == "contradictory"


def test_every_code_has_words():
    from verify.pipeline.assess import assess
    from verify.pipeline.verdict import Decision, review_words, words

    e = ev(0.8, 0.6, 0.2, 0.55)
    e.forced = [Mismatch("number", "10", "100")]
    clauses = ["a", "b"]
    e.units = [Unit("", 0, 0.9, 0.05, 0.05), Unit("", 1, 0.9, 0.05, 0.05)]
    a = assess([e], T, nli=True, quotes=[{"quote": "q", "ratio": 0.95, "sentence_id": 1}], clauses=clauses)
    a.echo.p, a.echo.index = 0.9, 0
    a.other_side = ("contradicts", 0, 0.9)
    for code in Code:
        assert words(a, Decision("novel", code, 0.5, 0), T)
    for review in Review:
        assert review_words(a, Decision("novel", Code.UNDECIDED, 0.5, 0, review), T)


def test_every_decision_constant_is_in_the_manifest_and_read_back(tmp_path):
    t = Thresholds(forcing_overlap=0.7, clause_min_similarity=0.25, other_side_contradict=0.85, entity_subject=0.5)
    back = Thresholds.from_manifest({"thresholds": t.as_dict()})
    assert back == t
    old = Thresholds.from_manifest({"thresholds": {"entail": 0.6}})  # a run from before later rules
    assert old.entail == 0.6 and old.forced_mismatch is False and old.contradict_top > 100


def test_the_assessment_measures_once_what_the_rules_read():
    from verify.pipeline.assess import FEATURES, assess

    sup = ev(0.8, 0.9, 0.05, 0.05, rank=1)
    sup.reverse_entail, sup.overlap = 0.7, 0.9
    con = ev(0.7, 0.05, 0.1, 0.85, rank=2)
    con.reverse_contradict, con.overlap = 0.6, 0.8
    a = assess([sup, con], T, nli=True)
    assert (a.support.index, a.support.how, a.against.index) == (0, "sentence", 1)
    f = a.features()
    assert list(f) == list(FEATURES)
    assert f["support"] == 0.9 and f["reverse_entail"] == 0.7 and f["against"] == 0.85
    assert f["reverse_against"] == 0.6 and f["support_alignment"] == 0.9 and f["similarity"] == 0.8
    assert f["forced"] == 0.0


def test_a_fit_over_other_features_is_not_misread():
    t = Thresholds(fit={"features": ["something", "else"], "labels": list(LABELS), "mean": [0, 0],
                        "scale": [1, 1], "coef": [[1, 1]] * 3, "intercept": [0, 0, 0], "contradict_bar": 0})
    assert t.probabilities({"support": 0.9}) is None
    v = decide([ev(0.8, 0.93, 0.05, 0.02)], t, nli=True)
    assert v.label == "consistent" and v.probabilities is None  # the rules decide, as without a fit


def test_a_claim_that_entails_the_sentence_back_cannot_contradict_it():
    e = ev(0.8, 0.17, 0.07, 0.76)
    e.reverse_entail, e.reverse_contradict = 0.77, 0.16
    v = decide([e], T, nli=True)
    assert v.label == "novel"
    assert "not counted: read the other way, the claim entails it (p=0.77)" in v.reason
    e.reverse_entail = 0.3  # the other way does not entail: the contradiction stands
    assert decide([e], T, nli=True).label == "contradictory"
    # runs from before the veto are explained without it
    assert decide([ev(0.8, 0.17, 0.07, 0.76)], Thresholds.from_manifest({"thresholds": {}}), nli=True).label \
        == "contradictory"


def test_a_sentence_of_opposite_polarity_the_claim_contradicts_back_cannot_support_it():
    # "The United States did not agree to end NATO enlargement" / "... agreed to halt any
    # further enlargement of NATO": entail 0.57 one way, contradict 0.65 the other
    e = ev(0.8, 0.57, 0.07, 0.36)
    e.reverse_entail, e.reverse_contradict = 0.3, 0.65
    e.mismatches = [Mismatch("polarity", "affirmed", "negated")]
    v = decide([e], T, nli=True)
    assert v.label == "novel"
    assert "read the other way, the claim contradicts it (p=0.65)" in v.reason
    e.mismatches = []  # same polarity: the reverse reading alone does not veto
    assert decide([e], T, nli=True).label == "consistent"
    e.mismatches = [Mismatch("polarity", "affirmed", "negated")]
    e.reverse_contradict = 0.55  # under the bar
    assert decide([e], T, nli=True).label == "consistent"
    e.reverse_contradict = 0.65
    # runs from before the veto are explained without it
    assert decide([e], Thresholds.from_manifest({"thresholds": {}}), nli=True).label == "consistent"
