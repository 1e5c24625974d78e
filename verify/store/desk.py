"""Named queries of the desk in a browser (``verify.web``): whole reports at once.

The CLI reads one claim at a time (``Corpus.claim``, ``latest_verdict``, ``evidence_trail``);
a page of 500 claims cannot afford 500 round trips, so these read a report's claims, latest
verdicts, latest reviews and evidence speakers in a few statements. Module functions over an
open corpus (``Corpus`` or ``PgCorpus``), in SQL both backends accept.
"""
from __future__ import annotations

from verify.store.corpus import Corpus, voice

SUMMARY_KEYS = ("document_id", "claims", "consistent", "novel", "contradictory", "needs_review", "reviewed")


def report_summaries(corpus: Corpus) -> dict[int, dict]:
    """Per checked report: its claims with a verdict, the count of each latest label, how many
    need review, and how many have a desk review."""
    cur = corpus.execute(
        "select c.document_id, count(*), "
        "sum(case when v.label = 'consistent' then 1 else 0 end), sum(case when v.label = 'novel' then 1 else 0 end), "
        "sum(case when v.label = 'contradictory' then 1 else 0 end), "
        "sum(case when coalesce(v.needs_review, '') != '' then 1 else 0 end), "
        "sum(case when exists (select 1 from reviews r where r.claim_id = c.id) then 1 else 0 end) "
        "from claims c join latest_verdicts v on v.claim_id = c.id "
        "join documents d on d.id = c.document_id where d.kind = 'report' group by c.document_id")
    return {r[0]: {k: int(x or 0) for k, x in zip(SUMMARY_KEYS, r)} for r in cur}


CLAIM_KEYS = ("claim_id", "start", "end", "text", "verdict_id", "label", "score", "reason", "needs_review",
              "conflicting", "run_id", "details", "claim_speaker")


def report_claims(corpus: Corpus, document_id: int) -> list[dict]:
    """A report's claims that have a verdict, in text order, each with its latest verdict and the
    speaker the report's own sentence names (None: none named)."""
    cur = corpus.execute(
        'select c.id, c.start, c."end", c.text, v.id, v.label, v.score, v.reason, v.needs_review, v.conflicting, '
        "v.run_id, v.details, s.speaker from claims c join latest_verdicts v on v.claim_id = c.id "
        'left join sentences s on s.id = c.sentence_id where c.document_id = ? order by c.start, c.id', [document_id])
    return [dict(zip(CLAIM_KEYS, r)) for r in cur]


REVIEW_KEYS = ("claim_id", "id", "label", "note", "by", "at", "machine_label", "run_id")


def latest_reviews(corpus: Corpus, document_id: int) -> dict[int, dict]:
    """The newest desk review of each of a report's claims that has one."""
    cur = corpus.execute(
        'select r.claim_id, r.id, r.label, r.note, r."by", r.at, r.machine_label, r.run_id from reviews r '
        "where r.id in (select max(r2.id) from reviews r2 join claims c on c.id = r2.claim_id "
        "where c.document_id = ? group by r2.claim_id)", [document_id])
    return {r[0]: dict(zip(REVIEW_KEYS, r)) for r in cur}


def evidence_speakers(corpus: Corpus, verdict_ids: list[int]) -> dict[int, list[str | None]]:
    """Who said each evidence sentence of these verdicts, in rank order (narration: the
    publisher; a transcript's unattributed turn: None)."""
    out: dict[int, list[str | None]] = {}
    for start in range(0, len(verdict_ids), 500):
        chunk = verdict_ids[start:start + 500]
        for vid, speaker in corpus.execute(
                f"select e.verdict_id, {voice()} from evidence e join sentences s on s.id = e.sentence_id "
                f"join documents d on d.id = s.document_id where e.verdict_id in ({','.join('?' * len(chunk))}) "
                "order by e.verdict_id, e.rank", chunk):
            out.setdefault(vid, []).append(speaker)
    return out


def recheck_run(corpus: Corpus) -> dict | None:
    """The newest successful recheck run (id, started_at, by, manifest text), or None."""
    by = 'r."by"' if corpus.has_run_authors else "null"
    # The manifest is JSON written by json.dumps: a recheck's holds "recheck": true.
    row = corpus.execute(
        f"select r.id, r.started_at, {by}, r.manifest from runs r where r.status = 'ok' "
        "and r.manifest like ? order by r.id desc limit 1", ['%"recheck": true%']).fetchone()
    return dict(zip(("id", "started_at", "by", "manifest"), row)) if row else None


CHANGE_KEYS = ("claim_id", "text", "document_id", "old_label", "old_score", "old_run_id", "new_label", "new_score",
               "verdict_id")


def verdicts_against_previous(corpus: Corpus, run_id: int) -> list[dict]:
    """Each verdict of a run beside the claim's verdict in its previous successful run
    (old_* None: the claim had none)."""
    cur = corpus.execute(
        "select v.claim_id, c.text, c.document_id, p.label, p.score, p.run_id, v.label, v.score, v.id "
        "from verdicts v join claims c on c.id = v.claim_id left join verdicts p on p.id = ("
        "select v2.id from verdicts v2 join runs r2 on r2.id = v2.run_id where v2.claim_id = v.claim_id "
        "and r2.status = 'ok' and v2.run_id < v.run_id order by v2.run_id desc limit 1) "
        "where v.run_id = ? order by v.claim_id", [run_id])
    return [dict(zip(CHANGE_KEYS, r)) for r in cur]
