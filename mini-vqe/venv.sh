# mini-VQE (mini-vqe), the small real VQE simulator of the cpu lane. Sourced after
# common.sh, never executed. It gets a venv of its own: its chemistry stack (PySCF, qiskit,
# qiskit-nature) is large and has nothing to do with the data plane's pyspark venv.

QP_MINI_VQE_DIR="$QP_REPO_DIR/mini-vqe"

# A venv per content of its requirement files (see qp_requirements_hash in common.sh).
QP_MINI_VQE_VENV_DIR="${QP_MINI_VQE_VENV_DIR:-$QP_CACHE_DIR/mini-vqe-venv-$(qp_requirements_hash "$QP_MINI_VQE_DIR/requirements.txt" "$QP_MINI_VQE_DIR/requirements-dev.txt")}"
QP_MINI_VQE_PYTHON="$QP_MINI_VQE_VENV_DIR/bin/python"
# The interpreter the venv is made from: the pins are chosen for CPython 3.11 wheels.
QP_MINI_VQE_BASE_PYTHON="${QP_MINI_VQE_BASE_PYTHON:-python3.11}"

# Idempotent: the marker is written only after pip succeeded, so an interrupted install is
# redone from scratch next time. A lock keeps two runners from building the same venv at once.
qp_install_mini_vqe() {
  local marker="$QP_MINI_VQE_VENV_DIR/.installed" log="$QP_LOG_DIR/install-mini-vqe.log"
  export QP_MINI_VQE_PYTHON
  [ -f "$marker" ] && return 0
  command -v "$QP_MINI_VQE_BASE_PYTHON" >/dev/null \
    || qp_die "$QP_MINI_VQE_BASE_PYTHON is needed to create the mini-VQE venv"
  mkdir -p "$QP_CACHE_DIR" "$QP_LOG_DIR"
  (
    flock 8
    [ -f "$marker" ] && exit 0  # another runner finished it while this one waited
    qp_log "creating mini-VQE venv $QP_MINI_VQE_VENV_DIR (PySCF, qiskit, qiskit-nature; about a minute; log: $log)"
    # --only-binary: every pin has a wheel, so a missing one fails here instead of compiling for long.
    { rm -rf "$QP_MINI_VQE_VENV_DIR" \
        && "$QP_MINI_VQE_BASE_PYTHON" -m venv "$QP_MINI_VQE_VENV_DIR" \
        && "$QP_MINI_VQE_VENV_DIR/bin/pip" install --disable-pip-version-check --progress-bar off \
             --only-binary=:all: -r "$QP_MINI_VQE_DIR/requirements-dev.txt"; } >"$log" 2>&1 \
      || { tail -n 30 "$log" >&2; exit 1; }
    touch "$marker"
  ) 8>"$QP_CACHE_DIR/.mini-vqe-install.lock" || qp_die "mini-VQE install failed (log: $log)"
}
