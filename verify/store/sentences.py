"""Sentences: reading them back with their document and speaker, their attribution, and
the retrieval queries over the official ones (full-text search and scopes)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from verify.store.engine import Engine
from verify.store.records import SentenceSpan, Speaker


def voice(s: str = "s", d: str = "d") -> str:
    """SQL for who speaks a sentence: its speaker; narration speaks with its publisher's voice;
    a transcript turn without a speaker (a journalist's question) with nobody's."""
    return (f"coalesce({s}.speaker, case when coalesce({s}.attribution, '') != 'transcript' "
            f"then {d}.publisher end)")


def scope_where(scope) -> tuple[str, list]:
    """The WHERE clause (on ``s`` sentences, ``d`` documents) of a ``retrieve.Scope``: official
    statements, by one speaker, of the official side, made by a date."""
    where, params = ["d.kind = 'official'"], []
    if scope.speaker:
        where.append("(lower(s.speaker) like ? or lower(d.speaker) like ?)")
        params += [f"%{scope.speaker.lower()}%"] * 2
    if scope.side:
        where.append(f"(select affiliation from speakers where name = {voice()}) "
                     f"in ({','.join('?' * len(scope.side))})")
        params += list(scope.side)
    if scope.as_of:
        # Undated statements cannot be shown to predate the cut-off, so they are left out.
        where.append("d.published is not null and d.published <= ?")
        params.append(scope.as_of)
    return " and ".join(where), params


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own % and _ taken literally (escape '\\')."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Sentences(Engine):
    def sentences(self, *, document_id: int | None = None, kind: str | None = None, speaker: str | None = None,
                  containing: str | None = None) -> Iterator[dict]:
        """Stored sentences in id order, each with its document's kind, title, url, date and
        publisher and its speaker's affiliation.

        Args:
            document_id: only this document's.
            kind: only those of documents of this kind ("official", "report").
            speaker: only those this speaker said (their stored name, exactly).
            containing: only those with this text in them (any case).
        """
        where, params = [], []
        for clause, value in (("s.document_id = ?", document_id), ("d.kind = ?", kind), ("s.speaker = ?", speaker)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if containing is not None:
            where.append("lower(s.text) like ? escape '\\'")
            params.append(_like(containing))
        return self._sentence_rows(" and ".join(where), params)

    def _sentence_rows(self, where: str, params: list) -> Iterator[dict]:
        # Narration has no speaker of its own: the publisher speaks, with the publisher's affiliation.
        sql = ("select s.*, d.kind, d.title, d.url, d.published, d.publisher"
               + (", sp.affiliation from sentences s join documents d on d.id = s.document_id "
                  f"left join speakers sp on sp.name = {voice()}" if self.has_attribution else
                  " from sentences s join documents d on d.id = s.document_id"))
        cur = self.execute(sql + (f" where {where}" if where else "") + " order by s.id", params)
        cols = [c[0] for c in cur.description]
        for row in cur:
            yield dict(zip(cols, row))

    def sentences_by_id(self, ids: Iterable[int]) -> dict[int, dict]:
        """Sentences (as ``sentences`` gives them) by id."""
        ids = list(ids)
        out: dict[int, dict] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in self._sentence_rows(f"s.id in ({','.join('?' * len(chunk))})", chunk):
                out[row["id"]] = row
        return out

    def sentence_count(self, document_id: int | None = None) -> int:
        """Sentences in the corpus, or in one document."""
        if document_id is None:
            return self.count("sentences")
        return self.execute("select count(*) from sentences where document_id = ?", [document_id]).fetchone()[0]

    def first_sentence_id(self, document_id: int) -> int:
        return self.execute("select id from sentences where document_id = ? order by position limit 1",
                            [document_id]).fetchone()[0]

    def stored_languages(self, hashes: list[str]) -> dict[str, str]:
        """Language recorded at ingest for sentences with these text hashes (the first one wins)."""
        stored: dict[str, str] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start:start + 500]
            for h, lang in self.execute(
                    f"select text_hash, language from sentences where text_hash in ({','.join('?' * len(chunk))}) "
                    "and language is not null order by id", chunk):
                stored.setdefault(h, lang)
        return stored

    # --- who said them ------------------------------------------------------------------------
    def stored_spans(self, doc_id: int) -> list[SentenceSpan]:
        """A document's stored sentences as spans (id in ``SentenceSpan.id``), in order."""
        return [SentenceSpan(start, end, text, speaker, attribution=attribution, id=sid)
                for sid, start, end, text, speaker, attribution in self.execute(
                    "select id, start, \"end\", text, speaker, attribution from sentences where document_id = ? "
                    "order by position", [doc_id])]

    def set_attributions(self, spans: list[SentenceSpan], speakers: Iterable[Speaker] = ()) -> None:
        """Store who said each sentence (``stored_spans``, their ids kept) and record the
        speakers named (``register_speakers``), in one transaction."""
        with self.transaction():
            for span in spans:
                self.execute("update sentences set speaker = ?, attribution = ?, cue = ? where id = ?",
                             [span.speaker, span.attribution, span.cue, span.id])
            self.register_speakers(speakers)

    # --- the official ones, as retrieval reads them -------------------------------------------
    def official_sentence_count(self, after: int | None = None, upto: int | None = None) -> int:
        """Official sentences, optionally only those with ids above ``after`` or up to ``upto``."""
        where, params = "d.kind = 'official'", []
        if after is not None:
            where, params = where + " and s.id > ?", params + [after]
        if upto is not None:
            where, params = where + " and s.id <= ?", params + [upto]
        return self.execute(f"select count(*) from sentences s join documents d on d.id = s.document_id "
                            f"where {where}", params).fetchone()[0]

    def max_official_sentence_id(self) -> int:
        row = self.execute("select max(s.id) from sentences s join documents d on d.id = s.document_id "
                           "where d.kind = 'official'").fetchone()
        return row[0] or 0

    def official_sentences_after(self, sentence_id: int = 0) -> list[tuple[int, str]]:
        """(id, text) of official sentences with ids above ``sentence_id``, in id order."""
        return list(self.execute(
            "select s.id, s.text from sentences s join documents d on d.id = s.document_id "
            "where d.kind = 'official' and s.id > ? order by s.id", [sentence_id]))

    def lexical_search(self, match: str, scope, k: int, after: int = 0,
                       upto: int | None = None) -> list[tuple[int, float]]:
        """BM25 search of the official sentences in ``scope`` (``retrieve.Scope``): (id, bm25)
        best first, ids in (after, upto]."""
        where, params = scope_where(scope)
        rowids = " and f.rowid > ?" + (" and f.rowid <= ?" if upto is not None else "")
        bounds = [after] + ([upto] if upto is not None else [])
        rows = self.execute(
            "select s.id, bm25(sentences_fts) from sentences_fts f join sentences s on s.id = f.rowid "
            f"join documents d on d.id = s.document_id where sentences_fts match ?{rowids} and {where} "
            "order by bm25(sentences_fts) limit ?", [match, *bounds, *params, k])
        return [(r[0], r[1]) for r in rows]

    def sentence_ids_in(self, scope, after: int | None = None, upto: int | None = None) -> list[int]:
        """Ids of the official sentences in ``scope``, optionally only those in (after, upto]."""
        where, params = scope_where(scope)
        bounds, values = "", []
        if after is not None:
            bounds, values = bounds + " and s.id > ?", values + [after]
        if upto is not None:
            bounds, values = bounds + " and s.id <= ?", values + [upto]
        return [r[0] for r in self.execute(
            f"select s.id from sentences s join documents d on d.id = s.document_id where {where}{bounds}",
            [*params, *values])]

    def quote_candidates(self, match: str, scope, limit: int) -> list[tuple]:
        """Official sentences in ``scope`` an FTS query finds, with what a quote match reports."""
        where, params = scope_where(scope)
        return list(self.execute(
            "select s.id, s.text, s.document_id, s.speaker, d.published, d.title, d.url, s.start, s.end "
            "from sentences_fts f join sentences s on s.id = f.rowid join documents d on d.id = s.document_id "
            f"where sentences_fts match ? and {where} order by bm25(sentences_fts) limit ?", [match, *params, limit]))
