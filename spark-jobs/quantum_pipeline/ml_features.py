"""Job 2 transforms: base feature tables -> ml_iteration_features and ml_run_summary (SPEC section 3).

Division rule (Spark 4 runs ANSI SQL, where x / 0 raises): every ratio goes through `ratio()`,
which yields NULL when the divisor is 0 or NULL. So an iteration_step of 0, or a run with no
iterations, gives NULL rates instead of failing the job; normalized_energy is 0 when the running
minimum is exactly 0, as SPEC says.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from . import tables
from .features import BatchContext, with_processing_columns


@dataclass(frozen=True)
class MlParams:
    rolling_window: int = 5
    trajectory_head: int = 10
    trajectory_tail: int = 10


REQUIRED_CONTEXT = ("molecule_name", "optimizer", "basis_set", "num_qubits")
# How many context rows an experiment has: more than one means a base table holds its
# experiment_id twice, and joining would fan each of its iterations out into that many rows.
CONTEXT_ROWS = "_context_rows"


def ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator, NULL when the denominator is 0 or NULL (never an ANSI error)."""
    return F.try_divide(numerator.cast("double"), denominator.cast("double"))


def experiment_context(
    results: DataFrame, ansatz: DataFrame, molecules: DataFrame, performance: DataFrame
) -> DataFrame:
    """One row per experiment: the context, label and timing columns (left joins keep gaps visible)."""
    res = results.select(
        "experiment_id",
        "num_qubits",
        "basis_set",
        "optimizer",
        "seed",
        "default_shots",
        "total_iterations",
        F.col("minimum_energy").alias("final_energy"),
        F.col("success").alias("converged"),
    )
    ans = ansatz.select("experiment_id", F.col("ansatz_name").alias("ansatz_type"), "ansatz_reps", "init_strategy")
    mol = molecules.select(
        "experiment_id", "molecule_name", F.size("atom_symbols").alias("num_atoms"), "charge", "multiplicity"
    )
    perf = performance.select("experiment_id", "vqe_time", "total_time")
    return res.join(ans, "experiment_id", "left").join(mol, "experiment_id", "left").join(perf, "experiment_id", "left")


def join_iterations(iterations: DataFrame, context: DataFrame) -> DataFrame:
    signals = iterations.select(
        "experiment_id",
        "iteration_step",
        F.col("iteration_energy").alias("energy"),
        F.col("energy_std_dev").alias("energy_std"),
        "energy_delta",
        "parameter_delta_norm",
        "cumulative_min_energy",
    )
    return signals.join(context, "experiment_id", "left")


def complete_rows(df: DataFrame) -> Column:
    """True where every context column the ML tables need is present."""
    condition = F.lit(True)
    for name in REQUIRED_CONTEXT:
        condition = condition & F.col(name).isNotNull()
    return condition


def with_context_multiplicity(context: DataFrame) -> DataFrame:
    """experiment_context() with CONTEXT_ROWS (computed on the small per-experiment frame)."""
    return context.withColumn(CONTEXT_ROWS, F.count(F.lit(1)).over(Window.partitionBy("experiment_id")))


def usable_rows(df: DataFrame) -> Column:
    """Complete rows of an experiment with exactly one context row (`df` carries CONTEXT_ROWS)."""
    return complete_rows(df) & F.coalesce(F.col(CONTEXT_ROWS) == 1, F.lit(False))


