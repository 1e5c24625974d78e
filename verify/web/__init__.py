"""The desk in a browser (``verify serve``): an ASGI app over the same store as the CLI.

Layers: ``verify.cli`` -> ``verify.web`` -> outputs / pipeline -> store.
"""
