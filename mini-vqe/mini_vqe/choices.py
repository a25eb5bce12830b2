"""The names the command line accepts (SPEC section 5), kept free of heavy imports so that
argument errors are reported before qiskit and PySCF load."""

from __future__ import annotations

OPTIMIZERS = ("L-BFGS-B", "COBYLA", "SLSQP", "Nelder-Mead", "Powell", "BFGS", "CG", "TNC")
INIT_STRATEGIES = ("random", "hf")
ANSATZ_NAMES = ("EfficientSU2", "RealAmplitudes", "ExcitationPreserving")
SIMULATION_METHODS = ("statevector",)
# qiskit's own default depth for its circuit library. Measured with EfficientSU2 and L-BFGS-B,
# seeds 1-8: at 1 repetition many Hartree-Fock starts stall above FCI (H2 2 of 8, HeH+ 6 of 8,
# by 10-20 mHa); at 2 and at 3 every random and HF start ends within 0.06 mHa of FCI.
DEFAULT_REPS = 3
