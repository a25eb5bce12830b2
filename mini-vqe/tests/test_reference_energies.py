"""The physics gate's reference table (spark-jobs/quantum_pipeline/reference_energies.py) is what
PySCF computes today. It is checked here because PySCF lives in this venv, not in the Spark jobs'."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from helpers import MOLECULES_FILE

TOOL = Path(__file__).resolve().parents[2] / "spark-jobs" / "tools" / "reference_energies.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("reference_energies_tool", TOOL)
    assert spec is not None and spec.loader is not None, TOOL
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checked_in_table_is_what_pyscf_computes_now(tool) -> None:
    # Prepare
    checked_in = tool.load_table()

    # Act
    recomputed = tool.compute()

    # Assess
    assert tool.differences(recomputed, checked_in) == []
    assert {e["key"] for e in checked_in} == {e["key"] for e in recomputed}


def test_every_molecule_of_the_cpu_lane_has_a_reference_in_every_tier_basis(tool) -> None:
    # Prepare
    molecules = json.loads(MOLECULES_FILE.read_text(encoding="utf-8"))

    # Act
    keys = {e["key"] for e in tool.load_table()}

    # Assess
    for m in molecules:
        for basis in tool.BASES:
            key = tool.reference_key(m["symbols"], m["coords"], m["units"], m["charge"], m["multiplicity"], basis)
            assert key in keys


def test_a_changed_energy_is_reported_by_key_and_field(tool) -> None:
    # Prepare
    table = tool.load_table()
    tampered = [dict(table[0], fci_electronic_energy=table[0]["fci_electronic_energy"] - 1e-6), *table[1:]]

    # Act
    problems = tool.differences(table, tampered)

    # Assess
    assert len(problems) == 1
    assert problems[0].startswith(f"{table[0]['key']}: fci_electronic_energy")


def test_the_electronic_energy_is_the_total_minus_the_nuclear_repulsion(tool) -> None:
    # Prepare / Act
    table = tool.load_table()

    # Assess
    for e in table:
        expected = e["fci_total_energy"] - e["nuclear_repulsion_energy"]
        assert e["fci_electronic_energy"] == pytest.approx(expected, abs=1e-12)
