"""Physics: the energies are those of the molecule, checked against PySCF's own FCI and HF."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.sparse.linalg import eigsh

from helpers import H2, HEH_PLUS, MOLECULES_FILE
from mini_vqe.ansatz import build_ansatz, hf_parameters
from mini_vqe.chemistry import QubitHamiltonian, qubit_hamiltonian
from mini_vqe.choices import ANSATZ_NAMES
from mini_vqe.molecules import load_molecules
from mini_vqe.optimize import energy_function

CHEMICAL_ACCURACY_HA = 1.6e-3
MOLECULES = load_molecules(MOLECULES_FILE)


@pytest.fixture(scope="module")
def hamiltonians() -> dict[int, QubitHamiltonian]:
    return {index: qubit_hamiltonian(MOLECULES[index], "sto3g") for index in (H2, HEH_PLUS)}


def total_energy(record: dict) -> float:
    result = record["vqe_result"]
    return result["minimum"] + result["nuclear_repulsion_energy"]


def test_h2_reaches_chemical_accuracy(run_record, fci_total_energy) -> None:
    fci = fci_total_energy(H2)
    runs = {
        f"{init} seed {seed}": total_energy(
            run_record(molecule_index=H2, optimizer="L-BFGS-B", init_strategy=init, seed=seed)
        )
        for init, seed in (("hf", 1), ("random", 1), ("random", 2), ("random", 3))
    }
    gaps_mha = {name: (energy - fci) * 1000 for name, energy in runs.items()}
    print(
        f"H2/sto3g 0.7414 A: FCI {fci:.10f} Ha; VQE gaps (mHa): "
        + ", ".join(f"{name} {gap:.4f}" for name, gap in gaps_mha.items())
    )
    assert all(gap > -1e-3 for gap in gaps_mha.values()), gaps_mha  # variational: never below FCI
    assert min(gaps_mha.values()) < CHEMICAL_ACCURACY_HA * 1000, gaps_mha


def test_heh_plus_gives_a_finite_energy_above_fci(run_record, fci_total_energy) -> None:
    record = run_record(molecule_index=HEH_PLUS, optimizer="L-BFGS-B", init_strategy="hf", seed=1)
    energy, fci = total_energy(record), fci_total_energy(HEH_PLUS)
    print(f"HeH+/sto3g: FCI {fci:.10f} Ha, VQE {energy:.10f} Ha, gap {(energy - fci) * 1000:.4f} mHa")
    assert math.isfinite(energy)
    assert energy >= fci - 1e-6
    assert record["molecule"]["molecule_data"]["charge"] == 1


@pytest.mark.parametrize("index", [H2, HEH_PLUS])
def test_hamiltonian_spectrum_in_the_electron_sector_is_fci(hamiltonians, fci_total_energy, index: int) -> None:
    hamiltonian = hamiltonians[index]
    matrix = hamiltonian.operator.to_matrix()
    assert np.allclose(matrix, matrix.conj().T)
    sector = np.flatnonzero(hamiltonian.sector)
    lowest_in_sector = np.linalg.eigvalsh(matrix[np.ix_(sector, sector)])[0]
    assert lowest_in_sector + hamiltonian.nuclear_repulsion_energy == pytest.approx(fci_total_energy(index), abs=1e-8)


def test_the_cation_fock_space_holds_lower_states_than_its_sector(hamiltonians, fci_total_energy) -> None:
    # Why energies are taken in the electron sector: without it a hardware-efficient ansatz
    # finds HeH (one electron more) and reports an energy far below the cation's FCI.
    hamiltonian = hamiltonians[HEH_PLUS]
    lowest = eigsh(hamiltonian.operator.to_matrix(sparse=True).astype(complex), k=1, which="SA")[0][0]
    assert lowest + hamiltonian.nuclear_repulsion_energy < fci_total_energy(HEH_PLUS) - 0.1


@pytest.mark.parametrize("ansatz", ANSATZ_NAMES)
@pytest.mark.parametrize("index", [H2, HEH_PLUS])
def test_hf_parameters_prepare_the_hartree_fock_state(hamiltonians, ansatz: str, index: int) -> None:
    hamiltonian = hamiltonians[index]
    circuit = build_ansatz(ansatz, hamiltonian.hf_occupation, reps=2)
    energy = energy_function(circuit, hamiltonian.operator, hamiltonian.sector)
    parameters = hf_parameters(circuit, ansatz, hamiltonian.hf_occupation)
    total = energy(parameters) + hamiltonian.nuclear_repulsion_energy
    assert total == pytest.approx(hamiltonian.hf_total_energy, abs=1e-9)


def test_nuclear_repulsion_is_pyscfs(hamiltonians) -> None:
    from pyscf import gto

    from mini_vqe.chemistry import pyscf_atom, pyscf_unit

    for index, hamiltonian in hamiltonians.items():
        molecule = MOLECULES[index]
        mol = gto.M(
            atom=pyscf_atom(molecule),
            unit=pyscf_unit(molecule),
            basis="sto3g",
            charge=molecule.charge,
            spin=molecule.spin,
            verbose=0,
        )
        assert hamiltonian.nuclear_repulsion_energy == pytest.approx(mol.energy_nuc(), abs=1e-12)
