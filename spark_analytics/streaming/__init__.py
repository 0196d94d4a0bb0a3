"""Event stream: the path from landed files to the bronze and quarantine tables.

* ``replay``: lands transactions from ``spark_analytics.datagen`` as micro-batch JSON-lines files,
  with late, duplicate and malformed lines (the generator's own ids and defect kinds).
* ``ingest``: reads them with Structured Streaming into the bronze and quarantine tables, exactly
  once.
* ``pipeline``: ingest + dbt in one JVM.

Its benchmark is ``spark_analytics.bench.streaming``; the dbt side is models/staging/events and
models/marts/events.
"""
