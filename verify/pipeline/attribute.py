"""Who said each sentence of an official document, and the words that say so.

Files of "official statements" are often news reports about them: narration by the
publisher, direct quotes, reported speech, sometimes a reply from the other side. A
sentence counts as an official's statement only when the text attributes it to them:

* a transcript turn (``SECRETARY BLINKEN:``, found by ``segment``);
* a direct quote with a reporting verb (``"…," Smith said`` / ``Smith said: "…"``), and
  the other sentences of that quotation, including a quote continued into the next
  paragraph (each paragraph of a long quote opens with a quote mark);
* ``according to X``;
* reported speech: a main-clause reporting verb ("Blinken stressed that …", "she
  described the themes as …"), with he/she resolved to the person last named as a subject
  or speaker;
* a paragraph that ends ``…, said X.`` (quotes printed without quote marks).

Everything else is narration and belongs to the publisher, or, when ingest was given
``--speaker``, to that default. Each attribution records the cue that gave it, and the
role words around the name ("the US ambassador to NATO"), from which ``affiliation``
infers a side ("US"); the desk can correct both in the speakers table.

spaCy's small English model gives the parse and the names; it is loaded on first use and
runs only on sentences with a reporting cue.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from verify.pipeline.sides import AFFILIATIONS, affiliation  # noqa: F401  (part of attribute's API)
from verify.store.records import Document, SentenceSpan

# --- reporting cues ------------------------------------------------------------------------------
REPORTING = {
    "say", "tell", "add", "stress", "explain", "insist", "describe", "note", "emphasize", "emphasise",
    "underscore", "underline", "warn", "reiterate", "announce", "state", "cite", "urge", "pledge", "argue",
    "claim", "confirm", "deny", "acknowledge", "write", "respond", "reply", "suggest", "declare", "assert",
    "affirm", "reaffirm", "caution", "vow", "promise", "remark", "comment", "observe", "point", "tweet",
    "highlight", "signal", "concede", "admit", "predict", "contend", "maintain", "repeat", "announce",
}
_CUE = re.compile(r"\b(said|says|say|told|tells|added|adds|stress|stressed|stresses|explain(?:s|ed)?|insist(?:s|ed)?|"
                  r"describ(?:e|es|ed)|not(?:e|es|ed)|emphasi[sz](?:e|es|ed)|underscor(?:e|es|ed)|underlin(?:e|es|ed)|"
                  r"warn(?:s|ed)?|reiterat(?:e|es|ed)|announc(?:e|es|ed)|stat(?:e|es|ed)|cit(?:e|es|ed)|urg(?:e|es|ed)|"
                  r"pledg(?:e|es|ed)|argu(?:e|es|ed)|claim(?:s|ed)?|confirm(?:s|ed)?|den(?:y|ies|ied)|"
                  r"acknowledg(?:e|es|ed)|wrote|writes|respond(?:s|ed)?|repl(?:y|ies|ied)|suggest(?:s|ed)?|"
                  r"declar(?:e|es|ed)|assert(?:s|ed)?|affirm(?:s|ed)?|reaffirm(?:s|ed)?|vow(?:s|ed)?|promis(?:e|es|ed)|"
                  r"made clear|makes clear|pointed out|points out|according to|highlight(?:s|ed)?|tweet(?:s|ed)?|"
                  r"conced(?:e|es|ed)|admit(?:s|ted)?|predict(?:s|ed)?|maintain(?:s|ed)?|repeat(?:s|ed)?)\b", re.I)
_ACCORDING_LEAD = re.compile(r"^according to (?P<who>[^,.;:“”\"]{2,120}?),", re.I)
# After the clause, an appositive may follow: "..., according to Jen Psaki, White House spokeswoman."
_ACCORDING = re.compile(r"\baccording to (?P<who>[^.;:“”\"]{2,160}?)[.!]?[”\"]?\s*$", re.I)
_TRAILING = re.compile(r",[”\"]?\s+(?:(?:said|says|added|adds)\s+(?P<who1>[^.;“”\"]{2,120}?)|"
                       r"(?P<who2>[^,.;“”\"]{2,80}?)\s+(?:said|says|added|adds|explained|noted|stressed|warned))"
                       r"(?:\s+(?:at|in|on|during|after|before|following|to)\b[^.;“”\"]*)?[.!]?[”\"]?\s*$")
_PRONOUNS = {"he": "person", "she": "person", "they": "group", "we": "group"}
_GROUP_WORDS = re.compile(r"\b(officials?|allies|diplomats?|spokes(?:wo)?man|spokesperson|ministry|ministers?|"
                          r"government|administration|envoys?|delegation|leaders?|sources?|kremlin|white house|"
                          r"state department|pentagon|alliance|washington|moscow|nato|russia|"
                          r"departments?|office|embassy|mission|council|commission|agency|committee|bureau|"
                          r"united states|us|u\.s\.|eu|ukraine|kyiv)\b", re.I)
_TITLES = re.compile(r"^(?:(?:u\.s\.|us|nato|russian|russia's|american|the|a|an|former|new|deputy|under|chief|senior|"
                     r"secretary|general|state|president|prime|minister|foreign|defen[cs]e|ambassador|envoy|spokes\w*|"
                     r"mr|mrs|ms|dr|sen|rep|gov|adm|gen|lt|col|press|national|security|adviser|advisor|of|"
                     r"white|house|vice|assistant|director|head|top|chair\w*)\.?\s+)+", re.I)
_PERSON_NAME = re.compile(r"^[A-Z][\w'’\-]+(?:\s+(?:[A-Z][\w'’\-.]+|de|van|von|der|al|bin))*$")


@dataclass
class Attribution:
    """Who said one sentence, and why we think so.

    ``kind``: transcript | quote | quote (continued) | according to | reported speech |
    paragraph | narration | document speaker. ``cue`` is the text that gave it.
    """

    speaker: str | None
    kind: str
    cue: str = ""
    role: str | None = None

    @property
    def affiliation(self) -> str | None:
        return affiliation(self.role)


@dataclass
class _Speaker:
    name: str
    role: str | None
    kind: str  # person | group


def _spacy():
    from verify.loading import parser

    return parser()


# --- quotations ----------------------------------------------------------------------------------

def quote_spans(line: str) -> list[tuple[int, int]]:
    """Character spans of the quotations in one paragraph.

    Curly quotes pair by direction; straight quotes alternate. An opening mark with no
    close runs to the end of the paragraph (a quote continued in the next one); a closing
    mark with no opening starts the quote at the paragraph's start (a typesetting slip:
    the quote is still a quote).
    """
    spans, start = [], None
    for m in re.finditer(r"[“”\"]", line):
        ch = m.group(0)
        if ch == "“" or (ch == '"' and start is None):
            if start is None:
                start = m.start()
        elif start is not None:
            spans.append((start, m.end()))
            start = None
        else:  # a closing mark with nothing open
            spans.append((spans[-1][1] if spans else 0, m.end()))
    if start is not None:
        spans.append((start, len(line)))
    return spans


def _quoted_share(sent_start: int, sent_end: int, spans: list[tuple[int, int]]) -> float:
    inside = sum(max(0, min(sent_end, e) - max(sent_start, s)) for s, e in spans)
    return inside / max(1, sent_end - sent_start)


# --- speakers from noun phrases ------------------------------------------------------------------

class _Names:
    """The people a document has named so far: "Blinken" -> "Antony Blinken"."""

    def __init__(self, known: Sequence[str] = ()):
        self.full: dict[str, str] = {}
        self.roles: dict[str, str] = {}
        for name in known:
            self.add(name, None)

    def add(self, name: str, role: str | None) -> str:
        name = self.canonical(name)
        if len(name.split()) >= 2:
            self.full.setdefault(name.split()[-1].lower(), name)
        # "Secretary Blinken" after "US Secretary of State Antony Blinken": keep the role that
        # says whose side he is on.
        if role and (not self.roles.get(name) or (affiliation(role) and not affiliation(self.roles[name]))):
            self.roles[name] = role
        return name

    def best_role(self, name: str, role: str | None) -> str | None:
        known = self.roles.get(name)
        return role if role and (affiliation(role) or not known) else known

    def canonical(self, name: str) -> str:
        name = re.sub(r"[’']s$", "", name.strip(" ,.")).strip()
        parts = name.split()
        if len(parts) == 1:
            return self.full.get(parts[0].lower(), name)
        return name

    def role(self, name: str) -> str | None:
        return self.roles.get(name)


def _speaker_from_phrase(phrase: str, doc_span, names: _Names, last: dict) -> _Speaker | None:
    """The speaker a subject phrase names: a person (with the role words around the name),
    a pronoun resolved from context, or a group ("US officials", "the allies")."""
    phrase = phrase.strip(" ,")
    low = phrase.lower()
    if low in _PRONOUNS:
        want = _PRONOUNS[low]
        found = last.get("person") if want == "person" else last.get("group")
        return found
    persons = [e for e in getattr(doc_span, "ents", ()) if e.label_ == "PERSON"] if doc_span is not None else []
    for ent in persons:
        after = phrase[phrase.find(ent.text) + len(ent.text):] if ent.text in phrase else ""
        if re.search(r"[’']s$", ent.text) or re.match(r"^[’']s\s+\w", after):
            # "Joe Biden's spokeswoman": the speaker is the role, not the person named
            group = re.sub(r"^(?:the|a|an)\s+", "", phrase, flags=re.I)
            return _Speaker(group, phrase, "group")
        role = re.sub(r"\s{2,}", " ", phrase.replace(ent.text, " ")).strip(" ,") or None
        name = names.add(ent.text, role)
        return _Speaker(name, names.best_role(name, role), "person")
    bare = _TITLES.sub("", phrase).strip(" ,")
    if bare and _PERSON_NAME.match(bare) and not _GROUP_WORDS.search(bare) and len(bare.split()) <= 4:
        role = phrase[:len(phrase) - len(bare)].strip(" ,") or None
        name = names.add(bare, role)
        return _Speaker(name, names.best_role(name, role), "person")
    if _GROUP_WORDS.search(phrase) and len(phrase.split()) <= 8:
        group = re.sub(r"^(?:the|a|an)\s+", "", phrase, flags=re.I)
        return _Speaker(group, phrase, "group")
    return None


def _subject_phrase(verb) -> tuple[str, object] | None:
    # Only an active subject speaks: in "Truth be told, ..." or "Russia was told that ..." the
    # passive subject is what is said, or who hears it.
    if any(c.dep_ == "auxpass" for c in verb.children):
        return None
    subj = [c for c in verb.children if c.dep_ == "nsubj"]
    if not subj and verb.dep_ == "conj":  # "Washington responded ... and said that ...": the first verb's subject
        subj = [c for c in verb.head.children if c.dep_ == "nsubj"]
    if not subj:
        return None
    s = subj[0]
    span = s.doc[s.left_edge.i:s.right_edge.i + 1]
    return span.text, span


def _reporting_verb(doc):
    """The main-clause reporting verb of a parsed sentence, if any.

    Only the main clause counts: in "While the allies urged more meetings, Russian
    officials refused to commit" the allies do not say the sentence.
    """
    for tok in doc:
        lemma = tok.lemma_.lower()
        is_cue = lemma in REPORTING or (lemma == "make" and any(c.lower_ == "clear" for c in tok.children))
        if not is_cue or tok.pos_ not in ("VERB", "AUX"):
            continue
        if _in_main_clause(tok) and _subject_phrase(tok):
            return tok
    return None


# Links that put a verb in a subordinate clause ("while X urged", "who described", "when
# X said"). Walking up through anything else counts as the main clause: the small model
# often roots a sentence on the wrong verb, but rarely mislabels these.
_SUBORDINATE = {"advcl", "relcl", "acl", "pcomp", "csubj", "xcomp", "advmod", "prep", "pobj", "amod", "mark"}


def _in_main_clause(tok) -> bool:
    while True:
        if tok.dep_ in _SUBORDINATE:
            return False
        if tok.dep_ == "ROOT" or tok.head is tok:
            return True
        tok = tok.head


# --- the document pass ---------------------------------------------------------------------------

def attribute(text: str, sentences: Sequence, *, publisher: str | None = None,
              default_speaker: str | None = None, known_names: Sequence[str] = ()) -> list[Attribution]:
    """Attribute every sentence of one document.

    Args:
        text: the document's stored text.
        sentences: its sentences (``SentenceSpan``: start, end, text, speaker from a transcript turn).
        publisher: who publishes the document: narration is theirs.
        default_speaker: ``--speaker`` given at ingest: unattributed sentences are theirs.
        known_names: full names already in the corpus, so "Blinken" resolves to "Antony Blinken".

    Returns:
        One ``Attribution`` per sentence, in order.
    """
    names = _Names(known_names)
    if default_speaker:
        names.add(default_speaker, None)
    out: list[Attribution | None] = [None] * len(sentences)
    last: dict = {}
    lines = _line_index(text)
    need = [i for i, s in enumerate(sentences) if s.attribution != "transcript" and not s.speaker and _CUE.search(s.text)]
    parsed = dict(zip(need, _spacy().pipe([sentences[i].text for i in need], batch_size=64))) if need else {}
    by_line: dict[int, list[int]] = {}
    for i, s in enumerate(sentences):
        by_line.setdefault(_line_of(lines, s.start), []).append(i)
    prev_quote: _Speaker | None = None
    for line_no in sorted(by_line):
        members = by_line[line_no]
        line_start, line_end = lines[line_no]
        spans = quote_spans(text[line_start:line_end])
        spans = [(a + line_start, b + line_start) for a, b in spans]
        line_speaker: _Speaker | None = None
        line_kind = ""
        for i in members:
            s = sentences[i]
            if s.attribution == "transcript" or s.speaker:  # a transcript turn (speaker None: a question)
                out[i] = Attribution(s.speaker, "transcript", s.cue or f"{(s.speaker or '').upper()}:")
                continue
            found = _explicit(s, parsed.get(i), names, last)
            if found:
                who, kind, cue = found
                out[i] = Attribution(who.name, kind, cue, who.role)
                line_speaker, line_kind = who, kind
                if _TRAILING.search(s.text) and not re.search(r"[“”\"]", s.text):
                    line_kind = "paragraph"  # 'Sentence. Sentence, said X.': a quote printed without marks
                last[who.kind] = who
            doc = parsed.get(i)
            if doc is not None:
                _remember_subject(doc, names, last)
            else:
                _remember_leading_name(s.text, names, last)
        quoted_line = bool(spans)
        for i in members:
            if out[i] is not None:
                continue
            s = sentences[i]
            inside = _quoted_share(s.start, s.end, spans) >= 0.5
            first_person = re.search(r"\b(we|our|us|i|my)\b", s.text, re.I) is not None
            if line_speaker and (inside or (quoted_line and first_person)):
                out[i] = Attribution(line_speaker.name, "quote", f"in a quotation attributed to {line_speaker.name}",
                                     line_speaker.role)
            elif inside and prev_quote and text[line_start:line_start + 1] in "“\"":
                out[i] = Attribution(prev_quote.name, "quote (continued)",
                                     f"quotation continued from {prev_quote.name}'s previous paragraph", prev_quote.role)
            elif line_speaker and line_kind == "paragraph":
                out[i] = Attribution(line_speaker.name, "paragraph",
                                     f"same paragraph as the words attributed to {line_speaker.name}", line_speaker.role)
        # The speaker a quotation opening the next paragraph continues: the last one
        # attributed in this paragraph (a quote, or reported speech introducing it).
        attributed = [out[i] for i in members if out[i] and out[i].speaker and out[i].kind != "transcript"]
        prev_quote = _Speaker(attributed[-1].speaker, attributed[-1].role, "person") if attributed else None
    result = []
    for a in out:
        if a is not None:
            result.append(a)
        elif default_speaker:
            result.append(Attribution(default_speaker, "document speaker", "--speaker given at ingest"))
        else:
            result.append(Attribution(None, "narration", f"narration by {publisher}" if publisher else "narration"))
    return result


def _explicit(s, doc, names: _Names, last: dict):
    """An attribution the sentence itself states: according to X, "…," X said, X said that …"""
    m = _ACCORDING_LEAD.search(s.text) or _ACCORDING.search(s.text)
    if m:
        phrase = m.group("who")
        span = _sub_doc(doc, phrase) if doc is not None else None
        who = _speaker_from_phrase(phrase, span, names, last)
        if who:
            return who, "according to", m.group(0)
    quoted = _quoted_share(0, len(s.text), quote_spans(s.text)) >= 0.3
    if doc is not None:
        verb = _reporting_verb(doc)
        found = _subject_phrase(verb) if verb is not None else None
        if found and found[0].strip().lower() not in _PRONOUNS:
            # A named subject beats a trailing pronoun: 'Jake Sullivan said: "…" "…," he added.'
            who = _speaker_from_phrase(found[0], found[1], names, last)
            if who:
                return who, ("quote" if quoted else "reported speech"), f"{found[0]} {verb.text}"
    m = _TRAILING.search(s.text)
    if m and doc is not None:
        phrase = (m.group("who1") or m.group("who2")).strip()
        who = _speaker_from_phrase(phrase, _sub_doc(doc, phrase), names, last)
        if who:
            has_marks = bool(re.search(r"[“”\"]", s.text))
            return who, ("quote" if has_marks else "paragraph"), m.group(0).strip(" ,")
    if doc is None:
        return None
    verb = _reporting_verb(doc)
    if verb is None:
        return None
    phrase, span = _subject_phrase(verb)
    who = _speaker_from_phrase(phrase, span, names, last)
    if who is None:
        return None
    return who, ("quote" if quoted else "reported speech"), f"{phrase} {verb.text}"


def _remember_leading_name(text: str, names: _Names, last: dict) -> None:
    """Unparsed sentences: one that opens with a name the document has used ("Sherman was
    at NATO headquarters ...") is about that person."""
    lead = re.match(r"^((?:[A-Z][\w'’\-.]*\s+){1,4})", text + " ")
    if not lead:
        return
    for word in reversed(lead.group(1).split()):
        full = names.full.get(word.strip(".,'’s").lower())
        if full:
            last["person"] = _Speaker(full, names.role(full), "person")
            return


def _remember_subject(doc, names: _Names, last: dict) -> None:
    """The person a sentence is about (its subject) is who a following "she said" means."""
    for ent in doc.ents:
        if ent.label_ == "PERSON" and len(ent.text.split()) >= 2:
            names.add(ent.text, _role_of(ent))
    for tok in doc:
        if tok.dep_ == "nsubj" and tok.head.dep_ == "ROOT" and tok.ent_type_ == "PERSON":
            ent = next((e for e in doc.ents if e.start <= tok.i < e.end), None)
            if ent is not None:
                name = names.add(ent.text, None)
                last["person"] = _Speaker(name, names.role(name), "person")
            return


def _role_of(ent) -> str | None:
    """The title words before a name in its noun phrase ("US Deputy Secretary of State
    Wendy Sherman"), or the noun it stands in apposition to ("the new US ambassador to
    NATO, Julianne Smith")."""
    doc, root = ent.doc, ent.root
    if root.left_edge.i < ent.start:
        words = doc[root.left_edge.i:ent.start].text
        # "Stoltenberg and US Deputy Secretary of State Wendy Sherman": only the last conjunct
        return re.split(r",|\band\b", words)[-1].strip(" ,") or None
    if root.dep_ == "appos":
        head = root.head
        return doc[head.left_edge.i:head.i + 1].text.strip(" ,") or None
    return None


def _sub_doc(doc, phrase: str):
    """The tokens of ``doc`` covering ``phrase`` (a Span), for its named entities."""
    if doc is None:
        return None
    at = doc.text.find(phrase)
    if at < 0:
        return None
    return doc.char_span(at, at + len(phrase), alignment_mode="expand")


def _line_index(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _line_of(lines: list[tuple[int, int]], offset: int) -> int:
    lo, hi = 0, len(lines) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if lines[mid][0] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


# --- stored documents ------------------------------------------------------------------------------

def reattribute(corpus, doc_ids: Sequence[int] | None = None) -> int:
    """Attribute the sentences of stored documents again (after an upgrade, or a fix to
    the rules). Sentence ids, text and offsets do not change, so nothing is re-embedded.

    Returns:
        How many sentences changed speaker or attribution.
    """
    from verify.pipeline.segment import segment
    from verify.pipeline.speakers import infer_speakers

    changed = 0
    for doc_id in doc_ids if doc_ids is not None else corpus.document_ids():
        doc = corpus.document(doc_id)
        stored = corpus.stored_spans(doc_id)
        # Segmenting again recovers what the stored rows lack (transcript turns); offsets match.
        fresh = {(sp.start, sp.end): sp for sp in segment(doc["text"], doc["speaker"])}
        spans = []
        for old in stored:
            span = fresh.get((old.start, old.end)) or SentenceSpan(old.start, old.end, old.text)
            span.id = old.id
            spans.append(span)
        for span, a in zip(spans, attribute(doc["text"], spans, publisher=doc["publisher"],
                                            default_speaker=doc["speaker"],
                                            known_names=list(corpus.known_speakers().values()))):
            if span.attribution != "transcript":
                span.speaker, span.attribution, span.cue, span.role = a.speaker, a.kind, a.cue, a.role
        changed += sum((new.speaker, new.attribution) != (old.speaker, old.attribution)
                       for new, old in zip(spans, stored))
        record = Document(kind=doc["kind"], text=doc["text"], publisher=doc["publisher"], speaker=doc["speaker"],
                          sentences=spans)
        corpus.set_attributions(spans, infer_speakers(record))
    return changed


def edit_document(corpus, doc_id: int, changes: dict, by: str) -> dict:
    """Correct a document's metadata (``Corpus.edit_document``: recorded, dependent claims
    marked stale) and, when its speaker or publisher changed, attribute its sentences again:
    both in one transaction.
    """
    with corpus.transaction():
        result = corpus.edit_document(doc_id, changes, by)
        if {"speaker", "publisher"} & set(result["changed"]) and corpus.document(doc_id)["kind"] == "official":
            reattribute(corpus, [doc_id])
    return result

