"""What produced a run's rows: the job code version, the Spark and Iceberg versions, the Spark conf.

Every processing_metadata row carries these four values, so a feature value can be traced to the
code and the engine that computed it.

The code version is code_version.py's digest of the job's sources.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from . import tables
from .code_version import code_version
from .features import BatchContext

# Conf keys that differ between two runs of the same job on the same cluster (ids, ports, hosts,
# times, per-run paths), so they would make every digest unique and the digest useless.
VOLATILE_CONF = re.compile(
    r"^spark\.(app\.(id|startTime|submitTime|attempt\.id|initial\..*)"
    r"|driver\.(host|port|bindAddress|appUIAddress|blockManager\.port)"
    r"|executor\.id|ui\..*|submit\.pyFiles|files|jars|repl\..*|sql\.warehouse\.dir"
    r"|qp\.test\..*|yarn\..*|kubernetes\.driver\.pod\.name)$"
)


@dataclass(frozen=True)
class Lineage:
    code_version: str
    spark_version: str
    iceberg_version: str
    spark_conf_digest: str


def conf_digest(conf: Iterable[tuple[str, str]]) -> str:
    """A digest of the conf that shapes results: every key but the volatile ones, sorted.

    Secrets in the conf (S3 keys) are hashed with the rest and never leave the digest.
    """
    stable = sorted((k, v) for k, v in conf if not VOLATILE_CONF.match(k))
    return hashlib.sha256(json.dumps(stable, separators=(",", ":")).encode("utf-8")).hexdigest()[:16]


def iceberg_version(spark: SparkSession) -> str:
    """The Iceberg runtime on the driver's classpath, as its own build info names it."""
    try:
        return str(spark.sparkContext._jvm.org.apache.iceberg.IcebergBuild.version())  # type: ignore[union-attr]  # noqa: SLF001 - py4j is the way to the JVM
    except Exception:  # noqa: BLE001 - lineage must not fail a run; 'unknown' is recorded instead
        return "unknown"


def collect_lineage(spark: SparkSession) -> Lineage:
    return Lineage(
        code_version=code_version(),
        spark_version=spark.version,
        iceberg_version=iceberg_version(spark),
        spark_conf_digest=conf_digest(spark.sparkContext.getConf().getAll()),
    )


def processing_metadata(
    spark: SparkSession,
    batch: BatchContext,
    tags: dict[str, str],
    rows: dict[str, int],
    source: str,
    lineage: Lineage,
) -> DataFrame:
    """The one processing_metadata row of a run: its batch, per-table tags and rows, and lineage."""
    names = list(tags)
    row = (
        batch.batch_id,
        batch.processing_name,
        batch.processing_timestamp,
        batch.processing_date,
        names,
        tags,
        {n: rows.get(n, 0) for n in names},
        source,
        lineage.code_version,
        lineage.spark_version,
        lineage.iceberg_version,
        lineage.spark_conf_digest,
    )
    return spark.createDataFrame([row], tables.PROCESSING_METADATA.schema).coalesce(1)
