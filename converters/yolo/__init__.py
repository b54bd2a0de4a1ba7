"""The YOLO reader (``prelabel convert yolo``): Ultralytics txt labels and predictions.

- ``read``: the options, pairing label files with images, one item per image;
- ``rows``: one txt row -> instances (detect, segment, pose, OBB), bad rows, DOTA refusal;
- ``names``: class names from a data.yaml or a classes.txt.

May import what every reader may: ``model``, ``errors``, ``config.declare``.
"""
