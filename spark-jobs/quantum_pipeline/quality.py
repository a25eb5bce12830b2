"""Data-quality gates: each gate that fires becomes a Finding in the run summary, which the
read-summary Lambda publishes as a "Data Quality Finding" event (and the alert rule mails).

Job 1: files quarantined; volume reconciliation (files listed = already known + deferred by
--max-files + ingested + quarantined, and the batch = ingested + quarantined); the physics check
(a run's minimum energy below the exact FCI energy of its molecule and basis). Job 2: iteration
rows dropped for a NULL context column or a fanned-out context join.

The physics check runs in job 1, on the batch's new experiments only (the frame the feature
tables are written from, already materialised): job 1 holds the whole record (geometry, charge,
multiplicity, basis and minimum) and always runs, while job 2 may be skipped. The check is one
small single-stage Spark job: a broadcast join with the few reference rows (a local relation)
that brings the violations, normally none, to the driver. Its geometry matching,
match_references(), also gives job 2's run report the exact reference of each run.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from .ml_features import CONTEXT_ROWS, complete_rows
from .reference_energies import REFERENCES
from .run_summary import FINDING_OFFENDING_LIMIT, Finding, QuarantinedFile

log = logging.getLogger(__name__)

GATE_QUARANTINE = "quarantined_files"
GATE_RECONCILIATION = "volume_reconciliation"
GATE_ENERGY = "energy_below_exact"
GATE_DROPPED_ROWS = "dropped_rows"
GATES = (GATE_QUARANTINE, GATE_RECONCILIATION, GATE_ENERGY, GATE_DROPPED_ROWS)

# A variational energy is never below the exact one; this much below is numerical noise.
ENERGY_TOLERANCE_HA = 1e-6
# Same geometry = every coordinate within this (in the molecule's own units). Tight on purpose:
# away from equilibrium the energy moves ~0.1-1 Ha per unit of length, so a looser match could
# compare a run with the reference of a slightly different molecule.
COORDINATE_TOLERANCE = 1e-6

REFERENCE_SCHEMA = (
    "symbols_key string, units string, charge int, multiplicity int, basis_key string, "
    "reference_coords array<double>, reference_energy double, reference string"
)
# A run and a reference row with equal values here (and the same geometry) are the same molecule.
MATCH_KEYS = ("symbols_key", "units", "charge", "multiplicity", "basis_key")
_BASIS_NOISE = "[^a-z0-9+*]"


def basis_key(basis: str) -> str:
    """sto-3g, STO3G and sto3g are one basis to PySCF: compare names without case and separators."""
    return re.sub(_BASIS_NOISE, "", basis.lower())


def basis_key_column(basis: Column) -> Column:
    return F.regexp_replace(F.lower(basis), _BASIS_NOISE, "")


def _sql_literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, float):
        return f"CAST('{value!r}' AS DOUBLE)"  # repr round-trips; a bare 1.5 would be a DECIMAL
    if isinstance(value, list):
        return "array(" + ", ".join(_sql_literal(v) for v in value) + ")"
    return str(value)


def reference_frame(spark: SparkSession, references: Sequence[dict] = REFERENCES) -> DataFrame:
    """The reference table as a tiny DataFrame (one row per molecule and basis) for a broadcast
    join. Built from a VALUES list, a local relation: broadcasting it needs no Spark job (a frame
    made with createDataFrame would be an RDD, scanned by a job of its own every time)."""
    rows = [
        (
            " ".join(e["symbols"]),
            e["units"].lower(),
            e["charge"],
            e["multiplicity"],
            basis_key(e["basis"]),
            [float(v) for row in e["coords"] for v in row],
            float(e["fci_electronic_energy"]),
            e["key"],
        )
        for e in references
    ]
    columns = [c.split()[0] for c in REFERENCE_SCHEMA.split(", ")]
    values = ", ".join("(" + ", ".join(_sql_literal(v) for v in row) + ")" for row in rows)
    return spark.sql(f"SELECT * FROM VALUES {values} AS refs({', '.join(columns)})")


def geometry_columns(
    symbols: Column, units: Column, charge: Column, multiplicity: Column, coords: Column
) -> list[Column]:
    """A molecule's match keys but the basis, and its coordinates flattened, normalised as
    reference_frame() normalises the table: the input of match_references() with basis_key."""
    return [
        F.array_join(symbols, " ").alias("symbols_key"),
        F.lower(units).alias("units"),
        charge.alias("charge"),
        multiplicity.alias("multiplicity"),
        F.flatten(coords).alias("coords"),
    ]


def match_references(
    runs: DataFrame,
    references: DataFrame,
    how: str = "inner",
    coordinate_tolerance: float = COORDINATE_TOLERANCE,
) -> DataFrame:
    """`runs` (any columns plus MATCH_KEYS and `coords`, see geometry_columns()) with the
    `reference_energy` (FCI electronic) and `reference` (its key) of the same molecule: symbols,
    units, charge, multiplicity and basis equal, every coordinate within `coordinate_tolerance`.
    how="inner" keeps the matched runs only; "left" keeps every run, NULL where none matches.
    The physics gate (job 1) and the run report's energy error (job 2) share it, so both judge a
    run against the same reference. The table holds one row per geometry and basis, so a run
    matches at most one."""
    refs = references.select(
        *[F.col(k).alias(f"_ref_{k}") for k in MATCH_KEYS], "reference_coords", "reference_energy", "reference"
    )
    same_geometry = (F.size("coords") == F.size("reference_coords")) & F.forall(
        F.zip_with("coords", "reference_coords", lambda a, b: F.abs(a - b) <= coordinate_tolerance), lambda ok: ok
    )
    condition = same_geometry
    for key in MATCH_KEYS:
        condition = (F.col(key) == F.col(f"_ref_{key}")) & condition
    return runs.join(F.broadcast(refs), condition, how).select(*runs.columns, "reference_energy", "reference")


def energy_violations(
    records: DataFrame,
    references: DataFrame,
    tolerance: float = ENERGY_TOLERANCE_HA,
    coordinate_tolerance: float = COORDINATE_TOLERANCE,
) -> DataFrame:
    """Runs of `records` (validated records) whose vqe_result.minimum is more than `tolerance` below
    the FCI electronic energy of the same molecule (symbols, geometry, units, charge,
    multiplicity) and basis. Runs of molecules without a reference are not judged."""
    data = F.col("molecule.molecule_data")
    runs = records.select(
        "experiment_id",
        "object_key",
        *geometry_columns(data["symbols"], data["units"], data["charge"], data["multiplicity"], data["coords"]),
        basis_key_column(F.col("basis_set")).alias("basis_key"),
        F.col("vqe_result.minimum").alias("minimum_energy"),
    )
    below = F.col("minimum_energy") < F.col("reference_energy") - tolerance
    return (
        match_references(runs, references, coordinate_tolerance=coordinate_tolerance)
        .where(below)
        .select(
            "experiment_id",
            "object_key",
            "reference",
            "minimum_energy",
            "reference_energy",
            (F.col("minimum_energy") - F.col("reference_energy")).alias("below_by"),
        )
    )


def worst_violations(violations: Sequence[Row], limit: int = FINDING_OFFENDING_LIMIT) -> list[Row]:
    """The `limit` violations furthest below their reference (ties by experiment id)."""
    return sorted(violations, key=lambda v: (v.below_by, v.experiment_id))[:limit]


def check_energies(spark: SparkSession, records: DataFrame) -> list[Row]:
    """The physics gate on `records` (validated, materialised): every violation, brought to the
    driver in one single-stage job (no shuffle: normally none, at most one small row per run)."""
    started = time.monotonic()
    violations = energy_violations(records, reference_frame(spark)).collect()
    log.info(
        "physics gate: %d of the batch's runs below their exact reference energy (%d references), %.2f s",
        len(violations),
        len(REFERENCES),
        time.monotonic() - started,
    )
    return violations


def energy_finding(violations: Sequence[Row], tolerance: float = ENERGY_TOLERANCE_HA) -> Finding | None:
    """`violations`: rows of energy_violations()."""
    if not violations:
        return None
    worst = worst_violations(violations)
    w = worst[0]
    message = (
        f"{len(violations)} run(s) report a minimum energy more than {tolerance:g} Ha below the exact (FCI) energy "
        f"of their molecule and basis, impossible for a variational method: corrupt data, or a run that left "
        f"the molecule's electron sector. Worst: experiment {w.experiment_id} ({w.object_key}), {w.reference}: "
        f"minimum {w.minimum_energy:.10f} Ha, FCI electronic energy {w.reference_energy:.10f} Ha "
        f"({-w.below_by:.3e} Ha below)"
    )
    return Finding.of(GATE_ENERGY, "error", message, [v.experiment_id for v in worst], len(violations))


def quarantine_finding(quarantined: Sequence[QuarantinedFile], total: int) -> Finding | None:
    if total == 0:
        return None
    first = f"; first: {quarantined[0].key}: {quarantined[0].reason}" if quarantined else ""
    message = f"{total} file(s) of the batch were quarantined, not ingested (see rejected_files){first}"
    return Finding.of(GATE_QUARANTINE, "warning", message, [q.key for q in quarantined], total)


def reconciliation_finding(files: dict[str, int | None], unaccounted: Sequence[str]) -> Finding | None:
    """Every file listed is known already, deferred, ingested or quarantined, and every file of the
    batch has exactly one of the last two outcomes. `unaccounted`: batch files without an outcome."""
    listed, known, deferred = files.get("listed"), files.get("already_known"), files.get("deferred")
    in_batch, ingested, quarantined = files["in_batch"], files["ingested"], files["quarantined"]
    problems = []
    if in_batch != ingested + quarantined:
        problems.append(f"the batch holds {in_batch} files but {ingested} ingested + {quarantined} quarantined")
    if listed is not None and known is not None and deferred is not None:
        accounted = known + deferred + ingested + quarantined
        if listed != accounted:
            problems.append(
                f"{listed} files listed but {known} already known + {deferred} deferred + {ingested} ingested + "
                f"{quarantined} quarantined = {accounted}"
            )
    if unaccounted:
        problems.append(f"{len(unaccounted)} file(s) of the batch have no outcome")
    if not problems:
        return None
    message = "file counts do not add up: " + "; ".join(problems)
    return Finding.of(GATE_RECONCILIATION, "error", message, list(unaccounted), len(unaccounted))


def dropped_rows(joined: DataFrame, limit: int = FINDING_OFFENDING_LIMIT) -> DataFrame:
    """One row on the context-joined iterations (with CONTEXT_ROWS): the rows dropped for a NULL
    context column, and those of experiments whose context is not unique (the join fanned them
    out), each with its experiments' count and the first `limit` ids. `fan_out_rows` counts
    source iterations: an experiment with k context rows contributes k copies of each."""
    incomplete = ~complete_rows(joined)
    fanned = ~incomplete & (F.col(CONTEXT_ROWS) > 1)
    eid = F.col("experiment_id")
    stats = joined.agg(
        F.count(F.when(incomplete, 1)).alias("incomplete_rows"),
        F.array_sort(F.collect_set(F.when(incomplete, eid))).alias("_incomplete_ids"),
        F.coalesce(F.round(F.sum(F.when(fanned, 1.0 / F.col(CONTEXT_ROWS)))), F.lit(0.0))
        .cast("long")
        .alias("fan_out_rows"),
        F.array_sort(F.collect_set(F.when(fanned, eid))).alias("_fan_out_ids"),
    )
    return stats.select(
        "incomplete_rows",
        F.size("_incomplete_ids").alias("incomplete_experiments"),
        F.slice("_incomplete_ids", 1, limit).alias("incomplete_sample"),
        "fan_out_rows",
        F.size("_fan_out_ids").alias("fan_out_experiments"),
        F.slice("_fan_out_ids", 1, limit).alias("fan_out_sample"),
    )


def dropped_rows_finding(drops: Row) -> Finding | None:
    """`drops` is the row of dropped_rows(); an error when a fan-out is among the causes."""
    parts = []
    if drops.incomplete_rows:
        parts.append(
            f"{drops.incomplete_rows} iteration row(s) of {drops.incomplete_experiments} experiment(s) with a NULL "
            "molecule_name, optimizer, basis_set or num_qubits"
        )
    if drops.fan_out_rows or drops.fan_out_experiments:
        parts.append(
            f"{drops.fan_out_rows} iteration row(s) of {drops.fan_out_experiments} experiment(s) whose context is "
            "not unique (a base table holds their experiment_id more than once)"
        )
    if not parts:
        return None
    return Finding.of(
        GATE_DROPPED_ROWS,
        "error" if drops.fan_out_experiments else "warning",
        "job 2 dropped " + " and ".join(parts) + "; they are in no ML table",
        [*drops.fan_out_sample, *drops.incomplete_sample],
        drops.incomplete_experiments + drops.fan_out_experiments,
    )
