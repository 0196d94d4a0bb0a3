"""Your own files: turns `make run DATA=dir [MAPPING=file]` into the dbt vars of one run.

The mapping itself (which of your columns gives each of ours, formats, separators, reader
options) is var `source_mappings`, applied by macros/source_mappings.sql; this module only reads
the YAML file that holds those vars and points var `data_dir` at your directory, so relative
locations in the mapping resolve against it. Reference: docs/own_data.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

DEFAULT_MAPPING = "mapping.yml"


class OwnDataError(ValueError):
    """The directory or the mapping file cannot be used; the message says what to fix."""


def dbt_vars(data_dir: Path, mapping_file: Path | None = None) -> dict[str, object]:
    """The vars of a run over ``data_dir``: the mapping file's vars plus ``data_dir``."""
    if not data_dir.is_dir():
        raise OwnDataError(f"DATA={data_dir}: not a directory")
    if mapping_file is None and (data_dir / DEFAULT_MAPPING).is_file():
        mapping_file = data_dir / DEFAULT_MAPPING
    found: object = {}
    if mapping_file is not None:
        if not mapping_file.is_file():
            raise OwnDataError(f"MAPPING={mapping_file}: no such file")
        try:
            found = yaml.safe_load(mapping_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise OwnDataError(f"MAPPING={mapping_file}: not valid YAML: {error}") from error
        if not isinstance(found, dict):
            raise OwnDataError(
                f"MAPPING={mapping_file}: expected dbt vars (a mapping such as "
                f"source_mappings: {{...}}), got {type(found).__name__}"
            )
    return {**found, "data_dir": str(data_dir.resolve())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="directory of your files")
    parser.add_argument(
        "--mapping", type=Path, help=f"YAML file of dbt vars (default: DATA/{DEFAULT_MAPPING})"
    )
    args = parser.parse_args(argv)
    try:
        print(json.dumps(dbt_vars(args.data, args.mapping)))
    except OwnDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
