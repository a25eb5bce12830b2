"""The data of the run report (lambdas/report renders it): a small JSON job 2 writes beside its run
summary, `<summary_uri>/ml_feature_processing/<run_id>.report-data.json`.

What it holds, all about this run's experiments except the history:
- the last runs of both jobs from processing_metadata (when, which batch, rows per table);
- convergence curves (energy per iteration) of a few experiments per molecule x basis x optimizer
  x ansatz, each cut to at most MAX_POINTS points;
- the energy error per molecule x basis x optimizer x ansatz against a reference energy: the exact
  (FCI) one of each run when every run of the group has one (reference_energies, matched by
  geometry and basis as job 1's physics gate matches them: quality.match_references), else the
  lowest energy this run reached for that molecule and basis (labelled so: a relative gap, not an
  error against the truth).

The Spark work is three small collects: one row per experiment with its exact reference (joined
in that same collect: the reference table is a broadcast local relation), the sampled curves, and
the last rows of processing_metadata. Everything else is plain Python on those rows, so it is
unit-tested without a cluster. Files in/ingested/quarantined are job 1's summary; the report step
reads both.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from .quality import basis_key_column, geometry_columns, match_references, reference_frame
from .run_summary import write_text

log = logging.getLogger(__name__)

REPORT_DATA_VERSION = 1
HISTORY_RUNS = 30  # per job
SAMPLES_PER_GROUP = 2
MAX_GROUPS = 48
MAX_POINTS = 80
CHEMICAL_ACCURACY_HARTREE = 0.0016

GROUP_COLUMNS = ("molecule_name", "basis_set", "optimizer", "ansatz_type")
OUTCOME_KEYS = ("experiment_id", *GROUP_COLUMNS, "init_strategy")


def report_data_location(summary_uri: str, job: str, run_id: str) -> str:
    return f"{summary_uri.rstrip('/')}/{job}/{run_id}.report-data.json"


@dataclass(frozen=True)
class Outcome:
    """One experiment of this run: its group, final energy and exact reference energy (None when
    the reference table has none for its geometry and basis)."""

    experiment_id: str
    molecule: str
    basis: str
    optimizer: str
    ansatz: str
    init_strategy: str
    final_energy: float
    iterations: int
    reference_energy: float | None = None

    @property
    def group(self) -> tuple[str, str, str, str]:
        return (self.molecule, self.basis, self.optimizer, self.ansatz)


# --------------------------------------------------------------------------------------------
# DataFrame transforms (pure; the caller collects)
# --------------------------------------------------------------------------------------------
def molecule_geometries(molecules: DataFrame) -> DataFrame:
    """The geometry of each experiment of molecules-table rows, keyed as match_references() wants
    (the basis comes from the iterations)."""
    return molecules.select(
        "experiment_id",
        *geometry_columns(
            F.col("atom_symbols"),
            F.col("coordinate_units"),
            F.col("charge"),
            F.col("multiplicity"),
            F.col("coordinates"),
        ),
    )


def experiment_outcomes(iterations: DataFrame, geometries: DataFrame, references: DataFrame) -> DataFrame:
    """One row per experiment of ml_iteration_features-shaped rows: group columns, final energy,
    iteration count (every row of an experiment carries the same labels) and the exact reference
    energy of its geometry (molecule_geometries()) and basis, NULL where `references`
    (quality.reference_frame()) has none. final_energy is vqe_result.minimum, an electronic energy
    (nuclear repulsion not included), so the reference is the FCI electronic energy, not the total.
    An experiment has one geometry row: one with two would have fanned its context out, and job 2
    drops such experiments from the features."""
    outcomes = iterations.groupBy(*OUTCOME_KEYS).agg(
        F.first("final_energy").alias("final_energy"),
        F.max("total_iterations").alias("iterations"),
    )
    runs = outcomes.join(geometries, "experiment_id", "left").withColumn(
        "basis_key", basis_key_column(F.col("basis_set"))
    )
    return match_references(runs, references, how="left").select(
        *OUTCOME_KEYS, "final_energy", "iterations", "reference_energy"
    )


def curve_points(iterations: DataFrame, experiment_ids: Iterable[str]) -> DataFrame:
    """(experiment_id, iteration_step, energy) of the sampled experiments."""
    return iterations.where(F.col("experiment_id").isin(sorted(experiment_ids))).select(
        "experiment_id", "iteration_step", "energy"
    )


def recent_runs(metadata: DataFrame, limit: int = HISTORY_RUNS) -> DataFrame:
    """The newest `limit` rows of processing_metadata per processing_name (one per job run), with
    their total rows."""
    newest = Window.partitionBy("processing_name").orderBy(F.desc("processing_timestamp"))
    total = F.aggregate(F.map_values("record_counts"), F.lit(0).cast("long"), lambda acc, x: acc + x)
    return (
        metadata.withColumn("_rank", F.row_number().over(newest))
        .where(F.col("_rank") <= limit)
        .select(
            "processing_name",
            "processing_batch_id",
            "processing_timestamp",
            "record_counts",
            total.alias("total_rows"),
        )
    )


# --------------------------------------------------------------------------------------------
# Plain Python on collected rows
# --------------------------------------------------------------------------------------------
def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def to_outcomes(rows: Iterable) -> list[Outcome]:
    return [
        Outcome(
            r["experiment_id"],
            r["molecule_name"],
            r["basis_set"],
            r["optimizer"],
            r["ansatz_type"],
            r["init_strategy"],
            float(r["final_energy"]),
            int(r["iterations"] or 0),
            _finite(r["reference_energy"]),
        )
        for r in rows
        if _finite(r["final_energy"]) is not None
    ]


def sample_experiments(
    outcomes: Iterable[Outcome], per_group: int = SAMPLES_PER_GROUP, max_groups: int = MAX_GROUPS
) -> dict[tuple[str, str, str, str], list[Outcome]]:
    """A few experiments per group, chosen by id (stable from run to run, not biased to good runs);
    groups in sorted order, at most max_groups of them."""
    by_group: dict[tuple[str, str, str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_group[o.group].append(o)
    chosen = sorted(by_group)[:max_groups]
    return {g: sorted(by_group[g], key=lambda o: o.experiment_id)[:per_group] for g in chosen}


def downsample(points: list[tuple[int, float]], max_points: int = MAX_POINTS) -> list[tuple[int, float]]:
    """Evenly spaced points of a curve sorted by step, keeping the first and the last."""
    points = sorted(points)
    if len(points) <= max_points:
        return points
    last = len(points) - 1
    picks = sorted({round(i * last / (max_points - 1)) for i in range(max_points)})
    return [points[i] for i in picks]


def convergence(
    samples: Mapping[tuple[str, str, str, str], list[Outcome]],
    points: Iterable,
    group_sizes: Mapping[tuple[str, str, str, str], int],
    max_points: int = MAX_POINTS,
) -> list[dict]:
    by_experiment: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in points:
        by_experiment[r["experiment_id"]].append((int(r["iteration_step"]), float(r["energy"])))
    return [
        {
            "molecule": g[0],
            "basis": g[1],
            "optimizer": g[2],
            "ansatz": g[3],
            "runs": group_sizes.get(g, 0),
            "samples": [
                {
                    "experiment_id": o.experiment_id,
                    "init_strategy": o.init_strategy,
                    "points": [[s, round(e, 9)] for s, e in downsample(by_experiment[o.experiment_id], max_points)],
                }
                for o in chosen
            ],
        }
        for g, chosen in samples.items()
    ]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _group_error(outcomes: list[Outcome], best_seen: float) -> dict:
    """The error of each run of one group. Exact when every run has an exact reference: each run
    against its own (runs of one molecule name may differ in geometry); else all against the
    lowest energy of the run for the molecule and basis. The best run is the one with the smallest
    error, so best_energy - reference_energy is best_error."""
    exact = all(o.reference_energy is not None for o in outcomes)
    errors = [(o.final_energy - (o.reference_energy if exact else best_seen), o) for o in outcomes]
    best_error, best = min(errors, key=lambda pair: (pair[0], pair[1].experiment_id))
    return {
        "runs": len(outcomes),
        "reference_kind": "exact" if exact else "best_seen",
        "reference_energy": best.reference_energy if exact else best_seen,
        "best_energy": best.final_energy,
        "best_error": best_error,
        "median_error": _median([e for e, _ in errors]),
        "within_chemical_accuracy": sum(1 for e, _ in errors if abs(e) <= CHEMICAL_ACCURACY_HARTREE),
    }


def energy_errors(outcomes: list[Outcome]) -> dict:
    """Error of each group's runs against the exact reference energy where every run of the group
    has one; otherwise the lowest energy of this run for the molecule and basis stands in, and the
    row says so."""
    best_seen: dict[tuple[str, str], float] = {}
    by_group: dict[tuple[str, str, str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        key = (o.molecule, o.basis)
        best_seen[key] = min(o.final_energy, best_seen.get(key, math.inf))
        by_group[o.group].append(o)
    rows = [
        {"molecule": molecule, "basis": basis, "optimizer": optimizer, "ansatz": ansatz}
        | _group_error(runs, best_seen[(molecule, basis)])
        for (molecule, basis, optimizer, ansatz), runs in sorted(by_group.items())
    ]
    return {"chemical_accuracy_hartree": CHEMICAL_ACCURACY_HARTREE, "groups": rows}


def history(rows: Iterable) -> list[dict]:
    return sorted(
        (
            {
                "processing_name": r["processing_name"],
                "batch_id": r["processing_batch_id"],
                "at": r["processing_timestamp"].isoformat(),
                "total_rows": int(r["total_rows"] or 0),
                "rows": {k: int(v) for k, v in (r["record_counts"] or {}).items()},
            }
            for r in rows
        ),
        key=lambda h: (h["at"], h["processing_name"]),
    )


def build(
    run_id: str,
    batch_id: str,
    generated_at: str,
    outcome_rows: Iterable,
    point_rows_of,
    history_rows: Iterable,
) -> dict:
    """The report data from collected rows; `point_rows_of(ids)` collects the sampled curves."""
    outcomes = to_outcomes(outcome_rows)
    sizes: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for o in outcomes:
        sizes[o.group] += 1
    samples = sample_experiments(outcomes)
    ids = [o.experiment_id for chosen in samples.values() for o in chosen]
    return {
        "version": REPORT_DATA_VERSION,
        "run_id": run_id,
        "batch_id": batch_id,
        "generated_at": generated_at,
        "experiments": len(outcomes),
        "history": history(history_rows),
        "convergence": {
            "samples_per_group": SAMPLES_PER_GROUP,
            "max_points": MAX_POINTS,
            "groups_total": len(sizes),
            "groups": convergence(samples, point_rows_of(ids) if ids else [], sizes),
        },
        "energy_error": energy_errors(outcomes),
    }


# --------------------------------------------------------------------------------------------
# The edge: collect from the job's frames and write the JSON
# --------------------------------------------------------------------------------------------
def write(
    spark: SparkSession,
    summary_uri: str,
    job: str,
    run_id: str,
    batch_id: str,
    generated_at: str,
    iterations: DataFrame | None,
    molecules: DataFrame | None,
    metadata_fqn: str,
) -> str | None:
    """Collect, build and write the report data; `iterations` is this run's ml_iteration_features
    rows and `molecules` its experiments' molecules-table rows (both None when the run had nothing
    to do). A failure is logged, never raised: the report is an extra, the tables are the job."""
    started = time.monotonic()
    try:
        outcome_rows = (
            experiment_outcomes(iterations, molecule_geometries(molecules), reference_frame(spark)).collect()
            if iterations is not None and molecules is not None
            else []
        )
        data = build(
            run_id,
            batch_id,
            generated_at,
            outcome_rows,
            lambda ids: curve_points(iterations, ids).collect(),
            recent_runs(spark.table(metadata_fqn)).collect(),
        )
        uri = report_data_location(summary_uri, job, run_id)
        write_text(spark, uri, json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False))
        exact = sum(1 for r in outcome_rows if r["reference_energy"] is not None)
        log.info(
            "report data written to %s (%d experiments, %d with an exact reference), %.2f s",
            uri,
            len(outcome_rows),
            exact,
            time.monotonic() - started,
        )
        return uri
    except Exception:
        log.exception("report data not written")
        return None
