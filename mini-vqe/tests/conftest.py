"""Fixtures: runs through the real command line, and FCI
references from PySCF (the library the Hamiltonian comes from)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import MOLECULES_FILE, cli_arguments


@pytest.fixture
def run_record(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Runs `main` in-process with --output-dir and returns the one record it wrote, parsed."""
    from mini_vqe.cli import main

    counter = iter(range(1_000_000))

    def run(**kwargs: Any) -> dict[str, Any]:
        out = tmp_path / f"run-{next(counter)}"
        assert main([*cli_arguments(**kwargs), "--output-dir", str(out)]) == 0
        files = sorted(out.glob("*.json"))
        assert len(files) == 1, files
        return json.loads(files[0].read_text(encoding="utf-8"))

    return run


@pytest.fixture(scope="session")
def fci_total_energy() -> Callable[[int], float]:
    """FCI total energy (nuclear repulsion included) of a molecule of the file, in sto3g."""
    from pyscf import fci, gto, scf

    from mini_vqe.chemistry import pyscf_atom, pyscf_unit
    from mini_vqe.molecules import load_molecules

    molecules = load_molecules(MOLECULES_FILE)
    cache: dict[int, float] = {}

    def energy(index: int) -> float:
        if index not in cache:
            m = molecules[index]
            mol = gto.M(atom=pyscf_atom(m), unit=pyscf_unit(m), basis="sto3g", charge=m.charge, spin=m.spin, verbose=0)
            mean_field = scf.RHF(mol).run()
            cache[index] = float(fci.FCI(mean_field).kernel()[0])
        return cache[index]

    return energy
