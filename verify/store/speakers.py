"""Speakers, the side each speaks for, and the corpus settings (the official side).

Who speaks for which side is inferred by the pipeline (``verify.pipeline.speakers``); the
store records it by one rule: the desk's word (``set_speaker``) is never overwritten, and
an inferred speaker without a side takes the first side a later document gives them.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from verify.store.engine import Engine
from verify.store.records import Speaker, now
from verify.store.sentences import voice

_SET_BY_DESK = "set by "  # the source of a speaker the desk corrected


class Speakers(Engine):
    def known_speakers(self) -> dict[str, str]:
        """Surname -> full name, for surnames only one known speaker has ("blinken" -> "Antony Blinken")."""
        by_surname: dict[str, set[str]] = {}
        for (name,) in self.execute("select name from speakers where name like '% %'"):
            by_surname.setdefault(name.split()[-1].lower(), set()).add(name)
        return {k: next(iter(v)) for k, v in by_surname.items() if len(v) == 1}

    def register_speakers(self, speakers: Iterable[Speaker]) -> None:
        """Record speakers as a document names them: a new name is added; a known one without
        a side takes the side given here, unless the desk set them."""
        for sp in speakers:
            row = self.execute("select affiliation, source from speakers where name = ?", [sp.name]).fetchone()
            values = {"affiliation": sp.affiliation, "role": sp.role, "source": sp.source, "updated_at": now()}
            if row is None:
                self._insert("speakers", {"name": sp.name, **values})
            elif sp.affiliation and not row[0] and not str(row[1]).startswith(_SET_BY_DESK):
                self._update("speakers", sp.name, values)

    def speakers(self) -> list[dict]:
        """Every speaker with their affiliation, role, how it was found, and their sentence count."""
        cur = self.execute(
            "select sp.name, sp.affiliation, sp.role, sp.source, sp.updated_at, "
            "(select count(*) from sentences s join documents d on d.id = s.document_id "
            f" where {voice()} = sp.name) from speakers sp order by sp.name")
        keys = ["name", "affiliation", "role", "source", "updated_at", "sentences"]
        return [dict(zip(keys, r)) for r in cur]

    def set_speaker(self, name: str, *, affiliation: str | None = None, role: str | None = None,
                    by: str = "the desk") -> dict:
        """Correct (or add) a speaker's affiliation or role; the desk's word is never overwritten by inference."""
        with self.transaction():
            row = self.execute("select name, affiliation, role from speakers where name = ?", [name]).fetchone()
            values = {"affiliation": affiliation if affiliation is not None else (row[1] if row else None),
                      "role": role if role is not None else (row[2] if row else None),
                      "source": f"{_SET_BY_DESK}{by}", "updated_at": now()}
            if row is None:
                self._insert("speakers", {"name": name, **values})
            else:
                self._update("speakers", name, values)
        return {"name": name, **values}

    def affiliations_fingerprint(self) -> str:
        """A short hash of who speaks for which side: a rechecked verdict is stale when it changes."""
        h = hashlib.sha256()
        for name, aff in self.execute("select name, coalesce(affiliation, '') from speakers order by name"):
            h.update(f"{name}\x00{aff}\x01".encode())
        return h.hexdigest()[:16]

    # --- corpus settings ----------------------------------------------------------------------
    def setting(self, key: str, default=None):
        if not self._has_table("settings"):
            return default
        row = self.execute("select value from settings where key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value) -> None:
        with self.transaction():
            if value is None:
                self.execute("delete from settings where key = ?", [key])
            else:
                self._upsert("settings", {"key": key, "value": json.dumps(value)}, pk="key")

    def official_side(self) -> list[str] | None:
        """The affiliations whose statements count as official evidence (None: every statement counts)."""
        return self.setting("official_side")

    def set_official_side(self, sides: list[str] | None) -> None:
        self.set_setting("official_side", sorted(set(sides)) if sides else None)
