"""What the prelabels were worth: the tasks sent compared with the labels that came back.

- ``compare``: one annotation against its final version (kept, or edited how; IoU, moves);
- ``results``: object results, and precision / recall of the prelabels at IoU thresholds;
- ``image``, ``segment``, ``video``: one task of each family;
- ``run``: every task of a converted directory against an imported one (``prelabel score``).

May import: ``prelabel.responses`` (reading both directories), ``prelabel.scale`` (task
lines), ``prelabel.errors``.
"""
