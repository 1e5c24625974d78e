"""Languages: which language a document, a sentence or a claim is in, and checking claims
that are not in English.

Detection uses py3langid (BSD-3-Clause, a maintained fork of langid.py: a naive Bayes
model over byte n-grams, 140 languages, shipped inside the package, numpy only, read from
site-packages; nothing is downloaded). Documents are long enough to detect reliably with
the full model; single sentences are not ("NATO met Russia." scores Dutch), so a sentence
keeps its document's language unless the model, choosing only between that language,
English and Spanish, is sure it is another one.

English and Spanish are the supported languages of reports: verify's NLI model and its
number, date and name checks read English only, so a claim in another language (a Spanish
report's sentences) is checked *across languages*: its evidence comes from a multilingual
embedder (``verify.pipeline.embed.MultilingualEmbedder``) over the English official sentences, in
a FAISS index of its own built the first time such a claim is checked, dense search only
(words do not match across languages, so BM25 cannot help); and since no model here reads
it, the verdict is always novel and needs review, with the nearest English statements and
their similarity for a reader to judge. No package that translates Spanish to English
offline (weights shipped in the package) was found, so claims are not translated.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Sequence

ENGLISH = "en"
# Languages a report may be in without --any-language. Official statements are the
# evidence the English NLI model reads, so they must be English.
REPORT_LANGUAGES = ("en", "es")
OFFICIAL_LANGUAGES = ("en",)
NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "ca": "Catalan", "gl": "Galician", "ru": "Russian", "uk": "Ukrainian", "pl": "Polish",
    "ar": "Arabic", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "tr": "Turkish", "sv": "Swedish",
    "da": "Danish", "no": "Norwegian", "fi": "Finnish", "ro": "Romanian", "cs": "Czech", "el": "Greek",
}
SHORT_DOCUMENT = 12  # words: below this a document is too short to tell from the full model
SHORT_SENTENCE = 4  # words: below this a sentence keeps its document's language
SWITCH = 0.95  # how sure the two- or three-way model must be to give a sentence another language
SURE = 0.9  # how sure the full model must be to call a claim typed on its own a language other than en/es
SAMPLE = 4000  # characters read from the start, middle and end of a long document
CROSS_LINGUAL_REVIEW = ("cross-lingual: the claim is in {language}; verify's NLI model reads English only, "
                        "so the nearest English statements are shown for a reader to judge")
CROSS_LINGUAL_WHY_NOT = "the claim is not in English: shown by similarity, not judged by the English NLI model"

_FULL = None
_RESTRICTED: dict[tuple[str, ...], object] = {}


def name(code: str | None) -> str:
    """The English name of a language code ("es" -> "Spanish"); the code itself if unknown."""
    return NAMES.get(code or "", code or "an unknown language")


def _identifier(languages: tuple[str, ...] | None = None):
    """py3langid's identifier over all its languages, or restricted to ``languages``."""
    global _FULL
    if _FULL is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _FULL = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if languages is None:
        return _FULL
    if languages not in _RESTRICTED:
        restricted = copy.copy(_FULL)  # shares the model arrays; set_languages makes its own slices
        restricted.set_languages([x for x in languages if x in _FULL.labels])
        _RESTRICTED[languages] = restricted
    return _RESTRICTED[languages]


def _words(text: str) -> int:
    return len(re.findall(r"[^\W\d_]{2,}", text))


def detect(text: str, among: Sequence[str] | None = None) -> tuple[str, float]:
    """(language code, probability) for ``text`` by the full model, or choosing only ``among``."""
    return _identifier(tuple(sorted(set(among))) if among else None).classify(text)


def _sample(text: str) -> str:
    if len(text) <= 3 * SAMPLE:
        return text
    middle = len(text) // 2 - SAMPLE // 2
    return "\n".join((text[:SAMPLE], text[middle:middle + SAMPLE], text[-SAMPLE:]))


def document_language(text: str) -> str:
    """The language of a whole document (ISO 639-1).

    A text too short to tell is taken as English or Spanish, whichever is likelier. Text
    full of English function words that the model cannot place with confidence (lists of
    names, transcripts in capitals) is English, as verify's older guard said.
    """
    if _words(text) < SHORT_DOCUMENT:
        return detect(text, REPORT_LANGUAGES)[0]
    lang, p = detect(_sample(text))
    if lang not in REPORT_LANGUAGES and p < SURE:

        if looks_english(text):
            return ENGLISH
    return lang


def sentence_language(text: str, document: str | None) -> str:
    """The language of one sentence of a document in ``document``: the document's, unless the
    model choosing between it, English and Spanish is sure of another (a quotation in English
    in a Spanish report)."""
    document = document or ENGLISH
    if _words(text) < SHORT_SENTENCE:
        return document
    lang, p = detect(text, {document, *REPORT_LANGUAGES})
    return lang if p >= SWITCH else document


def text_language(text: str) -> str:
    """The language of a claim typed on its own (no document to go by): English unless the
    model is sure of another."""
    if _words(text) >= SHORT_SENTENCE:
        lang, p = detect(text)
        if lang not in REPORT_LANGUAGES and p >= SURE:
            return lang
    return sentence_language(text, ENGLISH)


