"""The Spark session and the small run-time helpers both jobs share."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pyspark.sql import SparkSession

from .config import CommonConfig
from .run_summary import RunSummary, publish

log = logging.getLogger(__name__)
R = TypeVar("R")

# Set by tests only: the driver exits hard right after the named table's commit, as a killed
# process would, so crash safety can be tested at an exact point...
FAULT_INJECTION_CONF = "spark.qp.test.exitAfterTable"
# ... or it waits there (for a kill from outside, through the cluster's REST API).
PAUSE_CONF = "spark.qp.test.pauseAfterTable"
PAUSE_SECONDS = 300


def configure_logging(job: str, run_id: str) -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s [{job} run={run_id}] %(name)s: %(message)s",
    )
    # py4j logs every gateway call at INFO; the summary must stay the last line of stdout.
    logging.getLogger("py4j").setLevel(logging.WARNING)


def build_session(app_name: str) -> SparkSession:
    """Catalog, S3 and cluster settings come from Spark conf (spark-defaults or the submission).

    The job only fixes what defines its results: UTC, so processing_date does not depend on the
    machine's time zone.
    """
    return SparkSession.builder.appName(app_name).config("spark.sql.session.timeZone", "UTC").getOrCreate()


# Independent table writes run side by side: each is mostly waiting (a commit, a catalog round
# trip, an S3 request), so on a small cluster they overlap well.
TABLE_WRITERS = 4


def write_tables(spark: SparkSession, writes: list[tuple[str, Callable[[], R]]]) -> dict[str, R]:
    """Run `(table, write)` pairs, up to TABLE_WRITERS at a time; each table's fault point follows
    its write. With a fault injected (tests), they run one at a time in the given order, so the
    injected crash lies at an exact point: after that table, before every later one."""

    def write(item: tuple[str, Callable[[], R]]) -> tuple[str, R]:
        table, action = item
        result = action()
        fault_point(spark, table)
        return table, result

    injected = spark.conf.get(FAULT_INJECTION_CONF, "") or spark.conf.get(PAUSE_CONF, "")
    workers = 1 if injected else TABLE_WRITERS
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(write, writes))


def fault_point(spark: SparkSession, after_table: str) -> None:
    if spark.conf.get(FAULT_INJECTION_CONF, "") == after_table:
        log.error("fault injection: exiting hard after committing %s", after_table)
        sys.stderr.flush()
        os._exit(137)
    if spark.conf.get(PAUSE_CONF, "") == after_table:
        log.error("fault injection: waiting %d s after committing %s", PAUSE_SECONDS, after_table)
        time.sleep(PAUSE_SECONDS)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


Config = TypeVar("Config", bound=CommonConfig)


def job_main(
    job: str,
    parse: Callable[[list[str]], Config],
    run: Callable[[SparkSession, Config], RunSummary],
    argv: list[str] | None,
) -> None:
    """The shape of both entry points: args -> logging -> session -> run -> publish the summary."""
    config = parse(sys.argv[1:] if argv is None else argv)
    configure_logging(job, config.run_id)
    spark = build_session(f"quantum-{job}")
    publish(spark, run(spark, config), config.summary_uri)
    spark.stop()
