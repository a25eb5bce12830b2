"""From a molecule to its qubit Hamiltonian: PySCF integrals, qiskit-nature Jordan-Wigner mapping.

Every number comes from the libraries: the geometry from the input file, the integrals and
nuclear repulsion from PySCF, the Pauli operator from qiskit-nature's mapper.
"""
from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

from pyscf import gto
from qiskit.quantum_info import SparsePauliOp
from qiskit_nature.second_q.circuit.library.initial_states.hartree_fock import hartree_fock_bitstring_mapped
from qiskit_nature.second_q.drivers import MethodType, PySCFDriver
from qiskit_nature.second_q.mappers import JordanWignerMapper
from qiskit_nature.second_q.problems import ElectronicStructureProblem
from qiskit_nature.units import DistanceUnit

from .molecules import Molecule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QubitHamiltonian:
    operator: SparsePauliOp  # electronic part only: nuclear repulsion is carried apart
    nuclear_repulsion_energy: float
    hf_occupation: tuple[bool, ...]  # per qubit, in the operator's qubit order
    hf_total_energy: float  # PySCF's SCF energy, nuclear repulsion included
    hamiltonian_time: float
    mapping_time: float

    @property
    def num_qubits(self) -> int:
        return self.operator.num_qubits


def pyscf_atom(molecule: Molecule) -> str:
    """PySCF's atom string ("H 0 0 0; H 0 0 0.74"); the unit travels separately."""
    return "; ".join(f"{symbol} {x!r} {y!r} {z!r}" for symbol, (x, y, z) in zip(molecule.symbols, molecule.coords))


def pyscf_unit(molecule: Molecule) -> str:
    return "Bohr" if molecule.units.lower() == "bohr" else "Angstrom"


def basis_error(basis: str, symbols: tuple[str, ...]) -> str | None:
    """Why PySCF cannot use `basis` for these elements, or None when it can."""
    for symbol in sorted(set(symbols)):
        try:
            with warnings.catch_warnings():
                # PySCF suggests installing basis-set-exchange for unknown names; the error says enough.
                warnings.simplefilter("ignore")
                shells = gto.basis.load(basis, symbol)
        except Exception as error:  # PySCF raises several types (BasisNotFoundError, KeyError, ...)
            return f"unknown basis for {symbol}: {error}".strip()
        if not shells:
            return f"the basis has no functions for {symbol}"
    return None


def electronic_problem(molecule: Molecule, basis: str) -> ElectronicStructureProblem:
    unit = DistanceUnit.BOHR if molecule.units.lower() == "bohr" else DistanceUnit.ANGSTROM
    # Restricted HF for closed shells (the cpu lane); restricted open-shell keeps one set of
    # spatial orbitals, so the qubit count stays 2 x orbitals for radicals too.
    method = MethodType.RHF if molecule.spin == 0 else MethodType.ROHF
    driver = PySCFDriver(atom=pyscf_atom(molecule), unit=unit, charge=molecule.charge,
                         spin=molecule.spin, basis=basis, method=method)
    return driver.run()


def qubit_hamiltonian(molecule: Molecule, basis: str) -> QubitHamiltonian:
    started = time.perf_counter()
    problem = electronic_problem(molecule, basis)
    fermionic = problem.hamiltonian.second_q_op()
    hamiltonian_time = time.perf_counter() - started

    started = time.perf_counter()
    mapper = JordanWignerMapper()
    operator = mapper.map(fermionic)
    occupation = hartree_fock_bitstring_mapped(problem.num_spatial_orbitals, problem.num_particles, mapper)
    mapping_time = time.perf_counter() - started

    nuclear = float(problem.hamiltonian.nuclear_repulsion_energy or 0.0)
    log.info("%s in %s: %d qubits, %d Pauli terms, HF energy %.8f Ha (nuclear repulsion %.8f)",
             "".join(molecule.symbols), basis, operator.num_qubits, len(operator),
             problem.reference_energy, nuclear)
    return QubitHamiltonian(
        operator=operator,
        nuclear_repulsion_energy=nuclear,
        hf_occupation=tuple(bool(bit) for bit in occupation),
        hf_total_energy=float(problem.reference_energy),
        hamiltonian_time=hamiltonian_time,
        mapping_time=mapping_time,
    )
