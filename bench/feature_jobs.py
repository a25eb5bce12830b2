"""Benchmark of both Spark jobs on the local cluster (not a test: it prints figures).

    npm run bench:features -- [--records 3200] [--increment-percent 1] [--reprocess] [--keep]

Uploads N synthetic records (default 3,200 = one tier-1 batch) under a private prefix, then times
through the REST API: a full run of job 1 and job 2, a run of both with nothing new, and an
incremental run of both after adding --increment-percent new files; with --reprocess, last, a
reprocess of every object (job 1 replaces all rows, job 2 recomputes every experiment). Phase time is submission to
FINISHED, as a scheduler sees it; in-job time is the job's own duration_seconds (session start-up
excluded); the peak JVM heap of the driver and of the executors comes from Spark's event log.
The last line is one JSON object of the in-job seconds (keys full_job1_s, ..., with
the prefix full32k_/noop32k_/incr32k_ when --records is 32000). Everything it wrote is removed
afterwards unless --keep is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "spark-jobs"), str(REPO / "spark-jobs" / "tools")]

from build import build  # noqa: E402
from dataplane_session import delete_prefix, drop_namespace, with_dataplane_catalog  # noqa: E402
from spark_rest import SparkRestClient  # noqa: E402
from synthetic_records import make_record  # noqa: E402


def upload(s3, prefix: str, indexes: range) -> tuple[int, float]:
    started = time.monotonic()

    def put(i: int) -> int:
        body = json.dumps(make_record(i, seed=3)).encode()
        s3.put_object(Bucket="raw-results", Key=f"{prefix}/experiment.vqe/{i:06d}.json", Body=body)
        return len(body)

    with ThreadPoolExecutor(max_workers=16) as pool:
        size = sum(pool.map(put, indexes))
    return size, time.monotonic() - started


def timed_run(rest: SparkRestClient, dist: Path, job: str, args: list[str], events: Path) -> tuple[float, dict, dict]:
    """(phase seconds, run summary, peak JVM heap MiB per executor id) of one job run."""
    started = time.monotonic()
    before = set(events.iterdir())
    # The event log records each executor's (and the driver's) peak memory per stage.
    conf = {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": events.as_uri(),
        "spark.eventLog.logStageExecutorMetrics": "true",
        "spark.eventLog.compress": "false",
        "spark.eventLog.rolling.enabled": "false",
    }
    submission = rest.submit(
        str(dist / f"{job}.py"), args, str(dist / "quantum_pipeline.zip"), conf, app_name=f"bench-{job}"
    )
    result = rest.wait(submission, timeout_s=3600)
    wall = time.monotonic() - started
    if result.state != "FINISHED":
        raise SystemExit(f"{job} ended {result.state}; see {rest.work_dir / submission}/stderr")
    logs = sorted(set(events.iterdir()) - before)
    return wall, json.loads(result.last_stdout_line), peak_heap_mib(logs[-1]) if logs else {}


def peak_heap_mib(event_log: Path) -> dict[str, float]:
    peaks: dict[str, float] = {}
    files = sorted(event_log.glob("events_*")) if event_log.is_dir() else [event_log]
    for line in (line for f in files for line in f.read_text().splitlines()):
        event = json.loads(line)
        if event.get("Event") == "SparkListenerStageExecutorMetrics":
            executor = "driver" if event["Executor ID"] == "driver" else "executors"
            heap = event["Executor Metrics"].get("JVMHeapMemory", 0) / 2**20
            peaks[executor] = max(peaks.get(executor, 0.0), heap)
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3200)
    parser.add_argument("--increment-percent", type=float, default=1.0)
    parser.add_argument("--reprocess", action="store_true", help="also time a reprocess of every object")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's tables and objects")
    args = parser.parse_args()
    for name in ("QP_S3_ENDPOINT", "QP_SPARK_REST_URL"):
        if not os.environ.get(name):
            parser.error(f"{name} is not set: start the data plane first (npm run dataplane:start)")

    tag = uuid.uuid4().hex[:8]
    namespace, prefix = f"bench_{tag}", f"bench-{tag}/experiments"
    s3 = boto3.client("s3", endpoint_url=os.environ["QP_S3_ENDPOINT"], region_name=os.environ["QP_S3_REGION"])
    rest = SparkRestClient(
        os.environ["QP_SPARK_REST_URL"],
        os.environ["QP_SPARK_MASTER_URL"],
        os.environ["QP_SPARK_WORK_DIR"],
        os.environ["QP_PYTHON"],
    )
    dist = REPO / "dist" / "spark-jobs"
    build(dist)
    common = ["--namespace", namespace, "--summary-uri", f"s3a://features/bench-{tag}/runs"]
    features_args = [*common, "--raw-uri", f"s3a://raw-results/{prefix}"]
    increment = max(1, round(args.records * args.increment_percent / 100))

    rows = []
    runs = (("full", args.records, 0), ("noop", 0, 0), ("incr", increment, args.records))
    runs += (("reproc", args.records + increment, 0),) if args.reprocess else ()
    events = Path(tempfile.mkdtemp(prefix="bench-events-"))
    try:
        size, seconds = upload(s3, prefix, range(args.records))
        print(f"uploaded {args.records} records ({size / 2**20:.1f} MiB) in {seconds:.1f}s", flush=True)
        for label, count, start in runs:
            if label == "incr":
                upload(s3, prefix, range(start, start + count))
            reprocess = ["--reprocess"] if label == "reproc" else []
            for job, run_args in (("feature_processing", features_args + reprocess), ("ml_feature_processing", common)):
                phase, summary, peaks = timed_run(
                    rest, dist, job, ["--run-id", f"{label}-{job[:2]}-{tag}", *run_args], events
                )
                rows.append((job, label, count, phase, summary["duration_seconds"], peaks))
                print(f"  {job} {label}: phase {phase:.1f}s, in-job {summary['duration_seconds']:.1f}s", flush=True)
    finally:
        shutil.rmtree(events, ignore_errors=True)
        if not args.keep:
            cleanup(s3, namespace, tag)

    print(
        f"\n{'job':<24}{'run':<8}{'records':>8}{'phase s':>9}{'in-job s':>10}{'records/s':>11}"
        f"{'driver heap MiB':>17}{'executor heap MiB':>19}"
    )
    for job, label, count, phase, in_job, peaks in rows:
        rate = f"{count / in_job:>11.1f}" if count and in_job else f"{'-':>11}"
        print(
            f"{job:<24}{label:<8}{count:>8}{phase:>9.1f}{in_job:>10.1f}{rate}"
            f"{peaks.get('driver', 0):>17.0f}{peaks.get('executors', 0):>19.0f}"
        )
    suffix = "32k" if args.records == 32000 else ""
    figures = {
        f"{label}{suffix}_job{1 if job == 'feature_processing' else 2}_s": round(in_job, 1)
        for job, label, _, _, in_job, _ in rows
    }
    print(json.dumps(figures))


def cleanup(s3, namespace: str, tag: str) -> None:
    from pyspark.sql import SparkSession

    classpath = os.environ.get("QP_SPARK_CLASSPATH", "")
    spark = with_dataplane_catalog(
        SparkSession.builder.master("local[1]")
        .appName("bench-cleanup")
        .config("spark.driver.extraClassPath", classpath)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
    ).getOrCreate()
    drop_namespace(spark, namespace, s3)
    spark.stop()
    delete_prefix(s3, "raw-results", f"bench-{tag}/")
    delete_prefix(s3, "features", f"bench-{tag}/")


if __name__ == "__main__":
    main()
