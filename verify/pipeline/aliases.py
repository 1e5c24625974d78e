"""Names a desk reads as one: Washington is the United States, the Kremlin is Russia, the
Alliance is NATO, and "NATO's secretary general" is whoever the corpus says holds that role.

Diplomatic prose names a state by its capital or its seat of power (metonymy), a country by
a short form or a demonym, and a person by their role. Read literally, "Washington is ready
to talk" and "The United States is ready to talk" name different things, and a small NLI
model calls the pair a contradiction. So before NLI and before any name comparison, every
mention is mapped to one canonical entity:

* countries, their alternative spellings, capitals and demonyms come from the
  ``countryinfo`` package (MIT); a capital stands for its state only for states of a million
  people or more, so that "Victoria" is a name and not the Seychelles;
* the short forms newsrooms use (U.S., UK), seats of power (the White House, the Kremlin)
  and organisations (the Alliance, OSCE) from ``verify/data/aliases.json``;
* roles, from the corpus's ``speakers`` table (``Aliases.with_speakers``): "the U.S.
  ambassador to the OSCE" is Michael Carpenter when the corpus says he holds that role.

A mention must be written with its capital letter ("turkey" is a bird), and a capital
followed or preceded by another capitalised word is part of a longer name ("the Washington
Treaty", "George Washington"), not its state.
"""
from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "aliases.json"
# A capital stands for its state only where the state is large enough for the metonymy to be
# common: below this, capitals are mostly people's names or other places in English prose.
MIN_CAPITAL_POPULATION = 1_000_000
# Words that make a longer geographic name even at the start of a sentence ("Latin America").
_REGION_WORDS = frozenset("North South East West Central Latin Northern Southern Eastern Western".split())
_ARTICLE_WORDS = ("United ", "Republic", "Kingdom", "Islands", "Emirates", "Netherlands", "Philippines",
                  "Bahamas", "Maldives", "Gambia", "Czech Republic")


@dataclass(frozen=True)
class Entity:
    """One thing with many names: a country, an organisation or a person."""

    name: str  # canonical: "United States", "Russia", "NATO", "Jens Stoltenberg"
    kind: str  # country | organisation | person
    article: bool = False  # written "the United States"

    def written(self, capital: bool = False) -> str:
        """The canonical name as it reads in a sentence ("the United States")."""
        if not self.article:
            return self.name
        return ("The " if capital else "the ") + self.name


@dataclass(frozen=True)
class Mention:
    """Where a text names an entity, and how (``how``: name, short form, capital, seat of
    power, demonym, role)."""

    start: int
    end: int
    text: str
    entity: Entity
    how: str

    @property
    def rewritten(self) -> bool:
        """Whether ``Aliases.normalise`` writes the canonical name here. Demonyms stay:
        "Russian troops" reads well to a model, "Russia troops" does not."""
        return self.how not in ("name", "demonym")


