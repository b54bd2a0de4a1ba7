"""The COCO reader (``prelabel convert coco``).

- ``read``: :func:`~prelabel.converters.coco.read.read_coco`, the entry point;
- ``common``: the reader's options (``CocoOptions``), JSON loading with positions,
  categories, image items;
- ``dataset``: dataset files (and the pieces other kinds read them with);
- ``geometry``: one annotation or result object -> model instances;
- ``results``: results lists, streamed (a 1 GB file is never held in memory);
- ``nesting``: the bound on how deeply a streamed file nests (checked before ijson reads);
- ``video``: CocoVID / YouTube-VIS files and mmtracking results.

May import: ``prelabel.model``, ``prelabel.geometry``, ``prelabel.errors``,
``prelabel.config.declare`` and ``prelabel.converters.options`` (option declarations),
``prelabel.config.rules`` (image size limits).
"""
