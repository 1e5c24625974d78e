"""The store: corpus.db's schema, migrations and every SQL statement, as named queries.

Layers import downwards only: cli -> web -> outputs / quality -> pipeline -> store. Callers
pass arguments to named queries, never SQL (tests/test_layout.py holds everything else to it).
"""

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target) -> bool:
    """Whether ``target`` names a PostgreSQL corpus (a URL) rather than a corpus.db file."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def open_corpus(target=None, **kwargs):
    """The corpus at ``target``: a ``postgresql://`` URL opens ``verify.store.postgres.PgCorpus``,
    anything else a corpus.db file (default: ``$VERIFY_DB``, else ./corpus.db).

    Keyword arguments go to the store (``migrate``, ``on_wait``, ``user``).
    """
    from verify.settings import settings
    from verify.store.corpus import DEFAULT_DB, Corpus

    target = target if target is not None else (settings().db or DEFAULT_DB)
    if is_postgres(target):
        from verify.store.postgres import PgCorpus

        return PgCorpus(target, **kwargs)
    return Corpus(target, **kwargs)
