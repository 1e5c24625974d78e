"""verify.loading: the one seam every stage gets its models from."""
from __future__ import annotations

import pytest

from verify import loading
from verify.pipeline import evidence
from verify.pipeline.check import Checker

from conftest import FakeEmbedder, FakeNLI, make_document
from fakes import FakeEntityTagger


def test_registered_models_are_what_a_checker_and_the_stages_use(corpus, register_models):
    made = []

    def nli(spec):
        made.append(spec)
        return FakeNLI()

    register_models(embedder=FakeEmbedder, nli=nli, entity_tagger=FakeEntityTagger)
    corpus.add_document(make_document("official", "NATO will hold talks with Russia in Geneva.", speaker="A B"))
    checker = Checker(corpus)
    assert isinstance(checker.embedder, FakeEmbedder) and isinstance(checker.nli, FakeNLI) and made == [None]
    assert isinstance(evidence._spacy(), FakeEntityTagger)
    assert loading.entity_tagger() is loading.entity_tagger()  # a pipeline is loaded once


def test_reset_forgets_the_registered_models(register_models):
    register_models(entity_tagger=FakeEntityTagger)
    tagger = loading.entity_tagger()
    loading.reset()
    register_models(entity_tagger=FakeEntityTagger)
    assert loading.entity_tagger() is not tagger


def test_an_unknown_model_kind_is_refused():
    with pytest.raises(ValueError, match="unknown model kind.*reranker"):
        loading.register(reranker=object)
