"""Job 1 transforms: validated raw records -> the 9 base feature tables (SPEC section 2).

Every function is pure: (records, batch) -> DataFrame with exactly the table's columns.
`records` has one row per experiment: `experiment_id` plus the fields of RECORD_SCHEMA.
Ids are built from the experiment id and positions, never from values, so equal values in one
vector keep their own rows and two experiments can never share an id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from . import tables
from .tables import TableSpec


@dataclass(frozen=True)
class BatchContext:
    batch_id: str
    processing_timestamp: dt.datetime  # UTC
    processing_name: str

    @property
    def processing_date(self) -> dt.date:
        return self.processing_timestamp.date()


def with_processing_columns(df: DataFrame, batch: BatchContext) -> DataFrame:
    return (
        df.withColumn("processing_timestamp", F.lit(batch.processing_timestamp).cast("timestamp"))
        .withColumn("processing_date", F.lit(batch.processing_date).cast("date"))
        .withColumn("processing_batch_id", F.lit(batch.batch_id))
        .withColumn("processing_name", F.lit(batch.processing_name))
    )


def _conform(df: DataFrame, spec: TableSpec, batch: BatchContext) -> DataFrame:
    """Add the processing columns and select the table's columns, in order, with its types."""
    df = with_processing_columns(df, batch)
    return df.select(
        [
            F.col(name)
            if isinstance(dtype, (T.ArrayType, T.MapType, T.StructType))
            else F.col(name).cast(dtype).alias(name)
            for name, dtype, _ in spec.columns
        ]
    )


def _id(*parts: Column) -> Column:
    return F.concat_ws(":", *[p.cast("string") for p in parts])


_INIT = "vqe_result.initial_data"


def molecules(records: DataFrame, batch: BatchContext) -> DataFrame:
    data = "molecule.molecule_data"
    return _conform(
        records.select(
            "experiment_id",
            "molecule_id",
            F.col(f"{data}.symbols").alias("atom_symbols"),
            F.array_join(F.col(f"{data}.symbols"), "").alias("molecule_name"),
            F.col(f"{data}.coords").alias("coordinates"),
            F.col(f"{data}.multiplicity").alias("multiplicity"),
            F.col(f"{data}.charge").alias("charge"),
            F.col(f"{data}.units").alias("coordinate_units"),
            F.col(f"{data}.masses").alias("atomic_masses"),
        ),
        tables.MOLECULES,
        batch,
    )


def ansatz_info(records: DataFrame, batch: BatchContext) -> DataFrame:
    return _conform(
        records.select(
            "experiment_id",
            "molecule_id",
            "basis_set",
            F.col(f"{_INIT}.ansatz").alias("ansatz"),
            F.col(f"{_INIT}.ansatz_reps").alias("ansatz_reps"),
            F.col(f"{_INIT}.ansatz_name").alias("ansatz_name"),
            F.col(f"{_INIT}.init_strategy").alias("init_strategy"),
        ),
        tables.ANSATZ_INFO,
        batch,
    )


def performance_metrics(records: DataFrame, batch: BatchContext) -> DataFrame:
    return _conform(
        records.select(
            "experiment_id",
            "molecule_id",
            "basis_set",
            "hamiltonian_time",
            "mapping_time",
            "vqe_time",
            "total_time",
            F.col("vqe_result.minimization_time").alias("minimization_time"),
            (F.col("hamiltonian_time") + F.col("mapping_time") + F.col("vqe_time")).alias("computed_total_time"),
        ),
        tables.PERFORMANCE_METRICS,
        batch,
    )


def vqe_results(records: DataFrame, batch: BatchContext) -> DataFrame:
    init_fields = [
        "backend",
        "num_qubits",
        "optimizer",
        "noise_backend",
        "default_shots",
        "ansatz_reps",
        "ansatz_name",
        "init_strategy",
        "seed",
    ]
    result_fields = ["maxcv", "nuclear_repulsion_energy", "success", "nfev", "nit"]
    return _conform(
        records.select(
            "experiment_id",
            "molecule_id",
            "basis_set",
            *[F.col(f"{_INIT}.{name}").alias(name) for name in init_fields],
            F.col("vqe_result.minimum").alias("minimum_energy"),
            *[F.col(f"vqe_result.{name}").alias(name) for name in result_fields],
            F.size("vqe_result.iteration_list").alias("total_iterations"),
        ),
        tables.VQE_RESULTS,
        batch,
    )


def _parameters(records: DataFrame, batch: BatchContext, vector: str, value_column: str, spec: TableSpec) -> DataFrame:
    exploded = records.select(
        "experiment_id",
        "basis_set",
        F.col(f"{_INIT}.backend").alias("backend"),
        F.col(f"{_INIT}.num_qubits").alias("num_qubits"),
        F.posexplode(vector).alias("parameter_index", value_column),
    )
    return _conform(
        exploded.withColumn("parameter_id", _id(F.col("experiment_id"), F.col("parameter_index"))), spec, batch
    )


