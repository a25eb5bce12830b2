"""Package the Spark jobs for spark-submit and EMR Serverless.

Writes <out>/feature_processing.py, <out>/ml_feature_processing.py, <out>/table_maintenance.py (entry points),
<out>/quantum_pipeline.zip (the shared package, for --py-files / spark.submit.pyFiles) and
<out>/build.json ({"codeVersion": ...}: the digest of the sources, see quantum_pipeline/code_version.py;
the CDK app deploys the code under s3://<artifacts>/spark-jobs/<codeVersion>/).
The zip is reproducible: fixed timestamps and sorted entries, so its hash only changes with the code.
It holds quantum_pipeline/_build.py with the code version, which every processing_metadata row records.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "quantum_pipeline"
ENTRY_POINTS = ("feature_processing.py", "ml_feature_processing.py", "table_maintenance.py")
BUILD_INFO = "build.json"

sys.path.insert(0, str(HERE))
from quantum_pipeline.code_version import BUILD_MODULE, job_sources, source_digest  # noqa: E402 - needs the path above


def _add(zf: zipfile.ZipFile, name: str, content: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, content)


def build(out: Path) -> tuple[Path, str]:
    """Package the jobs into `out`; returns the archive and the code version."""
    out.mkdir(parents=True, exist_ok=True)
    version = source_digest(job_sources(PACKAGE, HERE / "jobs"))
    for name in ENTRY_POINTS:
        shutil.copyfile(HERE / "jobs" / name, out / name)
    archive = out / "quantum_pipeline.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in PACKAGE.rglob("*.py") if p.name != BUILD_MODULE):
            _add(zf, str(path.relative_to(HERE)), path.read_bytes())
        _add(zf, f"{PACKAGE.name}/{BUILD_MODULE}", f'CODE_VERSION = "{version}"\n'.encode())
    (out / BUILD_INFO).write_text(json.dumps({"codeVersion": version}) + "\n", encoding="utf-8")
    return archive, version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE.parent / "dist" / "spark-jobs"))
    archive, version = build(Path(parser.parse_args().out))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    print(f"built {archive.parent} (code version {version}, quantum_pipeline.zip sha256 {digest})")


if __name__ == "__main__":
    main()