@dataclass
class Aliases:
    """The alias table. ``Aliases.default()`` has the countries and organisations;
    ``with_speakers`` adds the roles a corpus knows."""

    names: dict[str, tuple[Entity, str]]  # alias as written -> (entity, how)
    roles: list[tuple[re.Pattern, Entity]] = field(default_factory=list)
    _pattern: re.Pattern | None = field(default=None, repr=False)

    @classmethod
    def default(cls) -> Aliases:
        return _default()

    def with_speakers(self, speakers: list[dict]) -> Aliases:
        """A copy that also reads the roles of these speakers (rows of ``Corpus.speakers()``).

        A role is read from the words the corpus found around a speaker's name ("the US
        ambassador to the Organization for Security and Cooperation in Europe"): the
        entity it is for (the United States) and its title (ambassador to the OSCE). A
        title two speakers share with the same entity names nobody.
        """
        keys: dict[tuple[str, str], list[Entity]] = {}
        for sp in speakers:
            role, name = sp.get("role"), sp.get("name")
            if not role or not name or role == "publisher" or len(name.split()) < 2 or not name[:1].isupper():
                continue
            parsed = self._role_key(role, sp.get("affiliation"))
            if parsed:
                keys.setdefault(parsed, []).append(Entity(name, "person"))
        roles = []
        synonyms = _data()["role_synonyms"]
        for (owner, title), people in keys.items():
            if len({p.name for p in people}) != 1:
                continue
            roles.append((self._role_pattern(owner, title, synonyms), people[0]))
        return Aliases(self.names, roles)

    # --- finding mentions --------------------------------------------------------------------
    def mentions(self, text: str) -> list[Mention]:
        """Every entity mention in ``text``, longest first where two overlap, in text order."""
        found: list[Mention] = []
        for pattern, person in self.roles:
            for m in pattern.finditer(text):
                found.append(Mention(m.start(), m.end(), m.group(0), person, "role"))
        for m in self.pattern.finditer(text):
            alias = m.group("alias")
            entity, how = self.names[alias]
            if how in ("capital", "seat of power", "short form", "demonym") and _part_of_longer_name(
                    text, m.start("alias"), m.end("alias"), followed=how in ("capital", "seat of power")):
                continue
            found.append(Mention(m.start(), m.end(), m.group(0), entity, how))
        found.sort(key=lambda x: (x.start, -(x.end - x.start)))
        out: list[Mention] = []
        for x in found:
            if not out or x.start >= out[-1].end:
                out.append(x)
        return out

    def entities(self, text: str) -> set[str]:
        """Canonical names of everything ``text`` mentions."""
        return {m.entity.name for m in self.mentions(text)}

    def canonical(self, name: str) -> str:
        """The canonical name of one name as written ("the Kremlin" -> "Russia"); the name
        itself, without an article, when it is not an alias."""
        name = " ".join(name.split())
        m = self.mentions(name)
        if len(m) == 1 and m[0].start == 0 and m[0].end == len(name.rstrip(".")):
            return m[0].entity.name
        stripped = re.sub(r"^(?:the|The)\s+|['’]s$", "", name)
        return self.names[stripped][0].name if stripped in self.names else stripped

    def normalise(self, text: str) -> str:
        """``text`` with every alias, capital, seat of power and role written as its
        canonical name: "Washington's reply" -> "the United States's reply"."""
        out, last = [], 0
        for m in self.mentions(text):
            if not m.rewritten or m.how in ("capital", "seat of power") and _as_place(text, m.start):
                continue
            if m.how == "role":
                # A role beside the name it stands for ("NATO Secretary General Jens Stoltenberg",
                # "Michael Carpenter, the US ambassador to the OSCE,", "the US ambassador to the
                # OSCE, Michael Carpenter,") goes: the name stays once.
                after, before = text[m.end:], text[:m.start]
                names = [m.entity.name, m.entity.name.split()[-1]]
                if any(after.lstrip().startswith(n) for n in names):
                    out.append(text[last:m.start])
                    last = m.end + (len(after) - len(after.lstrip()))
                    continue
                # "the US ambassador to the OSCE, Michael Carpenter, said": the name, without its commas
                apposed = re.match(r"\s*,\s*(" + "|".join(re.escape(n) for n in names) + r")\s*,", after)
                if apposed:
                    out.append(text[last:m.start] + apposed.group(1))
                    last = m.end + apposed.end()
                    continue
                if any(before.rstrip(" ,").endswith(n) for n in names) and before.rstrip().endswith(","):
                    out.append(text[last:len(before.rstrip()) - 1])
                    last = m.end + (1 if after.startswith(",") else 0)
                    continue
            sentence_start = not text[:m.start].strip() or text[:m.start].rstrip().endswith((".", ":", "\u201c", '"'))
            capital = sentence_start or m.text[:1] == "T"
            out.append(text[last:m.start])
            out.append(m.entity.written(capital))
            last = m.end
        out.append(text[last:])
        return "".join(out)

    @property
    def pattern(self) -> re.Pattern:
        if self._pattern is None:
            alternatives = "|".join(re.escape(a) for a in sorted(self.names, key=len, reverse=True))
            self._pattern = re.compile(rf"(?<![\w.\-])(?:(?:the|The)\s+)?(?P<alias>{alternatives})(?![\w\-]|\.\w)")
        return self._pattern

    # --- roles -------------------------------------------------------------------------------
    def _role_key(self, role: str, affiliation: str | None = None) -> tuple[str, str] | None:
        """("United States", "ambassador to OSCE") from "the new US ambassador to the OSCE";
        a role that names no owner ("Secretary General") is the speaker's ``affiliation``'s."""
        owner = None
        words = role = re.sub(r"^(?:(?:the|The|new|New|former|Former)\s+)+", "", role)
        for m in self.mentions(role):
            if m.entity.kind in ("country", "organisation") and owner is None and m.start <= 2:
                owner = m.entity.name
                words = role[m.end:]
        title = self._title(words)
        if owner is None:
            # "NATO Secretary General" has its owner first; "Secretary General of NATO" last.
            m = re.search(r"\s+(?:of|for)\s+(?P<owner>.+)$", words)
            if m and self.canonical(m.group("owner")) in {e.name for e, _ in self.names.values()}:
                owner = self.canonical(m.group("owner"))
                title = self._title(words[:m.start()])
        if owner is None and affiliation and self.canonical(affiliation) in {e.name for e, _ in self.names.values()}:
            owner = self.canonical(affiliation)
        return (owner, title) if owner and title else None

    def _title(self, words: str) -> str:
        """A role's title words with their entities canonical: "ambassador to OSCE"."""
        words = self.normalise(words)
        words = re.sub(r"['’]s\b", " ", words)
        words = re.sub(r"\b(?:the|The|new|New|former|Former|then|acting|Acting)\b", " ", words)
        return " ".join(words.split())

    def _names_re(self, entity: str) -> str:
        """Any way of writing an entity, with or without "the"."""
        aliases = sorted((a for a, (e, _) in self.names.items() if e.name == entity), key=len, reverse=True)
        return r"(?:(?:the|The)\s+)?(?:" + "|".join(re.escape(a) for a in aliases) + ")"

    def _role_pattern(self, owner: str, title: str, synonyms: dict[str, list[str]]) -> re.Pattern:
        """"the U.S. envoy to the OSCE", "America's ambassador to the Organization for Security
        and Co-operation in Europe", "the ambassador of the United States to the OSCE"."""
        titles = {title.lower()}
        for word, alternatives in synonyms.items():
            for t in list(titles):
                if re.search(rf"\b{re.escape(word)}\b", t):
                    titles |= {re.sub(rf"\b{re.escape(word)}\b", alt, t) for alt in alternatives}
        inside = {m.entity.name.lower(): m.entity.name for m in self.mentions(title)}
        variants = []
        for t in sorted(titles, key=len, reverse=True):
            pieces = re.split("(" + "|".join(re.escape(k) for k in inside) + ")", t) if inside else [t]
            variants.append(r"\s+".join(
                self._names_re(inside[p]) if p in inside else r"\s+".join(re.escape(w) for w in p.split())
                for p in pieces if p.strip()))
        titles_re = "|".join(variants)
        owner_re = self._names_re(owner)
        return re.compile(
            rf"(?<![\w])(?:(?:the|The)\s+)?(?:(?:new|former)\s+)?(?:{owner_re}(?:['’]s)?\s+(?:(?:new|former)\s+)?"
            rf"(?:{titles_re})|(?:{titles_re})\s+(?:of|for)\s+{owner_re})(?![\w])", re.I)


