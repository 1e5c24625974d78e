"""How the checker reads a sentence before it compares two: frames off, names canonical.

A leak report wraps what the document says in frames ("The leaked reply says that ...",
"According to the text, ..."), news reports wrap what officials said in speech frames
("Blinken stressed that ...", "..., Sullivan said."), and both name states by their
capitals and people by their roles. None of that is what the claim asserts or what the
official said, and a small NLI model stumbles on all of it. So each side is read once:

* the document frame is split off (``claims.split_frame``);
* a speech frame is split off, and its speaker kept: the claim's for checking that the
  words are attributed to the right person, the official's for resolving "we" and "our";
* a claim whose subject is the leaked document itself ("The U.S. reply proposes ...") is
  read as its author doing it ("The United States proposes ..."); when the report does not
  name the author, as the official side it is compared with;
* every alias is written as its canonical name (``verify.pipeline.aliases``).

The result, ``Reading.nli``, is what NLI, mismatch checks and alignment see; the evidence
trail shows it beside the text as written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from verify.pipeline.aliases import Aliases
from verify.pipeline.claims import split_frame

# Verbs that report an assertion, so "X said that P" asserts P as X's. Not "denied",
# "rejected", "doubted" or "asked whether": those frames reverse or suspend P. "Say" verbs
# take a bare clause ("Sullivan said the risk was high"); the others also take a plain
# object ("Blinken reiterated his support", "Washington announced sanctions"), so before
# their clause they need "that" or a colon.
_SAY = r"(?:said|says|say|told reporters|told journalists|told [A-Z]\w+)"
_REPORT = (r"(?:stated|states|added|adds|noted|notes|stressed|stresses|confirmed|confirms|explained|explains|"
           r"emphasi[sz]ed|emphasi[sz]es|underscored|underscores|underlined|reiterated|reiterates|insisted|insists|"
           r"made clear|makes clear|announced|announces|argued|warned|warns|pointed out|acknowledged|affirmed|"
           r"declared|maintained|maintains|observed|remarked|wrote)")
_SPEECH = rf"(?:{_SAY}|{_REPORT})"
# Words a speaker phrase is made of: names, titles and their linking words.
_ROLE_WORDS = (r"secretary|general|minister|spokesman|spokeswoman|spokesperson|ambassador|envoy|adviser|advisor|"
               r"officials?|deputy|state|president|diplomats?|chief|representative|head|leader|government|"
               r"administration|ministry|department|new|former|top|senior|foreign|defen[cs]e|national|security|press|"
               r"director|commissioner|counterpart|prime|vice|undersecretary|assistant|permanent|council|office|"
               r"source|sources|aide|aides")
_NAME = r"(?:[A-Z][\w.'’\-]*|U\.S\.|" + _ROLE_WORDS + r"|the|of|for|to|and|in|on|at|[\w.\-]+['’]s)"
# A speaker starts with a name, a title or "the": never with a bare function word ("of states").
_HEAD = r"(?:[A-Z][\w.'’\-]*|U\.S\.|" + _ROLE_WORDS + r"|[\w.\-]+['’]s)"
_SPEAKER = rf"(?P<who>(?:He|She|They|We|I)|(?:The |the )?{_HEAD}(?:,?\s+{_NAME}){{0,14}})"
_LEAD = r"^(?:(?:[A-Z][^,;:]{0,60}),\s+)?"  # "In a press briefing, ..." / "However, ..."
_FRONT = re.compile(rf"{_LEAD}{_SPEAKER},?\s+(?:also\s+|again\s+|repeatedly\s+|later\s+)?"
                    rf"(?:{_SAY}(?:\s+that)?|{_REPORT}\s+that|{_SPEECH}\s*:)(?:\s*,)?\s+(?P<rest>.+)$")
# "..., Sullivan said." / "...,” said the spokesman on Tuesday." / "..., according to X.": the
# frame follows a comma or a closing quote, and only a few words may trail its verb.
_BACK = re.compile(rf"^(?P<rest>.+?)(?:[,;][\u201d\"]?|[\u201d\"][,;]?)\s+(?:{_SPEAKER}\s+(?:also\s+)?{_SPEECH}|"
                   rf"{_SPEECH}\s+(?P<who2>(?:the |The )?{_HEAD}(?:,?\s+{_NAME}){{0,14}})|according to\s+"
                   rf"(?P<who3>(?:the |The )?{_HEAD}(?:,?\s+{_NAME}){{0,14}}))(?:\s+[^.,;\s]+){{0,6}}\s*\.?$")
_QUOTES = "\"\u201c\u201d"
# A document as the subject of an act: "The U.S. reply also proposes ...".
# A document as the subject of an act: "The U.S. reply also proposes ...", "Washington's
# answer asks ...", "The leaked papers propose ...".
_DOCUMENT = re.compile(
    r"^(?P<doc>(?:(?:the|The)\s+|(?=[A-Z]))(?:(?:supposed|alleged|leaked|purported|confidential|written|secret|"
    r"official|formal|full|new|final|latest|joint|two|both|[A-Z][\w.'’\-]*|[\w.\-]+['’]s)\s+){0,4}?"
    r"(?:reply|replies|response|responses|answer|"
    r"answers|document|documents|text|texts|paper|papers|letter|letters|draft|proposal|memo|cable|note))\s+"
    r"(?P<rest>(?:also |further |then |even )?(?!(?:is|was|are|were|has|had|have|be|been|that|which|who|of|to|in|"
    r"on|for|with|and|or|from|by|as|at|it|its|says?|said|reads?)\b)[a-z]+\b.*)$")
# A pronoun that opens what a speaker said is the speaker: "Washington said it favours
# diplomacy". Not "it" before a form of "be" or "seem": "it was not the time" names nobody.
_SELF = re.compile(r"^(?:(?P<p>He|She|They|We)\b|(?P<it>It)\b(?!\s+(?:is|was|isn't|wasn't|'s|seems|seemed|"
                   r"appears|appeared|remains|remained|would be|will be)\b))")
# "Our respective offices" are both sides': only the speaker's own "our" is the speaker's side.
_PRONOUNS = re.compile(r"\b(We|we|Us|us|(?:Our|our)(?!\s+(?:respective|mutual|joint|common|shared)\b))\b")
_CONTRACTED = re.compile(r"\b([Ww]e)['’](ve|re|ll|d)\b")
_FULL = {"ve": "have", "re": "are", "ll": "will", "d": "would"}


@dataclass(frozen=True)
class Reading:
    """One sentence as the checker reads it.

    Attributes:
        text: as written.
        frame: the document frame split off ("The leaked reply says that"), or "".
        speaker: the speech frame's speaker as written ("Sullivan"), or "".
        speaker_entity: that speaker's canonical name, or None.
        proposition: what is asserted, frames off, as written.
        nli: the proposition with names canonical: what NLI and the features read.
        author: for "The U.S. reply proposes ...", the document's author ("United States"),
            "" when the report does not name it; None when the subject is not a document.
    """

    text: str
    frame: str
    speaker: str
    speaker_entity: str | None
    proposition: str
    nli: str
    author: str | None = None

    def as_read_by(self, side: str | None, aliases: Aliases) -> str:
        """The NLI text, with an unnamed document's author taken to be ``side`` (an
        affiliation, "US"): the leak is compared with what that side said."""
        if self.author != "" or not side:
            return self.nli
        entity = aliases.canonical(side)
        m = _DOCUMENT.match(self.nli)
        if not m:
            return self.nli
        found = aliases.mentions(entity) if entity else []
        written = found[0].entity.written(True) if found else entity
        return f"{written} {_act(m.group('rest'))}"

    def as_dict(self) -> dict:
        return {"frame": self.frame or None, "speaker": self.speaker or None, "speaker_entity": self.speaker_entity,
                "proposition": self.proposition, "read_as": self.nli}


def split_speech(text: str) -> tuple[str, str]:
    """Split a speech frame off a sentence: ``(speaker, proposition)``, ``("", text)`` if none.

    Example:
        >>> split_speech("Sullivan said the risk of an invasion was high.")
        ('Sullivan', 'The risk of an invasion was high.')
    """
    text = text.strip()
    m = _FRONT.match(text)
    if m and len(m.group("rest").split()) >= 4:
        return m.group("who").strip(" ,"), _sentence(m.group("rest"))
    m = _BACK.match(text)
    if m and len(m.group("rest").split()) >= 4:
        who = m.group("who") or m.group("who2") or m.group("who3")
        return who.strip(" ,."), _sentence(m.group("rest").rstrip(" ,;") + ".")
    return "", text


def _sentence(text: str) -> str:
    """A clause as a sentence: quotes off, a capital first, one full stop."""
    text = text.strip()
    if text[:1] in _QUOTES:
        text = text[1:]
    text = text.replace("\u201d", "").replace("\u201c", "").replace('"', "")
    text = re.sub(r"[,;:\s]+$", "", text.strip())
    if not text.endswith((".", "!", "?")):
        text += "."
    return text[:1].upper() + text[1:]


class Reader:
    """Reads claims and official sentences with one alias table (roles from the corpus).

    Args:
        aliases: ``Aliases.default().with_speakers(corpus.speakers())`` for a corpus.
    """

    def __init__(self, aliases: Aliases | None = None):
        self.aliases = aliases or Aliases.default()
        self._official: dict[tuple, Reading] = {}

    @classmethod
    def for_corpus(cls, corpus) -> Reader:
        return cls(Aliases.default().with_speakers(corpus.speakers()))

    def claim(self, text: str) -> Reading:
        frame, proposition = split_frame(text)
        speaker, inner = split_speech(proposition)
        entity = self._entity(speaker)
        if entity and _SELF.match(inner):
            # "Washington said it favours diplomacy": what "it" does, the speaker does.
            found = self.aliases.mentions(speaker)
            name = found[0].entity.written(True) if found else entity
            inner = _SELF.sub(name, inner, count=1)
        author = None
        m = _DOCUMENT.match(inner)
        if m:
            owners = [x.entity for x in self.aliases.mentions(m.group("doc")) if x.entity.kind != "person"]
            author = owners[0].name if owners else ""
            inner_read = (f"{owners[0].written(True)} {self.aliases.normalise(_act(m.group('rest')))}" if owners
                          else self.aliases.normalise(inner))
        else:
            inner_read = self.aliases.normalise(inner)
        return Reading(text, frame, speaker, entity, proposition, _unquoted(_ALSO.sub("", inner_read)), author)

    def official(self, text: str, speaker: str | None = None, affiliation: str | None = None) -> Reading:
        """An official sentence; "we" and "our" read as the speaker's side (``affiliation``)."""
        key = (text, speaker, affiliation)
        if key not in self._official:
            said_by, inner = split_speech(text)
            read = self.aliases.normalise(inner)
            side = self.aliases.canonical(affiliation) if affiliation else None
            if side and side in {e.name for e, _ in self.aliases.names.values()}:
                entity = self.aliases.names[next(a for a, (e, _) in self.aliases.names.items() if e.name == side)][0]
                read = _CONTRACTED.sub(lambda m: f"{m.group(1)} {_FULL[m.group(2)]}", read)
                read = _PRONOUNS.sub(lambda m: _pronoun(m.group(1), entity), read)
            self._official[key] = Reading(text, "", said_by, self._entity(said_by or speaker or ""), inner,
                                          _unquoted(read))
        return self._official[key]

    def subject(self, reading: Reading) -> str | None:
        """The state or organisation a claim opens with ("The United States favours ..."), if any."""
        found = self.aliases.mentions(reading.nli)
        if found and found[0].start <= 4 and found[0].entity.kind in ("country", "organisation"):
            return found[0].entity.name
        return None

    def _entity(self, who: str) -> str | None:
        if not who or who in ("He", "She", "They", "We", "I"):
            return None
        found = self.aliases.mentions(who)
        return found[0].entity.name if found else re.sub(r"^(?:the|The)\s+", "", who)


# "NATO also calls on Russia to ...": the report's "also" links the claim to its neighbours;
# the fact is the call. Small NLI models read the extra word as a difference (0.31 against
# 0.93 entailment without it).
_ALSO = re.compile(r"(?<=\w)\s+also(?=\s+\w)")


def _act(rest: str) -> str:
    """What the document's author does, without the report's "also" ("The reply also
    proposes X" is one more thing it proposes: X is what the official record must show)."""
    return re.sub(r"^(?:also|further|then|even)\s+", "", rest)


def _unquoted(text: str) -> str:
    """Quotation marks tell who said it, which the frame already told; NLI reads the words."""
    return " ".join(re.sub(r"[\"\u201c\u201d]", "", text).split())


def _pronoun(word: str, entity) -> str:
    name = entity.written(word[:1].isupper())
    return name + "'s" if word.lower() == "our" else name
