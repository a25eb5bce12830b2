"""Realistic synthetic VQE result records (SPEC section 1) for tests and benchmarks.

Shapes follow the batch tiers: the molecules of the three lanes with their qubit counts, the
eight optimizers, EfficientSU2-sized parameter vectors, and energy trajectories whose deltas,
running minimum and parameter step norms are consistent with each other. Deterministic per seed.
It is test data, not chemistry: the mini-VQE of the batch-generation work produces real energies.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator

# (symbols, qubits in sto-3g, charge, reference energy in Hartree)
MOLECULES = {
    "H2": (["H", "H"], 4, 0, -1.137),
    "HeH+": (["He", "H"], 4, 1, -2.862),
    "LiH": (["Li", "H"], 8, 0, -7.882),
    "BeH2": (["Be", "H", "H"], 12, 0, -15.56),
    "N2": (["N", "N"], 10, 0, -107.5),
    "H2O": (["O", "H", "H"], 14, 0, -75.01),
    "NH3": (["N", "H", "H", "H"], 16, 0, -55.45),
    "CO2": (["C", "O", "O"], 18, 0, -185.1),
}
OPTIMIZERS = ["L-BFGS-B", "COBYLA", "SLSQP", "Nelder-Mead", "Powell", "BFGS", "CG", "TNC"]
MASSES = {"H": 1.008, "He": 4.0026, "Li": 6.94, "Be": 9.0122, "C": 12.011, "N": 14.007, "O": 15.999}


def _qasm(num_qubits: int, reps: int) -> str:
    lines = [
        "OPENQASM 3.0;",
        'include "stdgates.inc";',
        f"input float[64] _theta[{2 * num_qubits * (reps + 1)}];",
        f"qubit[{num_qubits}] q;",
    ]
    index = 0
    for _ in range(reps + 1):
        for q in range(num_qubits):
            lines.append(f"ry(_theta[{index}]) q[{q}];")
            lines.append(f"rz(_theta[{index + 1}]) q[{q}];")
            index += 2
        lines.extend(f"cx q[{q}], q[{q + 1}];" for q in range(num_qubits - 1))
    return "\n".join(lines)


def make_record(
    index: int, seed: int = 7, molecule: str | None = None, iterations: int | None = None, basis_set: str = "sto3g"
) -> dict:
    rng = random.Random(seed * 1_000_003 + index)
    name = molecule or list(MOLECULES)[index % len(MOLECULES)]
    symbols, qubits, charge, reference = MOLECULES[name]
    reps = 1 if qubits > 12 else 2
    n_params = 2 * qubits * (reps + 1)
    n_iter = iterations if iterations is not None else rng.randint(20, 120)
    optimizer = OPTIMIZERS[index % len(OPTIMIZERS)]
    initial = [rng.uniform(-math.pi, math.pi) for _ in range(n_params)]

    params, energies, iteration_list = list(initial), [], []
    best = math.inf
    start_energy = reference + rng.uniform(0.3, 1.5)
    previous_params = None
    for step in range(1, n_iter + 1):
        params = [p + rng.gauss(0, 0.05) for p in params]
        energy = reference + (start_energy - reference) * math.exp(-step / (n_iter / 4 + 1)) + rng.gauss(0, 0.002)
        best = min(best, energy)
        delta_norm = (
            math.sqrt(sum((a - b) ** 2 for a, b in zip(params, previous_params, strict=True)))
            if previous_params is not None
            else None
        )
        iteration_list.append(
            {
                "iteration": step,
                "parameters": params,
                "result": energy,
                "std": abs(rng.gauss(0, 0.001)),
                "energy_delta": energy - energies[-1] if energies else None,
                "parameter_delta_norm": delta_norm,
                "cumulative_min_energy": best,
            }
        )
        energies.append(energy)
        previous_params = params

    bond = rng.uniform(0.7, 1.6)
    coords = [[0.0, 0.0, i * bond] for i in range(len(symbols))]
    labels = {"".join(rng.choice("IXYZ") for _ in range(qubits)) for _ in range(min(4**qubits, 6 * qubits))}
    vqe_time = rng.uniform(5, 500)
    return {
        "vqe_result": {
            "initial_data": {
                "backend": "aer_simulator_statevector_gpu" if qubits > 8 else "aer_simulator_statevector",
                "num_qubits": qubits,
                "hamiltonian": [
                    {"label": lab, "coefficients": {"real": rng.uniform(-1, 1), "imaginary": 0.0}}
                    for lab in sorted(labels)
                ],
                "num_parameters": n_params,
                "initial_parameters": initial,
                "optimizer": optimizer,
                "ansatz": _qasm(qubits, reps),
                "noise_backend": "undef",
                "default_shots": 1024,
                "ansatz_reps": reps,
                "init_strategy": "hf" if index % 2 else "random",
                "seed": 1 + index % 25,
                "ansatz_name": "EfficientSU2",
                "exact_estimator": False,
            },
            "iteration_list": iteration_list,
            "minimum": best if iteration_list else start_energy,
            "optimal_parameters": params,
            "maxcv": None,
            "minimization_time": vqe_time * 0.9,
            "nuclear_repulsion_energy": rng.uniform(0.5, 60),
            "success": rng.random() > 0.2,
            "nfev": n_iter,
            "nit": max(1, n_iter // 2),
        },
        "molecule": {
            "molecule_data": {
                "symbols": symbols,
                "coords": coords,
                "multiplicity": 1,
                "charge": charge,
                "units": "angstrom",
                "masses": [MASSES[s] for s in symbols],
            }
        },
        "basis_set": basis_set,
        "hamiltonian_time": rng.uniform(0.1, 5),
        "mapping_time": rng.uniform(0.01, 1),
        "vqe_time": vqe_time,
        "total_time": vqe_time + 6,
        "molecule_id": list(MOLECULES).index(name),
        "performance_start": None,
        "performance_end": None,
    }


def object_key(index: int, topic: str = "experiment.vqe") -> str:
    return f"experiments/{topic}/{index:06d}-{1_700_000_000_000_000_000 + index}.json"


def records(count: int, seed: int = 7, start: int = 0) -> Iterator[tuple[str, bytes]]:
    for i in range(start, start + count):
        yield object_key(i), json.dumps(make_record(i, seed)).encode()