def iteration_features(joined: DataFrame, params: MlParams) -> DataFrame:
    """The per-iteration feature vector; `joined` is join_iterations() output with complete rows."""
    by_step = Window.partitionBy("experiment_id").orderBy("iteration_step")
    running = by_step.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    rolling = by_step.rowsBetween(-(params.rolling_window - 1), Window.currentRow)
    whole_run = Window.partitionBy("experiment_id")
    cme = F.col("cumulative_min_energy")

    df = joined.withColumn(
        "is_new_minimum",
        F.when(F.row_number().over(by_step) == 1, F.lit(True)).otherwise(
            F.coalesce(cme < F.lag(cme).over(by_step), F.lit(False))
        ),
    )
    # Rows since the last new minimum: number the rows of each stretch that starts at a new minimum.
    df = df.withColumn("_stretch", F.sum(F.col("is_new_minimum").cast("int")).over(running))
    df = df.withColumn(
        "steps_since_improvement",
        F.row_number().over(Window.partitionBy("experiment_id", "_stretch").orderBy("iteration_step")) - 1,
    )
    return (
        df.withColumn(
            "convergence_iteration", F.max(F.when(F.col("is_new_minimum"), F.col("iteration_step"))).over(whole_run)
        )
        .withColumn("energy_moving_avg_5", F.avg("energy").over(rolling))
        .withColumn("energy_moving_std_5", F.stddev_samp("energy").over(rolling))
        .withColumn("mean_param_change", ratio(F.sum("parameter_delta_norm").over(running), F.col("iteration_step")))
        .withColumn("relative_iteration", ratio(F.col("iteration_step"), F.col("total_iterations")))
        .withColumn("energy_improvement_rate", ratio(F.first("energy").over(running) - cme, F.col("iteration_step")))
        .withColumn(
            "normalized_energy", F.when(cme == 0, F.lit(0.0)).otherwise(ratio(F.col("energy") - cme, F.abs(cme)))
        )
        .drop("_stretch")
    )


def to_iteration_table(features: DataFrame, batch: BatchContext) -> DataFrame:
    spec = tables.ML_ITERATION_FEATURES
    return with_processing_columns(features, batch).select(
        [F.col(name).cast(dtype).alias(name) for name, dtype, _ in spec.columns]
    )


def run_summaries(features: DataFrame, context: DataFrame, params: MlParams, batch: BatchContext) -> DataFrame:
    """One row per experiment of `context` (complete rows); runs with no iterations get NULL statistics."""
    ranked = features.withColumn(
        "_from_start", F.row_number().over(Window.partitionBy("experiment_id").orderBy("iteration_step"))
    ).withColumn(
        "_from_end", F.row_number().over(Window.partitionBy("experiment_id").orderBy(F.desc("iteration_step")))
    )
    head = F.col("_from_start") <= params.trajectory_head
    tail = F.col("_from_end") <= params.trajectory_tail
    step, energy, pdn = F.col("iteration_step"), F.col("energy"), F.col("parameter_delta_norm")
    stats = ranked.groupBy("experiment_id").agg(
        F.avg("energy_delta").alias("mean_energy_delta"),
        F.stddev_samp("energy_delta").alias("std_energy_delta"),
        F.min(energy).alias("min_energy"),
        F.max(energy).alias("max_energy"),
        F.avg(pdn).alias("mean_param_delta_norm"),
        F.stddev_samp(pdn).alias("std_param_delta_norm"),
        F.sum(pdn).alias("total_param_distance"),
        F.sum(F.col("is_new_minimum").cast("int")).alias("num_new_minima"),
        F.max("steps_since_improvement").alias("longest_plateau"),
        F.max("convergence_iteration").alias("convergence_iteration"),
        F.avg(F.when(head, energy)).alias("first_10_mean_energy"),
        # Least-squares slope of energy on step = cov(step, energy) / var(step) over the head rows.
        ratio(F.covar_pop(F.when(head, step), F.when(head, energy)), F.var_pop(F.when(head, step))).alias(
            "first_10_energy_slope"
        ),
        F.avg(F.when(tail, energy)).alias("last_10_mean_energy"),
    )
    summary = (
        context.join(stats, "experiment_id", "left")
        .withColumn("energy_range", F.col("max_energy") - F.col("min_energy"))
        .withColumn("num_new_minima", F.coalesce(F.col("num_new_minima"), F.lit(0)))
        .withColumn("improvement_ratio", ratio(F.col("num_new_minima"), F.col("total_iterations")))
        .withColumn("time_per_iteration", ratio(F.col("vqe_time"), F.col("total_iterations")))
    )
    spec = tables.ML_RUN_SUMMARY
    return with_processing_columns(summary, batch).select(
        [F.col(name).cast(dtype).alias(name) for name, dtype, _ in spec.columns]
    )
