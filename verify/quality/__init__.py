"""Measuring and tuning verdict quality: evaluate (metrics on labelled claims), calibrate.

Layers import downwards only: cli -> outputs / quality -> pipeline -> store.
"""
