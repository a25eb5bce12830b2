"""The job code's version: a digest of its sources, the same however the job was started.

The digest covers the package's .py files and the job entry points (jobs/*.py), by relative path
and content. `spark-jobs/build.py` computes it once and bakes it into the packaged zip as
`_build.py`, because a job run from a zip on EMR cannot list its own package; a run from the source
tree (tests, `npm run job:features`) computes the same digest from disk. No PySpark import here:
the build uses this module too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ENTRY_POINTS_DIR = PACKAGE_DIR.parent / "jobs"
# The generated module holding the built version; it is not part of what it describes.
BUILD_MODULE = "_build.py"
CODE_VERSION_LENGTH = 16


def source_digest(files: Iterable[tuple[str, bytes]]) -> str:
    """sha256 over (relative path, content) pairs in path order, first CODE_VERSION_LENGTH hex digits."""
    digest = hashlib.sha256()
    for name, content in sorted(files):
        digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:CODE_VERSION_LENGTH]


def job_sources(package_dir: Path = PACKAGE_DIR, entry_points_dir: Path = ENTRY_POINTS_DIR) -> list[tuple[str, bytes]]:
    """The files the code version describes, named as they appear in the package build."""
    sources = [
        (f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}", path.read_bytes())
        for path in package_dir.rglob("*.py")
        if path.name != BUILD_MODULE
    ]
    sources += [(f"jobs/{path.name}", path.read_bytes()) for path in entry_points_dir.glob("*.py")]
    return sources


def code_version() -> str:
    """The version baked in by the build, or the same digest computed from the source tree."""
    try:
        from ._build import CODE_VERSION  # type: ignore[import-not-found]  # written by build.py

        return CODE_VERSION
    except ImportError:
        return source_digest(job_sources())
