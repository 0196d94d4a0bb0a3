"""Event stream: replay transactions into a landing directory, ingest them with Structured
Streaming into bronze/quarantine tables, and measure the pipeline (see ``replay``, ``ingest``,
``bench``)."""
