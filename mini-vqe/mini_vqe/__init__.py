"""mini-VQE: a small, real VQE simulator for local runs of the cpu lane (H2, HeH+).

PySCF integrals, qiskit-nature's Jordan-Wigner mapping, qiskit circuit-library ansatze with exact
statevector energies, SciPy optimizers; writes SPEC section 1 records.
"""
