"""Benchmarks: command-line tools that time the project on this machine (not run by tests).

* ``hints``: the declarative performance settings (broadcast, cache, repartition) side by side,
  with and without each (``make bench``).
* ``streaming``: the event pipeline's ingest throughput and landing-to-table latency
  (``make stream-bench``).
* ``ml``: MLlib training on a synthetic feature table.

Each runs as ``python -m spark_analytics.bench.<name> --help``.
"""