# Not "to", "from" or "between": "a letter to Moscow", "talks between Washington and Moscow" name the states.
_PLACE = re.compile(r"\b(?:in|at|near|outside|inside|into|via|around|across)\s+$", re.I)


def _as_place(text: str, start: int) -> bool:
    """A capital or seat of power used as a place ("talks in Helsinki", "at the Kremlin")
    names the place, not the state acting: it stays as written."""
    return bool(_PLACE.search(re.sub(r"(?:the|The)\s+$", "", text[:start])))


def _part_of_longer_name(text: str, start: int, end: int, *, followed: bool = True) -> bool:
    """Whether the alias at ``start:end`` is one word of a longer proper name: "North
    America", "Latin American", and, when ``followed``, "the Washington Post". A short form
    is often followed by a name it qualifies ("U.S. Secretary of State"), so only a
    capital is tested on the word after it. A capitalised function word, weekday or month
    before it ("On Monday Moscow said"), or an English word that only starts the sentence
    ("Yesterday Moscow said"), does not make a longer name; a first name does ("George
    Washington was ...")."""
    after = re.match(r"\s+([A-Z][\w\-]*)", text[end:]) if followed else None
    before = re.search(r"([A-Z][\w\-]*)\s+$", text[:start])
    if after and after.group(1) not in ("D.C", "DC"):
        return True
    if before is None:
        return False
    if before.group(1) in _REGION_WORDS:
        return True
    if before.group(1).lower() in _not_name_words():
        return False
    sentence_start = not text[:before.start(1)].strip()
    return not sentence_start or not english_word(before.group(1))