def initial_parameters(records: DataFrame, batch: BatchContext) -> DataFrame:
    return _parameters(
        records, batch, f"{_INIT}.initial_parameters", "initial_parameter_value", tables.INITIAL_PARAMETERS
    )


def optimal_parameters(records: DataFrame, batch: BatchContext) -> DataFrame:
    return _parameters(
        records, batch, "vqe_result.optimal_parameters", "optimal_parameter_value", tables.OPTIMAL_PARAMETERS
    )


def _iterations(records: DataFrame) -> DataFrame:
    """One row per optimizer iteration, keyed by (experiment_id, iteration_step)."""
    return (
        records.select(
            "experiment_id",
            "basis_set",
            F.col(f"{_INIT}.backend").alias("backend"),
            F.col(f"{_INIT}.num_qubits").alias("num_qubits"),
            F.explode("vqe_result.iteration_list").alias("it"),
        )
        .withColumn("iteration_step", F.col("it.iteration"))
        .withColumn("iteration_id", _id(F.col("experiment_id"), F.col("iteration_step")))
    )


def vqe_iterations(records: DataFrame, batch: BatchContext) -> DataFrame:
    return _conform(
        _iterations(records).select(
            "iteration_id",
            "experiment_id",
            "basis_set",
            "backend",
            "num_qubits",
            "iteration_step",
            F.col("it.result").alias("iteration_energy"),
            F.col("it.std").alias("energy_std_dev"),
            F.col("it.energy_delta").alias("energy_delta"),
            F.col("it.parameter_delta_norm").alias("parameter_delta_norm"),
            F.col("it.cumulative_min_energy").alias("cumulative_min_energy"),
        ),
        tables.VQE_ITERATIONS,
        batch,
    )


def iteration_parameters(records: DataFrame, batch: BatchContext) -> DataFrame:
    exploded = _iterations(records).select(
        "iteration_id",
        "experiment_id",
        "basis_set",
        "iteration_step",
        F.posexplode("it.parameters").alias("parameter_index", "parameter_value"),
    )
    return _conform(
        exploded.withColumn("parameter_id", _id(F.col("iteration_id"), F.col("parameter_index"))),
        tables.ITERATION_PARAMETERS,
        batch,
    )


def hamiltonian_terms(records: DataFrame, batch: BatchContext) -> DataFrame:
    exploded = records.select(
        "experiment_id",
        "basis_set",
        F.col(f"{_INIT}.backend").alias("backend"),
        F.posexplode(f"{_INIT}.hamiltonian").alias("term_index", "term"),
    )
    return _conform(
        exploded.select(
            _id(F.col("experiment_id"), F.col("term_index")).alias("term_id"),
            "experiment_id",
            "basis_set",
            "backend",
            F.col("term.label").alias("term_label"),
            F.col("term.coefficients.real").alias("coeff_real"),
            F.col("term.coefficients.imaginary").alias("coeff_imag"),
        ),
        tables.HAMILTONIAN_TERMS,
        batch,
    )


# In write order. The order only matters for what a reader sees mid-run; a resumed run
# completes whatever is missing.
FEATURE_TRANSFORMS: tuple[tuple[TableSpec, Callable[[DataFrame, BatchContext], DataFrame]], ...] = (
    (tables.MOLECULES, molecules),
    (tables.ANSATZ_INFO, ansatz_info),
    (tables.PERFORMANCE_METRICS, performance_metrics),
    (tables.VQE_RESULTS, vqe_results),
    (tables.INITIAL_PARAMETERS, initial_parameters),
    (tables.OPTIMAL_PARAMETERS, optimal_parameters),
    (tables.VQE_ITERATIONS, vqe_iterations),
    (tables.ITERATION_PARAMETERS, iteration_parameters),
    (tables.HAMILTONIAN_TERMS, hamiltonian_terms),
)


def drop_known_experiments(records: DataFrame, known_ids: DataFrame) -> DataFrame:
    """Keep the first delivery of each experiment: one row per id, none already in the tables.

    `known_ids` holds the experiment ids already written by earlier batches. Within the batch the
    duplicate kept is the one from the smallest object key, so a resumed run keeps the same one.
    """
    first = (
        records.withColumn("_rank", F.row_number().over(Window.partitionBy("experiment_id").orderBy("object_key")))
        .filter("_rank = 1")
        .drop("_rank")
    )
    return first.join(known_ids.select("experiment_id").distinct(), "experiment_id", "left_anti")
