"""Run one Spark job on the local standalone cluster through its REST submission API.

    run_job.py feature_processing [--run-id ID] [--conf key=value ...] [job arguments ...]

Packages spark-jobs/ first, submits, reports state changes on stderr, and prints the job's run
summary (the last line of the driver's stdout) on stdout. Exit code 0 only when the driver finished.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

from spark_rest import FINAL_STATES, SparkRestClient

HERE = Path(__file__).resolve().parent
JOBS = ("feature_processing", "ml_feature_processing")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=JOBS)
    parser.add_argument("--run-id", default=None, help="default: <job>-<time>-<random>")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark conf")
    args, job_args = parser.parse_known_args()
    for name in ("QP_SPARK_REST_URL", "QP_SPARK_MASTER_URL", "QP_SPARK_WORK_DIR", "QP_PYTHON"):
        if not os.environ.get(name):
            parser.error(f"{name} is not set: start the data plane first (npm run dataplane:start)")
    conf = {}
    for item in args.conf:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--conf {item!r}: expected KEY=VALUE")
        conf[key] = value

    sys.path.insert(0, str(HERE.parent))
    from build import build  # the same packaging as `npm run build:spark`

    dist = HERE.parent.parent / "dist" / "spark-jobs"
    build(dist)

    run_id = args.run_id or f"{args.job.replace('_', '-')}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    client = SparkRestClient(
        os.environ["QP_SPARK_REST_URL"],
        os.environ["QP_SPARK_MASTER_URL"],
        os.environ["QP_SPARK_WORK_DIR"],
        os.environ["QP_PYTHON"],
    )
    submission = client.submit(
        str(dist / f"{args.job}.py"),
        ["--run-id", run_id, *job_args],
        str(dist / "quantum_pipeline.zip"),
        conf,
        app_name=f"quantum-{args.job}",
    )
    print(f"[{args.job}] submitted as {submission} (run id {run_id})", file=sys.stderr)
    state, started = None, time.monotonic()
    while state not in FINAL_STATES:
        new_state = client.state(submission)
        if new_state != state:
            print(f"[{args.job}] {new_state} after {time.monotonic() - started:.0f}s", file=sys.stderr)
            state = new_state
        time.sleep(2)
    result = client.result(submission, state)
    if state != "FINISHED":
        print(
            f"[{args.job}] driver ended {state}; its log: {Path(os.environ['QP_SPARK_WORK_DIR']) / submission}/stderr",
            file=sys.stderr,
        )
        print(result.stderr[-3000:], file=sys.stderr)
        return 1
    print(result.last_stdout_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
