"""A local Scale-compatible API (aiohttp) for tests, benchmarks and dry rehearsals.

- ``server``: the app, started in a thread (:class:`~prelabel.sandbox.server.Sandbox`) or
  in the foreground (``prelabel sandbox``);
- ``handlers``: the ``/v1`` endpoints (tasks, batches, files);
- ``rules``: the rule-book check of every created task (404 / 400 like Scale, ``--lenient``);
- ``lifecycle``: cancel (``clear_unique_id``), refused once work started;
- ``faults``: fault injection and authentication middlewares;
- ``store``: the SQLite store;
- ``complete``, ``respond``, ``edit``: ``--complete accept|edit`` (responses in Scale's
  format, seeded edits written to ``STORE/edits.jsonl``, hosted results, callbacks).

May import: ``prelabel.config`` (Scale's rules, taxonomies), ``prelabel.rulebook`` (their
checks), ``prelabel.geometry`` (the indexed-PNG codec), ``prelabel.errors``. It never imports
the client: the two meet only over HTTP.
"""
