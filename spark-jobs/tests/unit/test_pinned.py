"""Values pinned to literals, so a change of code cannot silently change them: the SPEC section 2
and 3 column lists, the experiment_id of a fixed record, and the quarantine list cap."""

import pytest

from quantum_pipeline import tables
from quantum_pipeline.run_summary import QUARANTINE_LIST_LIMIT, QuarantinedFile, RunSummary
from quantum_pipeline.validation import experiment_id, validate_record
from support import base_record

PROCESSING = ["processing_timestamp", "processing_date", "processing_batch_id", "processing_name"]
SPEC_COLUMNS = {
    "molecules": [
        "experiment_id",
        "molecule_id",
        "atom_symbols",
        "molecule_name",
        "coordinates",
        "multiplicity",
        "charge",
        "coordinate_units",
        "atomic_masses",
        *PROCESSING,
    ],
    "ansatz_info": [
        "experiment_id",
        "molecule_id",
        "basis_set",
        "ansatz",
        "ansatz_reps",
        "ansatz_name",
        "init_strategy",
        *PROCESSING,
    ],
    "performance_metrics": [
        "experiment_id",
        "molecule_id",
        "basis_set",
        "hamiltonian_time",
        "mapping_time",
        "vqe_time",
        "total_time",
        "minimization_time",
        "computed_total_time",
        *PROCESSING,
    ],
    "vqe_results": [
        "experiment_id",
        "molecule_id",
        "basis_set",
        "backend",
        "num_qubits",
        "optimizer",
        "noise_backend",
        "default_shots",
        "ansatz_reps",
        "ansatz_name",
        "init_strategy",
        "seed",
        "minimum_energy",
        "maxcv",
        "nuclear_repulsion_energy",
        "success",
        "nfev",
        "nit",
        "total_iterations",
        *PROCESSING,
    ],
    "initial_parameters": [
        "parameter_id",
        "experiment_id",
        "basis_set",
        "backend",
        "num_qubits",
        "parameter_index",
        "initial_parameter_value",
        *PROCESSING,
    ],
    "optimal_parameters": [
        "parameter_id",
        "experiment_id",
        "basis_set",
        "backend",
        "num_qubits",
        "parameter_index",
        "optimal_parameter_value",
        *PROCESSING,
    ],
    "vqe_iterations": [
        "iteration_id",
        "experiment_id",
        "basis_set",
        "backend",
        "num_qubits",
        "iteration_step",
        "iteration_energy",
        "energy_std_dev",
        "energy_delta",
        "parameter_delta_norm",
        "cumulative_min_energy",
        *PROCESSING,
    ],
    "iteration_parameters": [
        "parameter_id",
        "iteration_id",
        "experiment_id",
        "basis_set",
        "iteration_step",
        "parameter_index",
        "parameter_value",
        *PROCESSING,
    ],
    "hamiltonian_terms": [
        "term_id",
        "experiment_id",
        "basis_set",
        "backend",
        "term_label",
        "coeff_real",
        "coeff_imag",
        *PROCESSING,
    ],
}


DAY, BASIS, BACKEND = "processing_date", "basis_set", "backend"
SPEC_KEYS_AND_PARTITIONS = {
    "molecules": (("experiment_id", "molecule_id"), (DAY,)),
    "ansatz_info": (("experiment_id", "molecule_id"), (DAY, BASIS)),
    "performance_metrics": (("experiment_id", "molecule_id", "basis_set"), (DAY, BASIS)),
    "vqe_results": (("experiment_id", "molecule_id", "basis_set"), (DAY, BASIS, BACKEND)),
    "initial_parameters": (("parameter_id",), (DAY, BASIS)),
    "optimal_parameters": (("parameter_id",), (DAY, BASIS)),
    "vqe_iterations": (("iteration_id",), (DAY, BASIS, BACKEND)),
    "iteration_parameters": (("parameter_id",), (DAY, BASIS)),
    "hamiltonian_terms": (("term_id",), (DAY, BASIS, BACKEND)),
}


@pytest.mark.parametrize("table", sorted(SPEC_COLUMNS))
def test_feature_tables_have_the_spec_columns_key_and_partitioning(table):
    spec = next(s for s in tables.FEATURE_TABLES if s.name == table)

    assert spec.column_names == SPEC_COLUMNS[table]
    assert (spec.key, spec.partition_by) == SPEC_KEYS_AND_PARTITIONS[table]


def test_there_are_exactly_the_nine_spec_tables_in_write_order():
    assert [s.name for s in tables.FEATURE_TABLES] == list(SPEC_COLUMNS)


def test_the_experiment_id_of_a_fixed_record_never_changes():
    # The canonical JSON and hash of the identity fields define every experiment_id ever written:
    # a change here would re-key every experiment. Recompute it only on purpose.
    assert experiment_id(validate_record(base_record())) == (
        "f8c0c240cbf792bf3d525cfd4d7d37264a192bb1a261a5af3b390700d3af7c2d"
    )


def test_the_quarantine_list_is_capped_and_the_total_kept():
    summary = RunSummary(job="feature_processing", run_id="r", batch_id="b", status="succeeded", started_at="t")

    summary.add_quarantined([QuarantinedFile(f"k{i}", "e", "why") for i in range(QUARANTINE_LIST_LIMIT + 5)])

    assert QUARANTINE_LIST_LIMIT == 100
    assert (len(summary.quarantined), summary.quarantined_total) == (100, 105)
    assert summary.quarantined[-1].key == "k99"
