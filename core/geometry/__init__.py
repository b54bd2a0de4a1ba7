"""Geometry primitives: RLE masks, rings, tracing, simplification, keyholes, rasters.

Everything follows the pixel-edge convention of :mod:`prelabel.model`: pixel ``(i, j)`` is
the unit square ``[j, j+1) x [i, i+1)``; traced polygons run along pixel edges and polygons
are rasterised by pixel centres, so tracing and rasterising are exact inverses.

- ``rle``: COCO RLE decode (whole frame or cropped), encode, area, box;
- ``rings``: ring arrays <-> model <-> shapely, cleaning, areas, IoU, rasterising;
- ``trace``: mask -> polygon along pixel edges;
- ``simplify``: vertex budgets (Douglas-Peucker ranking, densifying);
- ``keyhole``: holes bridged into one weakly simple ring;
- ``raster``: whole-image label rasters -> one mask instance per segment;
- ``primitives``: rasterising model geometries, ellipse and rotated-box vertices;
- ``scale``: a model geometry as Scale's annotation fields (numbers rounded to 3 decimals);
- ``indexed``: indexed PNGs, 8-bit and Scale's 24-bit ``extendedIndexedImage``;
- ``arrays``: boxes, polygon rings and masks (dense or COCO RLE) from arrays, checked;
- ``kernels``: the compiled (numba) inner loops and their interpreter fallbacks.

May import: ``prelabel.model``, ``prelabel.errors``. No policy lives here: deciding what to
do with a geometry that breaks a limit is :mod:`prelabel.fit`'s job.
"""
