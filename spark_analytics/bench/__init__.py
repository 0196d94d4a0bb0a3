"""Benchmarks: command-line tools that time the project on this machine (not timed by tests).

* ``marts`` (``make bench``): the marts path as ``dbt run`` / ``dbt build``, as the hand-written
  PySpark job ``marts_job`` and on DuckDB (``duckdb_marts``: dbt's compiled SQL through
  sqlglot), and ``dbt build`` on a local-mode server kept warm between builds (``server``),
  side by side, each ``dbt build`` followed by a timed ``dbt test`` on its target; ``agree``
  checks the arms wrote the same tables, ``measure`` times a process tree (wall, CPU, peak
  memory), ``dbt_breakdown`` splits dbt's time into phases.
* ``hints``: the declarative performance settings (broadcast, cache, repartition) with and
  without each (the last part of ``make bench``).
* ``streaming``: the event pipeline's ingest throughput and landing-to-table latency
  (``make stream-bench``).
* ``ml``: MLlib training on a synthetic feature table.
* ``test_queries``: the data tests' compiled queries without dbt, cold and warm JVM, and side by
  side under variants (session settings; the version tables behind the published views).

Each runs as ``python -m spark_analytics.bench.<name> --help``.
"""
