"""The names the command line accepts (SPEC section 5), kept free of heavy imports so that
argument errors are reported before qiskit and PySCF load."""
from __future__ import annotations

OPTIMIZERS = ("L-BFGS-B", "COBYLA", "SLSQP", "Nelder-Mead", "Powell", "BFGS", "CG", "TNC")
INIT_STRATEGIES = ("random", "hf")
ANSATZ_NAMES = ("EfficientSU2", "RealAmplitudes", "ExcitationPreserving")
SIMULATION_METHODS = ("statevector",)
# qiskit's own default depth. Measured on H2/sto3g with L-BFGS-B: at 2 repetitions every
# Hartree-Fock start and most random starts stall at the HF energy (20.6 mHa above FCI); at 3
# all HF starts and most random ones reach FCI.
DEFAULT_REPS = 3
