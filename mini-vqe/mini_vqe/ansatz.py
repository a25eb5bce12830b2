"""Ansatz circuits (qiskit's circuit library), their starting parameters and their QASM 3 text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit.library import efficient_su2, excitation_preserving, real_amplitudes

from .choices import ANSATZ_NAMES, INIT_STRATEGIES

# For ExcitationPreserving the exact Hartree-Fock point is stationary (its parameters reach the
# determinant's doubles only at second order, and singles do not couple: Brillouin's theorem), so
# L-BFGS-B started there stops after 0 iterations. A small seeded kick, well inside the HF basin,
# lets every ansatz leave it and makes the seed matter for `hf` starts too.
HF_PERTURBATION_RAD = 0.1

_BUILDERS: dict[str, Callable[..., QuantumCircuit]] = {
    "EfficientSU2": efficient_su2,
    "RealAmplitudes": real_amplitudes,
    "ExcitationPreserving": excitation_preserving,
}


def hf_state_circuit(occupation: Sequence[bool]) -> QuantumCircuit:
    circuit = QuantumCircuit(len(occupation), name="HartreeFock")
    for qubit, occupied in enumerate(occupation):
        if occupied:
            circuit.x(qubit)
    return circuit


def build_ansatz(name: str, occupation: Sequence[bool], reps: int) -> QuantumCircuit:
    """The parametrised circuit. ExcitationPreserving keeps the number of 1s of its input, so it
    starts from the Hartree-Fock determinant; from |0...0> it could never reach the electrons'
    sector. The hardware-efficient ones start from |0...0> and roam the whole Fock space; their
    energy is taken in the electrons' sector (optimize.sector_energy)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown ansatz {name!r} (choose from {', '.join(ANSATZ_NAMES)})")
    body = _BUILDERS[name](len(occupation), reps=reps)
    if name != "ExcitationPreserving":
        return body
    circuit = hf_state_circuit(occupation)
    circuit.compose(body, inplace=True)
    circuit.name = name
    return circuit


def _last_ry_parameter_per_qubit(circuit: QuantumCircuit) -> dict[int, object]:
    last: dict[int, object] = {}
    for instruction in reversed(circuit.data):
        if instruction.operation.name != "ry":
            continue
        qubit = circuit.find_bit(instruction.qubits[0]).index
        last.setdefault(qubit, instruction.operation.params[0])
    return last


def hf_parameters(circuit: QuantumCircuit, name: str, occupation: Sequence[bool]) -> np.ndarray:
    """Parameters for which the circuit prepares exactly the Hartree-Fock determinant.

    ExcitationPreserving: all zero (the circuit is then the identity after its HF prefix).
    RY-based hardware-efficient circuits: all zero leaves |0...0> up to the last rotation layer
    (CX acts trivially on |0...0>), so RY(pi) in that layer on the occupied qubits flips exactly them.
    """
    values = np.zeros(circuit.num_parameters)
    if name == "ExcitationPreserving":
        return values
    index = {parameter: i for i, parameter in enumerate(circuit.parameters)}
    last_ry = _last_ry_parameter_per_qubit(circuit)
    for qubit, occupied in enumerate(occupation):
        if occupied:
            values[index[last_ry[qubit]]] = np.pi
    return values


def initial_parameters(
    strategy: str, circuit: QuantumCircuit, name: str, occupation: Sequence[bool], seed: int | None
) -> np.ndarray:
    """`random`: uniform angles in [-pi, pi); `hf`: the Hartree-Fock point plus a small kick.
    Both draw from one generator seeded by `seed`, so a seed fixes the whole run."""
    rng = np.random.default_rng(seed)
    if strategy == "random":
        return rng.uniform(-np.pi, np.pi, circuit.num_parameters)
    if strategy == "hf":
        kick = rng.normal(0.0, HF_PERTURBATION_RAD, circuit.num_parameters)
        return hf_parameters(circuit, name, occupation) + kick
    raise ValueError(f"unknown init strategy {strategy!r} (choose from {', '.join(INIT_STRATEGIES)})")


def ansatz_qasm(circuit: QuantumCircuit) -> str:
    """OpenQASM 3 text with the parameters left as inputs (the record's `ansatz` field)."""
    return qasm3.dumps(circuit)
