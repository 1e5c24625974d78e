"""Documents: storing one with its sentences and speakers, listing, correcting and
removing them (every change recorded in the append-only ``document_edits``)."""
from __future__ import annotations

import hashlib
from dataclasses import replace

from verify.errors import CorpusError, InUse
from verify.store.engine import Engine
from verify.store.records import AddResult, Document, now
from verify.util import text_hash

EDITABLE = ("title", "url", "publisher", "speaker", "published")
# A removed document keeps its rows (verdict history still shows the evidence it gave) but
# is no longer "official" or "report": every search and recheck leaves it out.
REMOVED = "removed"


class Documents(Engine):
    def find_document(self, sha256: str) -> dict | None:
        rows = self._select("documents", "sha256 = ?", [sha256], limit=1)
        return rows[0] if rows else None

    def add_document(self, doc: Document) -> AddResult:
        """Store a document, its sentences and its speakers in one transaction; a duplicate
        (the same text) is a no-op.

        A one-word speaker name ("Blinken") is stored as the one known speaker of that
        surname ("Antony Blinken"), where exactly one is known.
        """
        existing = self.find_document(doc.sha256)
        if existing is not None:
            return AddResult(existing["id"], False, self.sentence_count(existing["id"]))
        with self.transaction():
            doc_id = self._insert("documents", {
                "kind": doc.kind, "title": doc.title, "url": doc.url, "publisher": doc.publisher,
                "speaker": doc.speaker, "published": doc.published, "sha256": doc.sha256,
                "source": doc.source, "format": doc.format, "text": doc.text, "ingested_at": now(),
            } | ({"language": doc.language} if self.has_languages else {}))
            attributed = self.has_attribution
            paged = self.has_pages
            languages = self.has_languages
            known = self.known_speakers() if attributed else {}
            rows = []
            for i, s in enumerate(doc.sentences):
                speaker = _full_name(s.speaker, known)
                if s.attribution is None:  # built without attribution (tests, pools): the document's speaker
                    speaker = speaker or doc.speaker
                rows.append({"document_id": doc_id, "position": i, "start": s.start, "end": s.end, "text": s.text,
                             "speaker": speaker, "text_hash": text_hash(s.text)}
                            | ({"attribution": s.attribution, "cue": s.cue} if attributed else {})
                            | ({"page": s.page, "ocr_confidence": s.ocr_confidence} if paged else {})
                            | ({"language": s.language or doc.language} if languages else {}))
            self._insert_rows("sentences", rows)
            if attributed:
                self.register_speakers([replace(sp, name=_full_name(sp.name, known)) for sp in doc.speakers])
        return AddResult(doc_id, True, len(doc.sentences))

    def document(self, doc_id: int) -> dict:
        row = self.row("documents", doc_id)
        if row is None:
            raise CorpusError(f"no document with id {doc_id}")
        return row

    def document_ids(self) -> list[int]:
        return [r[0] for r in self.execute("select id from documents order by id")]

    def document_count(self, kind: str | None = None) -> int:
        """Documents in the corpus, or of one kind ("official", "report", "removed")."""
        if kind is None:
            return self.count("documents")
        return self.execute("select count(*) from documents where kind = ?", [kind]).fetchone()[0]

    def documents(self, *, kind: str | None = None, publisher: str | None = None, speaker: str | None = None,
                  since: str | None = None, search: str | None = None, include_removed: bool = False) -> list[dict]:
        """Documents without their text, newest first, with their sentence count."""
        where, params = [], []
        if kind:
            where.append("d.kind = ?")
            params.append(kind)
        elif not include_removed:
            where.append("d.kind != ?")
            params.append(REMOVED)
        for col, value in (("publisher", publisher), ("speaker", speaker)):
            if value:
                where.append(f"lower(coalesce(d.{col}, '')) like ?")
                params.append(f"%{value.lower()}%")
        if since:
            where.append("d.published >= ?")
            params.append(since)
        if search:
            where.append("(lower(coalesce(d.title, '')) like ? or lower(coalesce(d.source, '')) like ?)")
            params += [f"%{search.lower()}%"] * 2
        cur = self.execute(
            "select d.id, d.kind, d.title, d.url, d.publisher, d.speaker, d.published, d.source, d.format, "
            "d.ingested_at, (select count(*) from sentences s where s.document_id = d.id) as sentences "
            "from documents d" + (" where " + " and ".join(where) if where else "") + " order by d.id desc", params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def earlier_versions(self, source: str, kind: str, sha256: str) -> list[int]:
        """Documents ingested before from the same source whose text differs."""
        return [r[0] for r in self.execute(
            "select id from documents where source = ? and kind = ? and sha256 != ? order by id",
            [source, kind, sha256])]

    def fingerprint(self) -> str:
        """A short hash of the official corpus: changes whenever an official document does."""
        h = hashlib.sha256()
        for (sha,) in self.execute("select sha256 from documents where kind = 'official' order by id"):
            h.update(sha.encode())
        return h.hexdigest()[:16]

    def official_hashes_upto(self, sentence_id: int) -> list[str]:
        """SHA-256 of each official document up to the one holding ``sentence_id``, in order."""
        return [r[0] for r in self.execute(
            "select sha256 from documents where kind = 'official' and id <= "
            "coalesce((select document_id from sentences where id = ?), 0) order by id", [sentence_id])]

    # --- documents a desk corrects ------------------------------------------------------------
    def dependent_claims(self, doc_id: int) -> list[int]:
        """Claims whose latest verdict rests on this document: its own claims (a report), or
        claims with one of its sentences in their evidence (an official statement)."""
        rows = self.execute(
            "select distinct v.claim_id from latest_verdicts v join evidence e on e.verdict_id = v.id "
            "join sentences s on s.id = e.sentence_id where s.document_id = ? "
            "union select c.id from claims c where c.document_id = ? order by 1", [doc_id, doc_id])
        return [r[0] for r in rows]

    def edit_document(self, doc_id: int, changes: dict, by: str) -> dict:
        """Correct a document's metadata; every change is recorded in ``document_edits``.

        The claims that rely on the document are marked stale for the next recheck. A new
        speaker or publisher changes who said its sentences: ``attribute.edit_document``
        makes the edit and attributes them again in one transaction.

        Returns:
            ``{"changed": {field: (old, new)}, "stale": [claim ids]}``.
        """
        doc = self.document(doc_id)
        if doc["kind"] == REMOVED:
            raise CorpusError(f"document {doc_id} was removed")
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise CorpusError(f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}")
        changed = {k: (doc[k], v) for k, v in changes.items() if v != doc[k]}
        if not changed:
            return {"changed": {}, "stale": []}
        with self.transaction():
            self._update("documents", doc_id, {k: new for k, (_, new) in changed.items()})
            for field_name, (old, new) in changed.items():
                self._log_edit(doc_id, field_name, old, new, by)
            stale = self._mark_stale(doc_id, "document {} edited: {}".format(doc_id, ", ".join(sorted(changed))))
        return {"changed": changed, "stale": stale}

    def remove_document(self, doc_id: int, by: str, force: bool = False) -> list[int]:
        """Take a document out of the corpus: no search, check or recheck sees it again.

        Its rows stay, so past verdicts still show the evidence they had; the removal is
        recorded in ``document_edits``. Refused while verdicts rely on it unless ``force``;
        then those claims are marked stale for the next recheck.

        Returns:
            The claims marked stale.

        Raises:
            InUse: verdicts rely on it and ``force`` is not set.
        """
        doc = self.document(doc_id)
        if doc["kind"] == REMOVED:
            raise CorpusError(f"document {doc_id} was already removed")
        depending = self.dependent_claims(doc_id)
        if depending and not force:
            shown = ", ".join(map(str, depending[:8])) + (", ..." if len(depending) > 8 else "")
            raise InUse(f"document {doc_id} is relied on by {len(depending)} claim(s) ({shown})")
        with self.transaction():
            self._update("documents", doc_id, {"kind": REMOVED})
            self._log_edit(doc_id, "kind", doc["kind"], REMOVED, by)
            stale = self._mark_stale(doc_id, f"document {doc_id} removed") if doc["kind"] == "official" else []
            if doc["kind"] == "report":
                self.execute("delete from stale_claims where claim_id in "
                             "(select id from claims where document_id = ?)", [doc_id])
        return stale

    def document_history(self, doc_id: int) -> list[dict]:
        return self._select("document_edits", "document_id = ?", [doc_id], order_by="id")

    def _log_edit(self, doc_id: int, field_name: str, old, new, by: str) -> None:
        self._insert("document_edits", {"document_id": doc_id, "field": field_name,
                                        "old": None if old is None else str(old),
                                        "new": None if new is None else str(new), "by": by, "at": now()})

    def _mark_stale(self, doc_id: int, reason: str) -> list[int]:
        claims = [c for c in self.dependent_claims(doc_id)
                  if self.execute("select kind from documents d join claims c on c.document_id = d.id "
                                  "where c.id = ?", [c]).fetchone() != (REMOVED,)]
        for cid in claims:
            self._upsert("stale_claims", {"claim_id": cid, "reason": reason, "at": now()}, pk="claim_id")
        return claims


def _full_name(name: str | None, known: dict[str, str]) -> str | None:
    """A one-word name as the known speaker's full name ("blinken" -> "Antony Blinken")."""
    return known.get(name.lower(), name) if name and " " not in name else name
