"""The exit of dbt's command-line program: the interpreter skips collecting dbt's objects.

Once a dbt command is done, the interpreter's exit runs its garbage collector over dbt's objects
(the parsed project, the run's results) and frees their reference cycles one by one: 0.4 to 0.7 s
after dbt's last line, and the embedded JVM starts its own shutdown only when its Python process
has ended (BENCHMARKS.md, stops 56 and 64). `gc.freeze()` in an exit handler puts every object
alive at that point out of the collector's reach, so the exit skips that work.

What still happens: every exit handler (logging's, which closes dbt's log files, included), the
flush of stdout and stderr, the JVM's shutdown, and the finalizers of objects freed by their
reference count. What no longer happens: an object kept alive at the exit by a reference cycle
(held in a class attribute, or by an object that refers to itself) is not finalized: its
`__del__` does not run, and a file left open there is not flushed (one in a module's global
still is). dbt closes the files it writes before then; code of the project that runs in dbt's
process (Python models, the UDF modules) closes what it opens. Python does not promise to
finalize such objects at exit anyway.

Only in dbt's own program (`dbt ...`): any other program that imports the adapter (a warm
dbtRunner, a notebook, pytest, `python -m dbt.cli.main`) keeps Python's usual exit.
"""

from __future__ import annotations

import atexit
import gc
import sys
from pathlib import PurePath

# The name of dbt's console script (pip strips a Windows `.exe` before dbt sees its argv[0]).
DBT_PROGRAM = "dbt"


def is_dbt_program(argv0: str) -> bool:
    """Whether a process started as `argv0` is dbt's command-line program."""
    return PurePath(argv0).name == DBT_PROGRAM


def leave_objects_at_exit() -> None:
    """In dbt's program, freezes the objects alive at the exit (see the module's docstring)."""
    if sys.argv and is_dbt_program(sys.argv[0]):
        atexit.register(gc.freeze)
