"""`python -m mini_vqe`: the simulation image's command line (SPEC section 5) plus output targets.

Argument errors exit with status 2 and a message naming the argument and the value, as argparse
does for its own checks; a failure while running exits with 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .choices import ANSATZ_NAMES, DEFAULT_REPS, INIT_STRATEGIES, OPTIMIZERS, SIMULATION_METHODS
from .molecules import Molecule, MoleculeFileError, load_molecules
from .output import DEFAULT_S3_TARGET, S3Target, object_name, parse_s3_target

log = logging.getLogger("mini_vqe")

DEFAULT_THRESHOLD = 1e-6  # SPEC section 5: every batch run converges to 1e-6
MAX_SEED = 2**63 - 1  # the record's seed is a long in the feature tables


@dataclass(frozen=True)
class RunArguments:
    molecules_file: Path
    molecule_index: int
    molecule: Molecule
    basis: str
    optimizer: str
    init_strategy: str
    seed: int | None
    ansatz: str
    ansatz_reps: int
    simulation_method: str
    convergence: bool
    threshold: float
    threshold_given: bool
    max_iterations: int | None
    output_dir: Path | None
    output_s3: S3Target | None
    counter: int
    log_level: str

    @property
    def tolerance(self) -> float | None:
        """SciPy's `tol`: the threshold when convergence checking is on, else SciPy's defaults."""
        return self.threshold if self.convergence else None


def _int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise argparse.ArgumentTypeError(f"expected an integer {bounds}, got {text!r}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def _s3_target(text: str) -> S3Target:
    try:
        return parse_s3_target(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error}, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mini_vqe",
        description="Small exact-statevector VQE producing SPEC section 1 records (cpu lane: H2, HeH+).",
    )
    run = parser.add_argument_group("simulation (the simulation image's arguments)")
    run.add_argument("--file", required=True, type=Path, help="molecules JSON file (array of molecule_data)")
    run.add_argument("--molecule-index", type=_int_at_least(0), default=0, help="index in --file (default 0)")
    run.add_argument("--basis", default="sto3g", help="basis set as PySCF names it (default sto3g)")
    run.add_argument("--optimizer", choices=OPTIMIZERS, default="L-BFGS-B")
    run.add_argument("--init-strategy", choices=INIT_STRATEGIES, default="random")
    run.add_argument(
        "--seed",
        type=_int_at_least(0, MAX_SEED),
        default=None,
        help="seed of the initial parameters (default: unseeded, recorded as null)",
    )
    run.add_argument("--ansatz", choices=ANSATZ_NAMES, default="EfficientSU2")
    run.add_argument(
        "--ansatz-reps",
        type=_int_at_least(1),
        default=DEFAULT_REPS,
        help=f"repetitions of the ansatz layers (default {DEFAULT_REPS})",
    )
    run.add_argument("--simulation-method", choices=SIMULATION_METHODS, default="statevector")
    run.add_argument("--convergence", action="store_true", help="stop on --threshold (SciPy's tol)")
    run.add_argument(
        "--threshold", type=_positive_float, default=None, help=f"convergence tolerance (default {DEFAULT_THRESHOLD:g})"
    )
    run.add_argument("--max-iterations", type=_int_at_least(1), default=None, help="SciPy's maxiter (TNC: maxfun)")
    run.add_argument("--gpu", action="store_true", help=argparse.SUPPRESS)
    run.add_argument("--kafka", action="store_true", help=argparse.SUPPRESS)
    out = parser.add_argument_group("output (stdout when neither is given)")
    out.add_argument("--output-dir", type=Path, default=None, help="write <counter>-<unix_nanos>.json here")
    out.add_argument(
        "--output",
        type=_s3_target,
        nargs="?",
        const=parse_s3_target(DEFAULT_S3_TARGET),
        default=None,
        metavar="S3_URI",
        help=f"upload to s3://bucket/prefix/ (no value: {DEFAULT_S3_TARGET}); endpoint and "
        "credentials from QP_S3_ENDPOINT, QP_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
    )
    out.add_argument("--counter", type=_int_at_least(0), default=0, help="<counter> of the file name (default 0)")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), default="INFO")
    return parser


def _molecule(parser: argparse.ArgumentParser, path: Path, index: int) -> Molecule:
    try:
        molecules = load_molecules(path)
    except MoleculeFileError as error:
        parser.error(f"argument --file: {error}")
    if index >= len(molecules):
        parser.error(
            f"argument --molecule-index: {index} is out of range ({path} holds {len(molecules)} "
            f"molecule(s), indices 0-{len(molecules) - 1})"
        )
    return molecules[index]


def _check_basis(parser: argparse.ArgumentParser, basis: str, molecule: Molecule) -> None:
    from .chemistry import basis_error  # loads PySCF: only once the cheap checks passed

    problem = basis_error(basis, molecule.symbols)
    if problem is not None:
        parser.error(f"argument --basis: {basis!r}: {problem}")


def parse_arguments(argv: Sequence[str] | None = None) -> RunArguments:
    parser = build_parser()
    ns = parser.parse_args(argv)
    # The image's flags for other lanes: refuse them rather than silently simulating otherwise.
    if ns.gpu:
        parser.error("argument --gpu: mini-vqe simulates on the CPU only (the gpu lanes need the GPU image)")
    if ns.kafka:
        parser.error("argument --kafka: mini-vqe does not publish to Kafka; use --output-dir or --output")
    molecule = _molecule(parser, ns.file, ns.molecule_index)
    _check_basis(parser, ns.basis, molecule)
    return RunArguments(
        molecules_file=ns.file,
        molecule_index=ns.molecule_index,
        molecule=molecule,
        basis=ns.basis,
        optimizer=ns.optimizer,
        init_strategy=ns.init_strategy,
        seed=ns.seed,
        ansatz=ns.ansatz,
        ansatz_reps=ns.ansatz_reps,
        simulation_method=ns.simulation_method,
        convergence=ns.convergence,
        threshold=DEFAULT_THRESHOLD if ns.threshold is None else ns.threshold,
        threshold_given=ns.threshold is not None,
        max_iterations=ns.max_iterations,
        output_dir=ns.output_dir,
        output_s3=ns.output,
        counter=ns.counter,
        log_level=ns.log_level,
    )


def _deliver(args: RunArguments, body: str) -> None:
    from .output import s3_client, upload_to_s3, write_to_dir

    if args.output_dir is None and args.output_s3 is None:
        sys.stdout.write(body + "\n")
        return
    # One name for both targets, so the folder copy and the object can be matched.
    name = object_name(args.counter, time.time_ns())
    if args.output_dir is not None:
        write_to_dir(args.output_dir, name, body)
    if args.output_s3 is not None:
        upload_to_s3(s3_client(), args.output_s3, name, body)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    # The libraries log their internals at INFO (PySCF's dipole moments, ...): only warnings
    # from them, our own messages at the chosen level.
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="[mini-vqe] %(asctime)s %(levelname)s %(message)s"
    )
    log.setLevel(args.log_level)
    if args.threshold_given and not args.convergence:
        log.warning("--threshold is used only with --convergence; SciPy's default tolerances apply")
    from .record import RunSettings, to_json
    from .runner import run_vqe

    settings = RunSettings(
        molecule_index=args.molecule_index,
        basis=args.basis,
        optimizer=args.optimizer,
        init_strategy=args.init_strategy,
        seed=args.seed,
        ansatz_name=args.ansatz,
        ansatz_reps=args.ansatz_reps,
    )
    try:
        record = run_vqe(args.molecule, settings, args.tolerance, args.max_iterations)
        _deliver(args, to_json(record))
    except Exception:
        log.exception("run failed")
        return 1
    return 0