@lru_cache(maxsize=1)
def _not_name_words() -> frozenset[str]:
    """Capitalised words that never start a longer proper name: function words ("In",
    "And": spaCy's stop words, imported only here because spaCy is slow to import),
    weekdays and months."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS) | {d.lower() for d in calendar.day_name} | {m.lower() for m in calendar.month_name if m}


def english_word(word: str) -> bool:
    """Whether lemminflect knows ``word`` as an English word ("Island", "Reunion")."""
    from lemminflect import getAllLemmas

    return bool(getAllLemmas(word.lower()))


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _default() -> Aliases:
    from countryinfo import all_countries

    names: dict[str, tuple[Entity, str]] = {}
    data = _data()

    def add(alias: str, entity: Entity, how: str) -> None:
        # The first entity to claim a name keeps it: a country's own name beats another's alias.
        if alias and alias[:1].isupper() and alias not in names:
            names[alias] = (entity, how)

    extra = data["countries"]
    # The most populous country claims a capital or demonym two share ("American").
    countries = sorted((c.info() for c in all_countries()), key=lambda i: -(i.get("population") or 0))
    for info in countries:
        name = info["name"]
        article = extra.get(name, {}).get("article", any(w in name for w in _ARTICLE_WORDS))
        entity = Entity(name, "country", article)
        add(name, entity, "name")
    for info in countries:
        entity = names[info["name"]][0]
        for alt in info.get("altSpellings") or []:
            # Two- and three-letter codes are words too ("IN", "IT", "AND"), and so are some
            # native names ("Island" for Iceland, "Tabarka Island"); the short forms a
            # newsroom writes are in the data file.
            if len(alt) > 3 and alt.isascii() and "," not in alt and not english_word(alt):
                add(alt, entity, "short form")
        demonym = info.get("demonym")
        if demonym and demonym.isascii():
            add(demonym, entity, "demonym")
            add(demonym + "s", entity, "demonym")
        capital = info.get("capital")
        if capital and (info.get("population") or 0) >= MIN_CAPITAL_POPULATION:
            add(capital, entity, "capital")
            plain = re.sub(r",?\s+D\.?C\.?$", "", capital)
            if plain != capital:
                add(plain, entity, "capital")
    for name, row in extra.items():
        entity = names[name][0]
        for alias in row["aliases"]:
            how = "short form" if alias.replace(".", "").isupper() or len(alias.split()) == 1 and alias not in (
                "Kremlin", "Pentagon", "Elysee", "Élysée", "Elysée") else "seat of power"
            add(alias, entity, how)
    for name, aliases in data["organisations"].items():
        entity = Entity(name, "organisation", False)
        add(name, entity, "name")
        for alias in aliases:
            if re.match(r"the\s+[a-z]", alias):
                # A common noun names the organisation only with its article ("the alliance"),
                # never alone ("an alliance of farmers").
                for written in (alias, alias[:1].upper() + alias[1:]):
                    names.setdefault(written, (entity, "short form"))
                continue
            alias = re.sub(r"^the\s+", "", alias)
            add(alias, entity, "short form")
    return Aliases(names)
