"""The record against SPEC section 1: every field and type, the trajectory's invariants, seeds."""

from __future__ import annotations

import copy
import json
import math

import pytest

from helpers import H2, HEH_PLUS, MOLECULES_FILE, cli_arguments, without_measurements
from mini_vqe.choices import OPTIMIZERS
from record_schema import schema_errors


@pytest.fixture(scope="module")
def h2_record(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from mini_vqe.cli import main

    out = tmp_path_factory.mktemp("h2")
    assert main([*cli_arguments(H2, "L-BFGS-B", "hf", 3), "--output-dir", str(out)]) == 0
    (path,) = out.glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def assert_trajectory(iterations: list[dict], num_parameters: int) -> None:
    assert [entry["iteration"] for entry in iterations] == list(range(1, len(iterations) + 1))
    best = math.inf
    for previous, entry in zip([None, *iterations[:-1]], iterations, strict=True):
        assert len(entry["parameters"]) == num_parameters
        assert entry["std"] == 0.0
        if previous is None:
            assert entry["energy_delta"] is None and entry["parameter_delta_norm"] is None
        else:
            assert entry["energy_delta"] == pytest.approx(entry["result"] - previous["result"], abs=1e-12)
            step = math.dist(entry["parameters"], previous["parameters"])
            assert entry["parameter_delta_norm"] == pytest.approx(step, rel=1e-9, abs=1e-15)
            assert entry["cumulative_min_energy"] <= previous["cumulative_min_energy"]
        best = min(best, entry["result"])
        assert entry["cumulative_min_energy"] == best


def test_the_schema_check_catches_departures(h2_record: dict) -> None:
    broken = copy.deepcopy(h2_record)
    del broken["vqe_result"]["nfev"]
    broken["vqe_result"]["initial_data"]["num_qubits"] = 4.0
    broken["vqe_result"]["iteration_list"][0]["result"] = True
    broken["molecule_id"] = None
    broken["surplus"] = 1
    errors = schema_errors(broken)
    assert len(errors) == 5, errors


def test_record_has_every_spec_field_with_its_type(h2_record: dict) -> None:
    assert schema_errors(h2_record) == []


def test_record_values(h2_record: dict) -> None:
    result = h2_record["vqe_result"]
    initial = result["initial_data"]
    assert h2_record["molecule"]["molecule_data"] == json.loads(MOLECULES_FILE.read_text())[H2]
    assert h2_record["basis_set"] == "sto3g" and h2_record["molecule_id"] == H2
    assert initial["num_qubits"] == 4 and initial["backend"] == "qiskit_statevector"
    assert initial["optimizer"] == "L-BFGS-B" and initial["init_strategy"] == "hf" and initial["seed"] == 3
    assert initial["ansatz_name"] == "EfficientSU2" and initial["ansatz_reps"] == 3
    assert initial["noise_backend"] == "undef" and initial["default_shots"] is None
    assert initial["exact_estimator"] is True
    assert initial["ansatz"].startswith("OPENQASM 3.0;")
    assert initial["num_parameters"] == len(initial["initial_parameters"]) == len(result["optimal_parameters"]) == 32
    labels = [term["label"] for term in initial["hamiltonian"]]
    assert len(labels) == len(set(labels)) > 1
    assert all(len(label) == 4 and set(label) <= set("IXYZ") for label in labels)
    assert result["success"] is True and result["maxcv"] is None
    assert result["nfev"] >= result["nit"] >= len(result["iteration_list"]) >= 1
    assert result["nuclear_repulsion_energy"] > 0
    # minimum is electronic: far below the total (H2's nuclear repulsion is ~0.71 Ha).
    assert result["minimum"] < -1.5
    assert result["minimum"] <= result["iteration_list"][-1]["cumulative_min_energy"] + 1e-12
    for name in ("hamiltonian_time", "mapping_time", "vqe_time", "total_time"):
        assert h2_record[name] >= 0
    parts = h2_record["hamiltonian_time"] + h2_record["mapping_time"] + h2_record["vqe_time"]
    assert h2_record["total_time"] >= parts - 1e-3
    assert 0 < result["minimization_time"] <= h2_record["vqe_time"]
    for name in ("performance_start", "performance_end"):
        assert isinstance(json.loads(h2_record[name]), dict)


def test_trajectory_numbering_deltas_and_running_minimum(h2_record: dict) -> None:
    result = h2_record["vqe_result"]
    assert_trajectory(result["iteration_list"], result["initial_data"]["num_parameters"])


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_writes_a_valid_record(run_record, optimizer: str) -> None:
    # A cap keeps the slow derivative-free methods short; TNC's cap counts evaluations (SciPy
    # has no iteration cap for it), so it runs uncapped to record some iterations.
    extra = () if optimizer == "TNC" else ("--max-iterations", "40")
    record = run_record(optimizer=optimizer, extra=extra)
    assert schema_errors(record) == []
    result = record["vqe_result"]
    assert result["initial_data"]["optimizer"] == optimizer
    assert result["iteration_list"], "no iteration recorded"
    assert_trajectory(result["iteration_list"], result["initial_data"]["num_parameters"])
    assert math.isfinite(result["minimum"])
    # Only COBYLA reports a constraint violation; the others have none to report.
    assert (result["maxcv"] is not None) == (optimizer == "COBYLA")


@pytest.mark.parametrize("init_strategy", ["random", "hf"])
def test_same_seed_same_record_apart_from_timings(run_record, init_strategy: str) -> None:
    arguments = dict(
        molecule_index=HEH_PLUS,
        optimizer="COBYLA",
        init_strategy=init_strategy,
        seed=11,
        extra=("--max-iterations", "60"),
    )
    first, second = run_record(**arguments), run_record(**arguments)
    assert without_measurements(first) == without_measurements(second)
    other = run_record(**{**arguments, "seed": 12})
    assert (
        other["vqe_result"]["initial_data"]["initial_parameters"]
        != first["vqe_result"]["initial_data"]["initial_parameters"]
    )


def test_absent_seed_is_recorded_as_null(run_record) -> None:
    record = run_record(seed=None, optimizer="COBYLA", extra=("--max-iterations", "60"))
    assert record["vqe_result"]["initial_data"]["seed"] is None
    assert schema_errors(record) == []


@pytest.mark.parametrize("ansatz", ["RealAmplitudes", "ExcitationPreserving"])
def test_other_ansatze_by_name(run_record, ansatz: str) -> None:
    record = run_record(ansatz=ansatz, optimizer="COBYLA", extra=("--max-iterations", "40"))
    initial = record["vqe_result"]["initial_data"]
    assert schema_errors(record) == []
    assert initial["ansatz_name"] == ansatz and initial["ansatz"].startswith("OPENQASM 3.0;")
    assert initial["num_parameters"] == len(initial["initial_parameters"]) > 0
