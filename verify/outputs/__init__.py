"""What verify writes for people and machines: render (table, Markdown, CSV, HTML) and export.

Layers import downwards only: cli -> outputs / quality -> pipeline -> store.
"""
