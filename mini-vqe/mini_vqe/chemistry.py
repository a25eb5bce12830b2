"""From a molecule to its qubit Hamiltonian: PySCF integrals, qiskit-nature Jordan-Wigner mapping.

Every number comes from the libraries: the geometry from the input file, the integrals and
nuclear repulsion from PySCF, the Pauli operators from qiskit-nature's mapper.

The Jordan-Wigner operator acts on the whole Fock space: its 2^n basis states hold every electron
count. A hardware-efficient ansatz does not conserve that count, and for a cation the state with
one electron more is lower (HeH+/sto3g: the 3-electron state lies 162 mHa below the 2-electron
FCI energy). So the energies are taken in the molecule's sector (its alpha and beta electron
counts), found here from the mapped number and magnetization operators.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np
from pyscf import gto
from qiskit.quantum_info import SparsePauliOp
from qiskit_nature.second_q.circuit.library.initial_states.hartree_fock import hartree_fock_bitstring_mapped
from qiskit_nature.second_q.drivers import MethodType, PySCFDriver
from qiskit_nature.second_q.mappers import JordanWignerMapper, QubitMapper
from qiskit_nature.second_q.problems import ElectronicStructureProblem
from qiskit_nature.second_q.properties import Magnetization, ParticleNumber
from qiskit_nature.units import DistanceUnit

from .molecules import Molecule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QubitHamiltonian:
    operator: SparsePauliOp  # electronic part only: nuclear repulsion is carried apart
    nuclear_repulsion_energy: float
    hf_occupation: tuple[bool, ...]  # per qubit, in the operator's qubit order
    sector: np.ndarray  # bool per computational basis state: has the molecule's electron counts
    hf_total_energy: float  # PySCF's SCF energy, nuclear repulsion included
    hamiltonian_time: float
    mapping_time: float

    @property
    def num_qubits(self) -> int:
        return self.operator.num_qubits


def pyscf_atom(molecule: Molecule) -> str:
    """PySCF's atom string ("H 0 0 0; H 0 0 0.74"); the unit travels separately."""
    atoms = zip(molecule.symbols, molecule.coords, strict=True)
    return "; ".join(f"{symbol} {x!r} {y!r} {z!r}" for symbol, (x, y, z) in atoms)


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
        except Exception as error:  # noqa: BLE001 - PySCF raises several types (BasisNotFoundError, KeyError, ...)
            return f"unknown basis for {symbol}: {error}".strip()
        if not shells:
            return f"the basis has no functions for {symbol}"
    return None


def _diagonal(operator: SparsePauliOp) -> np.ndarray:
    # Under Jordan-Wigner, number-like operators are sums of I and Z: diagonal in the
    # computational basis, so one value per basis state says everything.
    if np.any(operator.paulis.x):
        raise ValueError("expected an operator diagonal in the computational basis")
    return np.real(operator.to_matrix(sparse=True).diagonal())


def _sizes(problem: ElectronicStructureProblem) -> tuple[int, tuple[int, int]]:
    """Spatial orbitals and (alpha, beta) electrons; a driver run always sets both."""
    orbitals, particles = problem.num_spatial_orbitals, problem.num_particles
    if orbitals is None or particles is None:
        raise ValueError("the electronic structure problem has no orbital or electron counts")
    return orbitals, particles


def electron_sector(problem: ElectronicStructureProblem, mapper: QubitMapper) -> np.ndarray:
    """Which computational basis states hold the molecule's alpha and beta electron counts."""
    orbitals, (n_alpha, n_beta) = _sizes(problem)
    number = mapper.map(ParticleNumber(orbitals).second_q_ops()["ParticleNumber"])
    magnetization = mapper.map(Magnetization(orbitals).second_q_ops()["Magnetization"])
    return np.isclose(_diagonal(number), n_alpha + n_beta) & np.isclose(
        _diagonal(magnetization), (n_alpha - n_beta) / 2
    )


def electronic_problem(molecule: Molecule, basis: str) -> ElectronicStructureProblem:
    unit = DistanceUnit.BOHR if molecule.units.lower() == "bohr" else DistanceUnit.ANGSTROM
    # Restricted HF for closed shells (the cpu lane); restricted open-shell keeps one set of
    # spatial orbitals, so the qubit count stays 2 x orbitals for radicals too.
    method = MethodType.RHF if molecule.spin == 0 else MethodType.ROHF
    driver = PySCFDriver(
        atom=pyscf_atom(molecule), unit=unit, charge=molecule.charge, spin=molecule.spin, basis=basis, method=method
    )
    return driver.run()


def qubit_hamiltonian(molecule: Molecule, basis: str) -> QubitHamiltonian:
    started = time.perf_counter()
    problem = electronic_problem(molecule, basis)
    fermionic = problem.hamiltonian.second_q_op()
    hamiltonian_time = time.perf_counter() - started

    started = time.perf_counter()
    mapper = JordanWignerMapper()
    operator = mapper.map(fermionic)
    occupation = hartree_fock_bitstring_mapped(*_sizes(problem), mapper)
    sector = electron_sector(problem, mapper)
    mapping_time = time.perf_counter() - started

    # None only for a single atom, whose nuclear repulsion is 0.
    nuclear = float(problem.hamiltonian.nuclear_repulsion_energy or 0.0)
    if problem.reference_energy is None:
        raise ValueError("the driver returned no Hartree-Fock energy")
    hf_total_energy = float(problem.reference_energy)
    log.info(
        "%s (charge %+d) in %s: %d qubits, %d Pauli terms, %d of %d basis states in its electron "
        "sector, HF energy %.8f Ha (nuclear repulsion %.8f)",
        "".join(molecule.symbols),
        molecule.charge,
        basis,
        operator.num_qubits,
        len(operator),
        int(sector.sum()),
        sector.size,
        hf_total_energy,
        nuclear,
    )
    return QubitHamiltonian(
        operator=operator,
        nuclear_repulsion_energy=nuclear,
        hf_occupation=tuple(bool(bit) for bit in occupation),
        sector=sector,
        hf_total_energy=hf_total_energy,
        hamiltonian_time=hamiltonian_time,
        mapping_time=mapping_time,
    )
