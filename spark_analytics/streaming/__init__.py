"""Event stream: ``replay`` lands transactions as micro-batch JSON-lines files (with late,
duplicate and malformed lines), ``ingest`` reads them with Structured Streaming into the bronze and
quarantine tables exactly once, ``pipeline`` runs ingest + dbt in one JVM, ``bench`` measures
throughput and end-to-end latency. The dbt side: models/staging/events, models/marts/events."""
