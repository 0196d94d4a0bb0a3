"""Where a published table's files are, for readers of Parquet that do not open the metastore.

dbt-spark-oss publishes every table-like model as a view ``<schema>.<name>`` over its current
version, a managed table ``<schema>_versions.<name>__v<timestamp>`` (docs/reliability.md). The
metastore is the authority on which version is current; tests and benchmarks read files after a
successful build, when the current version is the newest complete one (Spark's ``_SUCCESS``
marker), so they can resolve it from the directory listing without opening the embedded Derby
metastore (which one process holds at a time).
"""

from __future__ import annotations

import re
from pathlib import Path

VERSIONS_SUFFIX = "_versions"  # a schema's versions live in ``<schema>_versions``
_VERSION = re.compile(r"^(?P<name>.+)__v(?P<id>\d{20})$")
# The text of the view a table is published through (spark_oss macros/publish.sql).
_PUBLISHING_VIEW = re.compile(
    rf"\s*select \* from (?P<schema>\w+){VERSIONS_SUFFIX}\.(?P<table>\w+)\s*", re.IGNORECASE
)


def published_version(view_text: str) -> str | None:
    """``<schema>_versions.<name>__v<id>`` if ``view_text`` is a publishing view's, else None."""
    match = _PUBLISHING_VIEW.fullmatch(view_text)
    if match is None or not _VERSION.match(match["table"]):
        return None
    return f"{match['schema']}{VERSIONS_SUFFIX}.{match['table']}"


def versions(warehouse: Path, schema: str, name: str) -> list[Path]:
    """The complete versions of ``schema.name``, newest first."""
    root = warehouse / f"{schema}{VERSIONS_SUFFIX}.db"
    if not root.is_dir():
        return []
    found = [
        path
        for path in root.iterdir()
        if (match := _VERSION.match(path.name))
        and match["name"] == name.lower()
        and (path / "_SUCCESS").exists()
    ]
    return sorted(found, key=lambda path: path.name, reverse=True)


def table_path(warehouse: Path, schema: str, name: str) -> Path:
    """The directory of the current version of ``schema.name`` (or its plain table directory)."""
    found = versions(warehouse, schema, name)
    return found[0] if found else warehouse / f"{schema}.db" / name
