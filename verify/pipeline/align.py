"""How much of what a claim says an official sentence also says.

Contradiction accuses an official of saying the opposite, so it counts only between two
sentences about the same thing. Counting shared words misses that "Washington will not
accept limits" and "we will not consider the limitations" share a subject. Each content
word of the claim (its proposition, read with canonical names: ``verify.pipeline.reading``)
is matched against the official sentence by, in order:

1. canonical entity ("Washington" and "the United States" are one word here, because the
   reading already wrote both as "the United States"; a surname matches the full name);
2. lemma (lemminflect: "talks" / "talk", "limited" / "limit");
3. meaning: the cosine similarity of the two words under the sentence embedder
   (``min_similarity``; "limits" / "restrictions", "soldiers" / "troops"). Never between
   two names: "Ukraine" and "Russia" are close in meaning (0.75) and are two subjects.

The alignment is the share of the claim's content words matched. Words that carry no
subject (auxiliaries, pronouns, negations, contracted or not: polarity is NLI's to judge)
are left out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

# Words that carry no subject: function words, auxiliaries, negations and reporting verbs.
STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as it its this that these those
there here he she they we you i his her their our your yes no so then also after before when while according
during despite however moreover meanwhile is are was were be been being has have had does did do will would can
could should may might must shall not none never nobody nothing neither nor without cannot said says say told
than such which who whom whose what where into over under about more most other some any each all both only
very just also even still already again further its it's s them him me my mine us ours theirs hers himself herself
itself myself ourselves yourself yourselves themselves how why""".split())
# Contractions: "isn't" is "is" + a negation, "you'll" is "you" + "will"; both halves carry no subject.
_CONTRACTION = re.compile(r"(?:n['’]t|['’](?:ll|re|ve|d|m))$", re.I)
_IRREGULAR = {"won't": "will", "won’t": "will", "can't": "can", "can’t": "can", "shan't": "shall", "shan’t": "shall"}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d[\d,.]*")
MIN_SIMILARITY = 0.6


@dataclass
class Alignment:
    """``score``: share of the claim's content words the official sentence matches;
    ``unmatched``: those it does not (shown in the evidence trail)."""

    score: float
    unmatched: list[str] = field(default_factory=list)


@lru_cache(maxsize=50_000)
def lemmas(word: str) -> frozenset[str]:
    """Every lemma a word may have, itself included ("talks" -> talks, talk)."""
    from lemminflect import getAllLemmas

    word = word.lower()
    out = {word}
    for forms in getAllLemmas(word).values():
        out.update(forms)
    return frozenset(out)


def content_words(text: str) -> list[str]:
    """Content words in order, lower-cased; canonical multi-word names stay whole when
    capitalised runs ("United States", "Jens Stoltenberg")."""
    out = []
    runs = re.finditer(r"(?:[A-Z][\w'’\-]*(?:\s+(?:of\s+)?[A-Z][\w'’\-]*)+)|" + _WORD.pattern, text)
    # a possessive ends a name: "NATO’s Open Door Policy" is NATO and its policy
    tokens = [t for run in runs for t in re.split(r"(?<=['’]s)\s+", run.group(0))]
    for token in tokens:
        token = re.sub(r"['’]s$", "", token).strip()
        low = token.lower()
        low = _IRREGULAR.get(low) or _CONTRACTION.sub("", low)
        if low in STOPWORDS or len(low) < 3 and not low[:1].isdigit():
            continue
        out.append(low)
    return out


@lru_cache(maxsize=10_000)
def names(text: str) -> frozenset[str]:
    """The single-word content words of ``text`` that are names, lower-cased: a country or
    organisation the alias table knows ("China", "Turkey", "NATO"), or a capitalised word
    after the first that lemminflect does not know as English ("Ukraine", "Blinken"). The
    first word is capitalised anyway: "Evaluators had to..." names nobody."""
    from verify.pipeline.aliases import Aliases, english_word

    known = {e.lower() for e in Aliases.default().entities(text)}
    out = set()
    for i, run in enumerate(_WORD.finditer(text)):
        word = re.sub(r"['’]s$", "", run.group(0))
        low = word.lower()
        if low in known or (i and word[:1].isupper() and low not in STOPWORDS and not english_word(word)):
            out.add(low)
    return frozenset(out)


class Aligner:
    """Aligns claims with official sentences; word meanings from ``embed(words) -> vectors``.

    Args:
        embed: L2-normalised vectors for a list of words (``embed_cached`` with the
            checker's embedder, so a word is embedded once per corpus); None for lemma and
            entity matching only.
        min_similarity: the cosine at which two words count as the same.
    """

    def __init__(self, embed=None, min_similarity: float = MIN_SIMILARITY):
        self.embed = embed
        self.min_similarity = min_similarity
        self._vectors: dict[str, np.ndarray] = {}

    def warm(self, pairs) -> None:
        """Embed, in one batch, every word of these (claim, official) pairs not yet known."""
        if self.embed is None:
            return
        todo = sorted({w for c, o in pairs for t in (c, o) for w in content_words(t)} - set(self._vectors))
        if todo:
            for w, v in zip(todo, self.embed(todo)):
                self._vectors[w] = np.asarray(v, dtype=np.float32)

    def align(self, claim: str, official: str) -> Alignment:
        mine = list(dict.fromkeys(content_words(claim)))
        if not mine:
            return Alignment(1.0)
        theirs = list(dict.fromkeys(content_words(official)))
        their_lemmas = set().union(*(lemmas(w) for w in theirs if " " not in w)) if theirs else set()
        their_words = set(theirs)
        their_parts = {part for t in theirs for part in re.split(r"[\s\-]+", t)}
        named, their_names = names(claim), names(official)
        unmatched = []
        for w in mine:
            if w in their_words or (" " not in w and lemmas(w) & their_lemmas):
                continue
            if " " in w or w[:1].isdigit():
                # a name: the same entity written in full ("jens stoltenberg" / "stoltenberg")
                if any(set(w.split()) <= set(t.split()) or set(t.split()) <= set(w.split())
                       for t in theirs if " " in t or " " in w):
                    continue
                if " " in w and set(w.split()) <= their_parts:
                    continue  # "open door policy" / "their open-door policy"
                unmatched.append(w)
                continue
            if any(w in t.split() for t in theirs if " " in t):
                continue  # a surname of a full name: "blinken" / "antony blinken"
            # a name may mean a common word ("Europe" / "a state") but never another name
            if self._similar(w, [t for t in theirs if t not in their_names] if w in named else theirs):
                continue
            unmatched.append(w)
        return Alignment(round(1 - len(unmatched) / len(mine), 4), unmatched)

    def _similar(self, word: str, others: list[str]) -> bool:
        if self.embed is None:
            return False
        self.warm([(word, " ".join(others))])
        v = self._vectors[word]
        return any(float(v @ self._vectors[o]) >= self.min_similarity for o in others if " " not in o)
