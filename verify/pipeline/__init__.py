"""The checking pipeline, one module per stage: ingest, segment, attribute, claims, embed, index,
retrieve, nli, evidence, verdict, thresholds, check, recheck (and pdf, language for inputs).

Layers import downwards only: cli -> outputs / quality -> pipeline -> store.
"""
