"""Every Iceberg table the jobs write: columns, key and partitioning (SPEC sections 2 and 3)."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

# One-letter names keep the column lists below readable; `I` is IntegerType, not a lower-case l.
S, I, L, D, B = T.StringType(), T.IntegerType(), T.LongType(), T.DoubleType(), T.BooleanType()  # noqa: E741
TS, DATE = T.TimestampType(), T.DateType()


def _arr(item: T.DataType) -> T.ArrayType:
    # Elements are declared optional: the validator already guarantees none is null, and Spark's
    # ANSI casts refuse to narrow array<x> to array<x NOT NULL>.
    return T.ArrayType(item, containsNull=True)


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[tuple[str, T.DataType, bool], ...]  # (name, type, nullable)
    key: tuple[str, ...]
    partition_by: tuple[str, ...]

    @property
    def schema(self) -> T.StructType:
        return T.StructType([T.StructField(n, t, nullable) for n, t, nullable in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c[0] for c in self.columns]


PROCESSING_COLUMNS = (
    ("processing_timestamp", TS, False),
    ("processing_date", DATE, False),
    ("processing_batch_id", S, False),
    ("processing_name", S, False),
)


def _table(name: str, key: tuple[str, ...], partition_by: tuple[str, ...], *columns) -> TableSpec:
    return TableSpec(name, tuple(columns) + PROCESSING_COLUMNS, key, partition_by)


def _req(name: str, t: T.DataType) -> tuple[str, T.DataType, bool]:
    return (name, t, False)


def _opt(name: str, t: T.DataType) -> tuple[str, T.DataType, bool]:
    return (name, t, True)


EXPERIMENT = _req("experiment_id", S)

MOLECULES = _table(
    "molecules",
    ("experiment_id", "molecule_id"),
    ("processing_date",),
    EXPERIMENT,
    _req("molecule_id", I),
    _req("atom_symbols", _arr(S)),
    _req("molecule_name", S),
    _req("coordinates", _arr(_arr(D))),
    _req("multiplicity", I),
    _req("charge", I),
    _req("coordinate_units", S),
    _opt("atomic_masses", _arr(D)),
)
ANSATZ_INFO = _table(
    "ansatz_info",
    ("experiment_id", "molecule_id"),
    ("processing_date", "basis_set"),
    EXPERIMENT,
    _req("molecule_id", I),
    _req("basis_set", S),
    _req("ansatz", S),
    _req("ansatz_reps", I),
    _req("ansatz_name", S),
    _req("init_strategy", S),
)
PERFORMANCE_METRICS = _table(
    "performance_metrics",
    ("experiment_id", "molecule_id", "basis_set"),
    ("processing_date", "basis_set"),
    EXPERIMENT,
    _req("molecule_id", I),
    _req("basis_set", S),
    _req("hamiltonian_time", D),
    _req("mapping_time", D),
    _req("vqe_time", D),
    _req("total_time", D),
    _req("minimization_time", D),
    _req("computed_total_time", D),
)
VQE_RESULTS = _table(
    "vqe_results",
    ("experiment_id", "molecule_id", "basis_set"),
    ("processing_date", "basis_set", "backend"),
    EXPERIMENT,
    _req("molecule_id", I),
    _req("basis_set", S),
    _req("backend", S),
    _req("num_qubits", I),
    _req("optimizer", S),
    _req("noise_backend", S),
    _opt("default_shots", L),
    _req("ansatz_reps", I),
    _req("ansatz_name", S),
    _req("init_strategy", S),
    _opt("seed", L),
    _req("minimum_energy", D),
    _opt("maxcv", D),
    _opt("nuclear_repulsion_energy", D),
    _opt("success", B),
    _opt("nfev", L),
    _opt("nit", L),
    _req("total_iterations", I),
)


def _parameter_table(name: str, value_column: str) -> TableSpec:
    return _table(
        name,
        ("parameter_id",),
        ("processing_date", "basis_set"),
        _req("parameter_id", S),
        EXPERIMENT,
        _req("basis_set", S),
        _req("backend", S),
        _req("num_qubits", I),
        _req("parameter_index", I),
        _req(value_column, D),
    )


INITIAL_PARAMETERS = _parameter_table("initial_parameters", "initial_parameter_value")
OPTIMAL_PARAMETERS = _parameter_table("optimal_parameters", "optimal_parameter_value")
VQE_ITERATIONS = _table(
    "vqe_iterations",
    ("iteration_id",),
    ("processing_date", "basis_set", "backend"),
    _req("iteration_id", S),
    EXPERIMENT,
    _req("basis_set", S),
    _req("backend", S),
    _req("num_qubits", I),
    _req("iteration_step", I),
    _req("iteration_energy", D),
    _req("energy_std_dev", D),
    _opt("energy_delta", D),
    _opt("parameter_delta_norm", D),
    _opt("cumulative_min_energy", D),
)
ITERATION_PARAMETERS = _table(
    "iteration_parameters",
    ("parameter_id",),
    ("processing_date", "basis_set"),
    _req("parameter_id", S),
    _req("iteration_id", S),
    EXPERIMENT,
    _req("basis_set", S),
    _req("iteration_step", I),
    _req("parameter_index", I),
    _req("parameter_value", D),
)
HAMILTONIAN_TERMS = _table(
    "hamiltonian_terms",
    ("term_id",),
    ("processing_date", "basis_set", "backend"),
    _req("term_id", S),
    EXPERIMENT,
    _req("basis_set", S),
    _req("backend", S),
    _req("term_label", S),
    _req("coeff_real", D),
    _req("coeff_imag", D),
)

FEATURE_TABLES: tuple[TableSpec, ...] = (
    MOLECULES,
    ANSATZ_INFO,
    PERFORMANCE_METRICS,
    VQE_RESULTS,
    INITIAL_PARAMETERS,
    OPTIMAL_PARAMETERS,
    VQE_ITERATIONS,
    ITERATION_PARAMETERS,
    HAMILTONIAN_TERMS,
)

PROCESSING_METADATA = TableSpec(
    "processing_metadata",
    (
        _req("processing_batch_id", S),
        _req("processing_name", S),
        _req("processing_timestamp", TS),
        _req("processing_date", DATE),
        _req("table_names", _arr(S)),
        _req("table_versions", T.MapType(S, S)),
        _req("record_counts", T.MapType(S, L)),
        _req("source_data_info", S),
        # Lineage (lineage.py); optional because rows written before it have none.
        _opt("code_version", S),
        _opt("spark_version", S),
        _opt("iceberg_version", S),
        _opt("spark_conf_digest", S),
    ),
    ("processing_batch_id",),
    ("processing_date",),
)

# Bookkeeping of job 1. The plan is written before any feature table, the ledger after all of
# them: a batch whose plan has no ledger rows yet was interrupted and is resumed as it was.
INGESTION_PLAN = TableSpec(
    "ingestion_plan",
    (
        _req("batch_id", S),
        _req("planned_at", TS),
        _req("object_uri", S),
        _req("object_key", S),
        _req("etag", S),
        _req("size_bytes", L),
        _req("topic", S),
        _req("file_format", S),
        # True for a batch that re-ingests objects (a reprocess): a resumed run must replace rows
        # again, not append them. Added after the table's first release, hence optional.
        _opt("reprocess", B),
    ),
    ("batch_id", "object_key"),
    (),
)
INGESTED_FILES = TableSpec(
    "ingested_files",
    (
        _req("object_key", S),
        _req("etag", S),
        _req("size_bytes", L),
        _req("topic", S),
        _req("file_format", S),
        _req("batch_id", S),
        _req("status", S),
        _opt("reason", S),
        _req("record_count", I),
        _req("ingested_at", TS),
    ),
    ("object_key", "etag"),
    (),
)
REJECTED_FILES = TableSpec(
    "rejected_files",
    (
        _req("object_key", S),
        _req("etag", S),
        _req("topic", S),
        _req("reason", S),
        _req("batch_id", S),
        _req("rejected_at", TS),
    ),
    ("object_key", "etag"),
    (),
)

ML_CONTEXT_COLUMNS = (
    _req("molecule_name", S),
    _req("num_atoms", I),
    _req("num_qubits", I),
    _req("charge", I),
    _req("multiplicity", I),
    _req("basis_set", S),
    _req("optimizer", S),
    _req("ansatz_type", S),
    _req("ansatz_reps", I),
    _req("init_strategy", S),
    _opt("seed", L),
    _opt("default_shots", L),
)
ML_LABEL_COLUMNS = (
    _req("total_iterations", I),
    _req("final_energy", D),
    _opt("converged", B),
    _opt("convergence_iteration", I),
)
ML_ITERATION_FEATURES = _table(
    "ml_iteration_features",
    ("experiment_id", "iteration_step"),
    ("processing_date",),
    EXPERIMENT,
    _req("iteration_step", I),
    *ML_CONTEXT_COLUMNS,
    _req("energy", D),
    _req("energy_std", D),
    _opt("energy_delta", D),
    _opt("parameter_delta_norm", D),
    _opt("cumulative_min_energy", D),
    _req("is_new_minimum", B),
    _req("steps_since_improvement", I),
    _opt("energy_moving_avg_5", D),
    _opt("energy_moving_std_5", D),
    _opt("mean_param_change", D),
    _opt("relative_iteration", D),
    _opt("energy_improvement_rate", D),
    _opt("normalized_energy", D),
    *ML_LABEL_COLUMNS,
    _req("vqe_time", D),
    _req("total_time", D),
)
ML_RUN_SUMMARY = _table(
    "ml_run_summary",
    ("experiment_id",),
    ("processing_date", "basis_set"),
    EXPERIMENT,
    *ML_CONTEXT_COLUMNS,
    *ML_LABEL_COLUMNS,
    _req("vqe_time", D),
    _req("total_time", D),
    _opt("mean_energy_delta", D),
    _opt("std_energy_delta", D),
    _opt("min_energy", D),
    _opt("max_energy", D),
    _opt("energy_range", D),
    _opt("mean_param_delta_norm", D),
    _opt("std_param_delta_norm", D),
    _opt("total_param_distance", D),
    _req("num_new_minima", I),
    _opt("longest_plateau", I),
    _opt("improvement_ratio", D),
    _opt("first_10_mean_energy", D),
    _opt("first_10_energy_slope", D),
    _opt("last_10_mean_energy", D),
    _opt("time_per_iteration", D),
)
ML_TABLES: tuple[TableSpec, ...] = (ML_ITERATION_FEATURES, ML_RUN_SUMMARY)
