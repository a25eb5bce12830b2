"""Package the Spark jobs for spark-submit and EMR Serverless.

Writes <out>/feature_processing.py, <out>/ml_feature_processing.py (entry points) and
<out>/quantum_pipeline.zip (the shared package, for --py-files / spark.submit.pyFiles).
The zip is reproducible: fixed timestamps and sorted entries, so its hash only changes with the code.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "quantum_pipeline"
ENTRY_POINTS = ("feature_processing.py", "ml_feature_processing.py")


def build(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name in ENTRY_POINTS:
        shutil.copyfile(HERE / "jobs" / name, out / name)
    archive = out / "quantum_pipeline.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PACKAGE.rglob("*.py")):
            info = zipfile.ZipInfo(str(path.relative_to(HERE)), date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE.parent / "dist" / "spark-jobs"))
    archive = build(Path(parser.parse_args().out))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    print(f"built {archive.parent} (quantum_pipeline.zip sha256 {digest})")


if __name__ == "__main__":
    main()
