"""The one Hive class Spark 4's Thrift Server needs and Spark 4 no longer ships.

Spark 4 dropped ``hive-llap-common`` from its jars. Hive's ``FunctionRegistry`` registers the
LLAP ``get_splits`` UDTF in its static initializer, and that class refers to the interface
``org.apache.hadoop.hive.llap.security.LlapSigner$Signable``. The Thrift Server closes a session
with ``SessionState.close()`` -> ``Hive.get()``, which on a worker thread without a cached Hive
client registers all functions, i.e. initializes ``FunctionRegistry``: ``NoClassDefFoundError``,
returned to the client as a failed ``CloseSession``. dbt reports it as "Encountered an error"
and exits 2 after its work is done, on whichever close lands on such a thread (a flaky failure).

Two empty interfaces are enough for the JVM to link the UDTF class (checked by
``tests/python/test_hive_shim.py`` against a JVM with Spark's jars). ``get_splits`` itself stays
unusable, as it is on any Spark without LLAP. The class files are written here (a few bytes
each) so no JDK or Maven download is needed; the jar goes on the Thrift driver's class path
(`up` does it; for your own server: `python -m spark_analytics.cluster hive-shim $SPARK_HOME/jars`).
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

SHIM_JAR_NAME = "spark-analytics-hive-llap-shim.jar"
SHIM_INTERFACES = (
    "org/apache/hadoop/hive/llap/security/LlapSigner",
    "org/apache/hadoop/hive/llap/security/LlapSigner$Signable",
)
_CLASS_FILE_VERSION = (0, 52)  # Java 8: loadable by every JVM Spark 4 runs on
_ACC_PUBLIC_ABSTRACT_INTERFACE = 0x0001 | 0x0200 | 0x0400
_CONSTANT_UTF8, _CONSTANT_CLASS = 1, 7
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same bytes on every run


def _utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(">BH", _CONSTANT_UTF8, len(raw)) + raw


def interface_class_bytes(internal_name: str) -> bytes:
    """A JVM class file of an empty public interface (JVMS chapter 4), e.g. ``a/b/C$D``."""
    constant_pool = (
        _utf8(internal_name)  # 1
        + struct.pack(">BH", _CONSTANT_CLASS, 1)  # 2: this class
        + _utf8("java/lang/Object")  # 3
        + struct.pack(">BH", _CONSTANT_CLASS, 3)  # 4: super class, as for every interface
    )
    minor, major = _CLASS_FILE_VERSION
    return (
        struct.pack(">IHHH", 0xCAFEBABE, minor, major, 5)  # constant_pool_count = entries + 1
        + constant_pool
        + struct.pack(">HHH", _ACC_PUBLIC_ABSTRACT_INTERFACE, 2, 4)
        + struct.pack(">HHHH", 0, 0, 0, 0)  # no interfaces, fields, methods, attributes
    )


def shim_jar_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:  # stored: a few hundred bytes
        entries = {"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\n\r\n"}
        entries.update({f"{name}.class": interface_class_bytes(name) for name in SHIM_INTERFACES})
        for path, data in entries.items():
            jar.writestr(zipfile.ZipInfo(path, _ZIP_DATE), data)
    return buffer.getvalue()


def shim_jar_path(state_dir: Path) -> Path:
    """Where a cluster (or test server) with this state folder keeps the jar."""
    return state_dir / "jars" / SHIM_JAR_NAME


def write_shim_jar(path: Path) -> Path:
    """Write the shim jar to ``path`` (atomically; left alone if already identical)."""
    data = shim_jar_bytes()
    if path.exists() and path.read_bytes() == data:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
