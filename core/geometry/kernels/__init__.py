"""The compiled inner loops of mask -> polygon (numba), and the switch to their fallbacks.

- ``raster``: RLE crop decode and extent (what the runs cover), pixel-edge rings with
  pinch detection, ring IoU;
- ``simplify``: edge-midpoint rings, Douglas-Peucker ranking, the simplicity check;
- ``loader``: compiles them on first use (cached on disk) or returns None without numba.

May import: numpy only; numba is imported by ``loader`` when a mask is first traced.
"""
