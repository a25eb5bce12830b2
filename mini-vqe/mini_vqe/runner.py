"""One VQE run, end to end: molecule -> qubit Hamiltonian -> ansatz -> minimisation -> record."""

from __future__ import annotations

import logging
import time
from typing import Any

from .ansatz import ansatz_qasm, build_ansatz, initial_parameters
from .chemistry import qubit_hamiltonian
from .molecules import Molecule
from .optimize import energy_function, minimize_energy
from .record import RunSettings, Timings, decorated_result, initial_data, system_metrics, vqe_result

log = logging.getLogger(__name__)


def run_vqe(
    molecule: Molecule, settings: RunSettings, tolerance: float | None, max_iterations: int | None
) -> dict[str, Any]:
    """The SPEC section 1 record of one run. Same arguments (seed included) -> same record,
    apart from the timings and the two system-metric snapshots."""
    performance_start = system_metrics()
    started = time.perf_counter()

    hamiltonian = qubit_hamiltonian(molecule, settings.basis)

    vqe_started = time.perf_counter()
    circuit = build_ansatz(settings.ansatz_name, hamiltonian.hf_occupation, settings.ansatz_reps)
    initial = initial_parameters(
        settings.init_strategy, circuit, settings.ansatz_name, hamiltonian.hf_occupation, settings.seed
    )
    log.info(
        "%s (reps %d, %d parameters), %s start, seed %s, %s, tolerance %s, max iterations %s",
        settings.ansatz_name,
        settings.ansatz_reps,
        circuit.num_parameters,
        settings.init_strategy,
        settings.seed,
        settings.optimizer,
        tolerance,
        max_iterations,
    )
    outcome = minimize_energy(
        energy_function(circuit, hamiltonian.operator, hamiltonian.sector),
        initial,
        settings.optimizer,
        tolerance,
        max_iterations,
    )
    initial_block = initial_data(settings, hamiltonian, ansatz_qasm(circuit), circuit.num_parameters, list(initial))
    vqe_time = time.perf_counter() - vqe_started

    total = outcome.minimum + hamiltonian.nuclear_repulsion_energy
    log.info(
        "minimum %.10f Ha electronic, %.10f Ha total (%.3f mHa below Hartree-Fock)",
        outcome.minimum,
        total,
        (hamiltonian.hf_total_energy - total) * 1000,
    )
    timings = Timings(
        hamiltonian_time=hamiltonian.hamiltonian_time,
        mapping_time=hamiltonian.mapping_time,
        vqe_time=vqe_time,
        total_time=time.perf_counter() - started,
    )
    return decorated_result(
        vqe_result(initial_block, hamiltonian, outcome),
        molecule,
        settings,
        timings,
        performance_start,
        system_metrics(),
    )
