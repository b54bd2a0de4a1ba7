"""Looking before submitting: preview pictures and the HTML review page of a directory.

- ``preview``: one PNG per task (contact sheets and MP4s for video tasks);
- ``load``: reading a converted directory and finding the task images;
- ``draw``, ``legend``: drawing Scale annotation objects and the legend panel;
- ``segment``, ``video``: segmentannotation overlays; video frames and sheets;
- ``page``: the self-contained HTML page (``prelabel report``);
- ``scores``: its section for ``prelabel score`` (built from the score summary's JSON).

May import: ``prelabel.config``, ``prelabel.output``, ``prelabel.writers`` (naming
helpers), ``prelabel.model``, ``prelabel.errors``. Nothing imports it but the CLI.
"""
