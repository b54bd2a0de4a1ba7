"""The COCO reader (``prelabel convert coco``).

- ``read``: :func:`~prelabel.converters.coco.read.read_coco`, the entry point;
- ``common``: JSON loading with positions, categories, image items;
- ``geometry``: one annotation or result object -> model instances;
- ``results``: results lists, streamed (a 1 GB file is never held in memory);
- ``video``: CocoVID / YouTube-VIS files and mmtracking results.

May import: ``prelabel.model``, ``prelabel.geometry``, ``prelabel.errors``.
"""