def claim_languages(corpus, texts: Sequence[str]) -> list[str]:
    """The language of each claim: as recorded for the same sentence at ingest (where its
    document gave the context), else detected from the text."""
    from verify.util import text_hash

    stored: dict[str, str] = {}
    if getattr(corpus, "has_languages", False):
        stored = corpus.stored_languages(sorted({text_hash(t) for t in texts}))
    return [stored.get(text_hash(t)) or text_language(t) for t in texts]


# --- checking claims that are not in English ----------------------------------------------------

def multilingual_embedder(checker):
    """The checker's multilingual embedder, loaded on first use (a test sets
    ``checker.multilingual_embedder`` to a fake before checking)."""
    if checker.multilingual_embedder is None:
        from verify.loading import multilingual

        checker.multilingual_embedder = multilingual()
    return checker.multilingual_embedder


def multilingual_index(checker):
    """The index of the official sentences by the multilingual embedder (its own FAISS files in
    ``embeddings/``, or its own pgvector table, keyed by model id), built or brought up to date on first use."""
    if checker.cross_lingual_index is None:
        from verify.pipeline.index import open_index

        index = open_index(checker.corpus, multilingual_embedder(checker))
        index.ensure()
        checker.cross_lingual_index = index
    return checker.cross_lingual_index


def score_cross_lingual(checker, texts: Sequence[str], originals: Sequence[str], languages: Sequence[str],
                        report_date: str | None = None) -> list[tuple]:
    """Evidence and a verdict for claims not in English (``texts``: their propositions).

    Evidence: the ``k`` nearest official-side sentences by the multilingual embedder (dense
    only), and up to ``retrieve.CONTEXT`` statements by others, marked, as for English claims.
    Verdict: novel, needs review, never consistent or contradictory: no model here can read
    the claim and the statement together. Its score is 1 - the best similarity (how far the
    nearest statement is), not calibrated: calibration was fitted on NLI verdicts.
    """
    from verify.pipeline.embed import embed_cached
    from verify.pipeline.evidence import quotes as quotes_in
    from verify.pipeline.evidence import subject_overlap
    from verify.pipeline.retrieve import CONTEXT, find_quote, relation, retrieve
    from verify.pipeline.verdict import Evidence, Verdict, cite

    embedder = multilingual_embedder(checker)
    index = multilingual_index(checker)
    vectors = embed_cached(checker.corpus, embedder, list(texts))
    hits = retrieve(checker.corpus, index, list(texts), vectors, checker.k, "dense", checker.scope)
    others = [[] for _ in texts]
    if checker.scope.side:
        wider = retrieve(checker.corpus, index, list(texts), vectors, checker.k, "dense", checker.scope.without_side())
        others = [[(sid, sim) for sid, sim in w if sid not in {h for h, _ in row}][:CONTEXT]
                  for w, row in zip(wider, hits)]
    sentences = checker.corpus.sentences_by_id({sid for row in [*hits, *others] for sid, _ in row})

    found_by = f"found by {embedder.model_id} across languages (dense only); not scored by the English NLI model"
    out = []
    for text, original, lang, row, extra in zip(texts, originals, languages, hits, others):
        evs = []
        for rank, (sid, sim) in enumerate(row, 1):
            evs.append(Evidence(sentences[sid], rank, sim, flags=[found_by]))
        for sid, sim in extra:
            evs.append(Evidence(sentences[sid], len(evs) + 1, sim, counted=False,
                                flags=[found_by, "not an official-side statement: shown, never decisive"]))
        for e in evs:
            e.sentence["relation"] = relation(e.sentence.get("published"), report_date)
            e.overlap = subject_overlap(text, e.sentence["text"])
        counted = [(i, e) for i, e in enumerate(evs) if e.counted]
        if counted:
            i, best = max(counted, key=lambda ie: ie[1].similarity)
            reason = (f"claim in {name(lang)}: nearest official statement {cite(best)}, "
                      f"similarity {best.similarity:.2f}; not judged (the NLI model reads English only)")
            verdict = Verdict("novel", round(1 - max(0.0, best.similarity), 4), reason, decisive=i)
        else:
            verdict = Verdict("novel", 1.0, f"claim in {name(lang)}: no official-side statement found; "
                              "not judged (the NLI model reads English only)")
        verdict.needs_review = CROSS_LINGUAL_REVIEW.format(language=name(lang))
        verdict.code, verdict.review_code = "cross-lingual", "cross-lingual"
        verdict.flags.append(f"cross-lingual: claim in {name(lang)}; evidence by {embedder.model_id}, dense only, no NLI")
        # Quoted words are looked up as for English claims (a Spanish report quoting an
        # official in English); they are shown, never decisive here.
        verdict.quotes = [find_quote(checker.corpus, q, checker.scope) for q in quotes_in(original)]
        # No retrieval bars: a recheck's reach test searches the English index, so these
        # claims are always retrieved again when new statements arrive.
        verdict.cutoffs = None
        out.append((verdict, evs))
    return out


def looks_english(text: str) -> bool:
    """A cheap test: English prose is full of these words; other languages are not
    (``verify.pipeline.language`` falls back on it when its model cannot place a text)."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 12:
        return True  # too short to tell
    common = {"the", "of", "and", "to", "a", "in", "is", "that", "for", "on", "with", "as", "by", "it",
              "was", "are", "be", "at", "from", "has", "have", "this", "will", "not", "said", "its", "an"}
    return sum(w in common for w in words) / len(words) >= 0.08
