"""The store: corpus.db's schema, migrations and every SQL statement, as named queries.

Layers import downwards only: cli -> outputs / quality -> pipeline -> store.
"""
