# Shared settings of the local data plane. Sourced, never executed.
# Every value can be overridden from the environment; nothing here is machine-specific.

QP_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
QP_CACHE_DIR="${QP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/quantum-pipeline}"
QP_STATE_DIR="${QP_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/quantum-pipeline}"
QP_LOG_DIR="${QP_LOG_DIR:-$QP_STATE_DIR/logs}"
QP_RUN_DIR="$QP_STATE_DIR/run"

QP_BIND_HOST="127.0.0.1"
QP_GARAGE_VERSION="${QP_GARAGE_VERSION:-2.5.0}"
QP_GARAGE_S3_PORT="${QP_GARAGE_S3_PORT:-3900}"
QP_GARAGE_RPC_PORT="${QP_GARAGE_RPC_PORT:-3901}"
QP_GARAGE_ADMIN_PORT="${QP_GARAGE_ADMIN_PORT:-3903}"
QP_GARAGE_REGION="${QP_GARAGE_REGION:-garage}"
QP_BUCKETS="${QP_BUCKETS:-raw-results features artifacts}"
# The local stand-in for Cloudflare R2 (SPEC section 6's default bucket), on the same Garage but
# under a key of its own that can reach nothing else - as an R2 API token cannot reach S3.
QP_R2_BUCKET="${QP_R2_BUCKET:-qp-data}"

QP_SPARK_MASTER_PORT="${QP_SPARK_MASTER_PORT:-7077}"
QP_SPARK_REST_PORT="${QP_SPARK_REST_PORT:-6066}"
QP_SPARK_MASTER_UI_PORT="${QP_SPARK_MASTER_UI_PORT:-8080}"
QP_SPARK_WORKER_UI_PORT="${QP_SPARK_WORKER_UI_PORT:-8081}"
# The driver of a REST-submitted job occupies worker cores and memory too, so the worker
# advertises more cores than the machine has: Spark uses them as slots, not as pinning.
QP_SPARK_WORKER_CORES="${QP_SPARK_WORKER_CORES:-4}"
QP_SPARK_WORKER_MEMORY="${QP_SPARK_WORKER_MEMORY:-8g}"

QP_CREDENTIALS_FILE="$QP_STATE_DIR/credentials.env"

qp_log() { printf '[dataplane] %s\n' "$*" >&2; }
qp_die() { printf '[dataplane] error: %s\n' "$*" >&2; exit 1; }

# A venv per content of its requirement files (12 hex digits of their hash), so a change of pins
# builds a new one instead of mutating the one a running cluster uses.
qp_requirements_hash() { cat "$@" | sha256sum | cut -c1-12; }
QP_VENV_DIR="${QP_VENV_DIR:-$QP_CACHE_DIR/venv-$(qp_requirements_hash "$QP_REPO_DIR/spark-jobs/requirements.txt" "$QP_REPO_DIR/spark-jobs/requirements-dev.txt")}"
QP_PYTHON="$QP_VENV_DIR/bin/python"
QP_JARS_DIR="$QP_CACHE_DIR/jars"
QP_GARAGE_BIN="$QP_CACHE_DIR/garage-$QP_GARAGE_VERSION/bin/garage"

qp_spark_home() { "$QP_PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'; }

# Jar file names in the order of localstack/dataplane/jars.txt, as Maven's dependency:copy names them.
# Every artifact to download; `classpath-first:` marks those that must precede the others.
qp_jar_coordinates() { grep -v -E '^\s*(#|$)' "$QP_REPO_DIR/localstack/dataplane/jars.txt" | sed 's/^classpath-first://'; }
qp_jar_file() { local g a v; IFS=: read -r g a v <<<"$1"; printf '%s/%s-%s.jar' "$QP_JARS_DIR" "$a" "$v"; }
# The class path of the local Spark processes (colon-separated, `classpath-first:` jars first).
# Every process runs on this machine, so the cached jars are used where they lie. (spark.jars
# would copy them - the AWS SDK bundle alone is over 500 MB - into the work folder of every
# driver and executor, or a temp folder in local mode: gigabytes per test run, a full disk in CI.)
qp_spark_classpath() {
  local coordinate files=()
  while read -r coordinate; do files+=("$(qp_jar_file "$coordinate")"); done \
    < <(sed -n 's/^classpath-first://p' "$QP_REPO_DIR/localstack/dataplane/jars.txt"; \
        grep -v -E '^\s*(#|$)|^classpath-first:' "$QP_REPO_DIR/localstack/dataplane/jars.txt")
  (IFS=:; printf '%s' "${files[*]}")
}

# Process bookkeeping: a pid file per component, checked against the command line so a
# recycled pid is never mistaken for ours.
qp_pid_file() { printf '%s/%s.pid' "$QP_RUN_DIR" "$1"; }
qp_is_running() {
  local pid_file pid
  pid_file="$(qp_pid_file "$1")"
  [ -f "$pid_file" ] || return 1
  pid="$(cat "$pid_file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q -- "$2" "/proc/$pid/cmdline" 2>/dev/null
}
qp_stop_process() {
  local name="$1" marker="$2" signal="${3:-TERM}" pid_file pid waited=0
  pid_file="$(qp_pid_file "$name")"
  if ! qp_is_running "$name" "$marker"; then rm -f "$pid_file"; return 0; fi
  pid="$(cat "$pid_file")"
  kill "-$signal" "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 30 ]; do sleep 1; waited=$((waited + 1)); done
  if kill -0 "$pid" 2>/dev/null; then qp_log "$name did not stop in 30 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pid_file"
  qp_log "$name stopped"
}

# Wait until a command succeeds, or fail naming what did not come up and where its log is.
qp_wait_for() {
  local what="$1" seconds="$2" log="$3"; shift 3
  local waited=0
  until "$@" >/dev/null 2>&1; do
    if [ "$waited" -ge "$seconds" ]; then
      qp_log "$what did not become healthy within ${seconds}s; last lines of $log:"
      tail -n 20 "$log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 1; waited=$((waited + 1))
  done
}
qp_port_free() { ! (exec 3<>"/dev/tcp/$QP_BIND_HOST/$1") 2>/dev/null; }

# Secrets are made once per state folder (never in the repository) and reused on restarts,
# so objects and keys survive a stop/start.
qp_secrets() {
  mkdir -p "$QP_STATE_DIR"
  if [ ! -f "$QP_CREDENTIALS_FILE" ]; then
    (umask 077; {
      echo "QP_GARAGE_RPC_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
      echo "QP_GARAGE_ADMIN_TOKEN=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
      # Garage key ids are 'GK' + 24 hex digits; secrets are 64 hex digits.
      echo "AWS_ACCESS_KEY_ID=GK$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
      echo "AWS_SECRET_ACCESS_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
      echo "QP_PG_PASSWORD=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
    } >"$QP_CREDENTIALS_FILE")
  fi
  # Added later than the rest: a state folder made before R2 sync existed gets its key now.
  if ! grep -q '^QP_R2_ACCESS_KEY_ID=' "$QP_CREDENTIALS_FILE"; then
    (umask 077; {
      echo "QP_R2_ACCESS_KEY_ID=GK$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
      echo "QP_R2_SECRET_ACCESS_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    } >>"$QP_CREDENTIALS_FILE")
  fi
  # shellcheck disable=SC1090
  . "$QP_CREDENTIALS_FILE"
}
