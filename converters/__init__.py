"""Readers: each turns one input format into the shared model (``prelabel.model``).

A reader is ``read_<format>(paths, *, options...) -> Dataset``; it never prints, and it
raises ``InputError`` subclasses naming the file, the line or object, and what is wrong.
"""
