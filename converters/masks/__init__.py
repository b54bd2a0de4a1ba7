"""The mask PNG reader (``prelabel convert masks``).

- ``read``: :func:`~prelabel.converters.masks.read.read_masks`, the entry point;
- ``items``: one item per mask file, binary folder or video;
- ``kinds``: one raster builder per mask kind (semantic, colour, instance, panoptic);
- ``decode``: reading mask pixels; ``values``: void values and class 0;
- ``colormaps``: colour -> class value maps, their tables in ``palettes``;
- ``classes``: class names for values; ``pairing``: masks <-> images;
- ``panoptic``: COCO panoptic PNGs with their JSON.

May import: ``prelabel.model``, ``prelabel.geometry``, ``prelabel.tracks`` (timing),
``prelabel.errors``, ``prelabel.config.declare`` and ``prelabel.converters.options``
(option declarations), ``prelabel.config.rules`` (image size limits).
"""
