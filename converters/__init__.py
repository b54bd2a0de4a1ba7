"""Readers: each turns one input format into the shared model (``prelabel.model``).

A reader is ``read_<format>(paths, options) -> Dataset``, ``options`` a frozen dataclass of
declared fields (:mod:`prelabel.config.declare`; shared ones in ``options``); it never
prints, and it raises ``InputError`` subclasses naming the file, the line or object, and
what is wrong. ``registry`` lists every reader; ``prelabel convert <format>`` is generated
from its entry.
"""
