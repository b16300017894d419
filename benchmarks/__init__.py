"""cert-session's benchmarks: ``python3 -m benchmarks [--quick] [--only NAME]``.

One module per measurement, each with ``NAME`` and ``run(world, quick)``
returning its figures, a markdown table and wall-clock times for the chart:
``startup`` (instruction counts and wall clock of start-ups), ``os_store``,
``rebuild``, ``connection`` (new connections and the preload),
``per_request`` and ``rss``. ``envs`` builds the venvs, ``paired`` is the one
measurement helper (interleaving, medians, ratios, the machine), ``budgets``
holds every budget, ``report`` writes results.md, the docs/performance.md block and the
chart. tests/test_budgets.py asserts the deterministic figures with the same code.
"""
