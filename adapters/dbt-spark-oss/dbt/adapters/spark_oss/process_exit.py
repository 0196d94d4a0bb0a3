"""The exit of dbt's command-line program: dbt's reference cycles are left to the OS.

Once a dbt command is done, the interpreter's exit collects dbt's objects and frees their
reference cycles: 0.4 to 0.7 s after dbt's last line, before the embedded JVM even starts its
own shutdown (it waits for the end of its Python process). `gc.freeze()` in an exit handler puts
them out of the collector's reach, so the exit skips that work (BENCHMARKS.md, stop 64).
Nothing else changes: every exit handler still runs (logging's flush of dbt's log files
included), stdout and stderr are flushed, the JVM shuts down as before, and objects freed by
their reference count still run their finalizers. Only cyclic garbage left at the exit goes
without its finalizer, which Python does not promise to run at exit anyway.

Only in dbt's own program (`dbt ...`): a program that imports the adapter (a notebook, a warm
dbtRunner, pytest) keeps Python's usual exit.
"""

from __future__ import annotations

import atexit
import gc
import sys
from pathlib import PurePath

DBT_PROGRAM = "dbt"


def leave_objects_at_exit(program: str | None = None) -> bool:
    """Registers the exit handler if `program` (default: this process's) is dbt's CLI."""
    if program is None:
        program = sys.argv[0] if sys.argv else ""
    if PurePath(program).name != DBT_PROGRAM:
        return False
    atexit.register(gc.freeze)
    return True
