"""The `VQEDecoratedResult` document of SPEC section 1, assembled from the run's parts."""

from __future__ import annotations

import json
import os
import resource
import time
from dataclasses import dataclass
from typing import Any

from qiskit.quantum_info import SparsePauliOp

from .chemistry import QubitHamiltonian
from .molecules import Molecule
from .optimize import OptimizationOutcome

# Names the simulator honestly: exact qiskit.quantum_info statevectors, not Aer.
BACKEND = "qiskit_statevector"
NOISE_BACKEND = "undef"


@dataclass(frozen=True)
class RunSettings:
    """What the record repeats from the command line."""

    molecule_index: int
    basis: str
    optimizer: str
    init_strategy: str
    seed: int | None
    ansatz_name: str
    ansatz_reps: int


@dataclass(frozen=True)
class Timings:
    hamiltonian_time: float
    mapping_time: float
    vqe_time: float
    total_time: float


def hamiltonian_terms(operator: SparsePauliOp) -> list[dict[str, Any]]:
    """Pauli strings in qiskit's order (rightmost character = qubit 0) with their coefficients."""
    return [
        {"label": label, "coefficients": {"real": float(coefficient.real), "imaginary": float(coefficient.imag)}}
        for label, coefficient in zip(operator.paulis.to_labels(), operator.coeffs, strict=True)
    ]


def system_metrics() -> str:
    """A snapshot of this process and machine, as the JSON text `performance_start/end` hold."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return json.dumps(
        {
            "timestamp_unix_s": time.time(),
            "cpu_count": os.cpu_count(),
            "load_average": list(load) if load is not None else None,
            "process_cpu_user_s": usage.ru_utime,
            "process_cpu_system_s": usage.ru_stime,
            "process_max_rss_kib": usage.ru_maxrss,  # Linux reports KiB
        },
        sort_keys=True,
    )


def initial_data(
    settings: RunSettings, hamiltonian: QubitHamiltonian, qasm: str, num_parameters: int, initial: list[float]
) -> dict[str, Any]:
    return {
        "backend": BACKEND,
        "num_qubits": hamiltonian.num_qubits,
        "hamiltonian": hamiltonian_terms(hamiltonian.operator),
        "num_parameters": num_parameters,
        "initial_parameters": [float(v) for v in initial],
        "optimizer": settings.optimizer,
        "ansatz": qasm,
        "noise_backend": NOISE_BACKEND,
        "default_shots": None,  # exact expectation values: no shots are drawn
        "ansatz_reps": settings.ansatz_reps,
        "init_strategy": settings.init_strategy,
        "seed": settings.seed,
        "ansatz_name": settings.ansatz_name,
        "exact_estimator": True,
    }


def vqe_result(initial: dict[str, Any], hamiltonian: QubitHamiltonian, outcome: OptimizationOutcome) -> dict[str, Any]:
    return {
        "initial_data": initial,
        "iteration_list": outcome.iterations,
        "minimum": outcome.minimum,  # electronic energy; add nuclear_repulsion_energy for the total
        "optimal_parameters": outcome.optimal_parameters,
        "maxcv": outcome.maxcv,
        "minimization_time": outcome.minimization_time,
        "nuclear_repulsion_energy": hamiltonian.nuclear_repulsion_energy,
        "success": outcome.success,
        "nfev": outcome.nfev,
        "nit": outcome.nit,
    }


def decorated_result(
    result: dict[str, Any],
    molecule: Molecule,
    settings: RunSettings,
    timings: Timings,
    performance_start: str | None,
    performance_end: str | None,
) -> dict[str, Any]:
    return {
        "vqe_result": result,
        "molecule": {"molecule_data": molecule.to_record()},
        "basis_set": settings.basis,
        "hamiltonian_time": timings.hamiltonian_time,
        "mapping_time": timings.mapping_time,
        "vqe_time": timings.vqe_time,
        "total_time": timings.total_time,
        "molecule_id": settings.molecule_index,
        "performance_start": performance_start,
        "performance_end": performance_end,
    }


def to_json(record: dict[str, Any]) -> str:
    # NaN and Infinity are not JSON: a run that produced them must fail, not emit a file the
    # pipeline would quarantine.
    return json.dumps(record, allow_nan=False)
