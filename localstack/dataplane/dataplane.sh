#!/usr/bin/env bash
# The local data plane: Garage (S3) + Spark standalone (master with REST on 6066, one worker).
#   dataplane.sh install   build/download what it runs (cached outside the repo; idempotent)
#   dataplane.sh start     install if needed, start everything, wait until healthy (safe twice)
#   dataplane.sh stop      stop everything (safe when nothing runs)
#   dataplane.sh status    one line per component; exit 0 only when all are healthy
#   dataplane.sh env       print the endpoints and credentials as shell assignments
#   dataplane.sh stop-component NAME [SIGNAL]   stop one of postgres|garage|spark-master|spark-worker
#                          (SIGNAL, e.g. KILL, for a crash; the fault-injection tests use it)
#   dataplane.sh start-component NAME           start that one again and wait until it is healthy
# Settings (ports, folders) come from QP_* environment variables: see localstack/dataplane/lib/common.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib/common.sh"
. "$here/lib/install.sh"
. "$here/lib/postgres.sh"
. "$here/lib/garage.sh"
. "$here/lib/spark.sh"

QP_ENV_FILE="$QP_STATE_DIR/dataplane.env"

# What clients (tests, benchmarks, the local pipeline runner) need to reach the data plane.
# Values are single-quoted: the catalog URI holds an '&'.
write_env_file() {
  (umask 077; cat >"$QP_ENV_FILE") <<EOF
QP_S3_ENDPOINT='http://$QP_BIND_HOST:$QP_GARAGE_S3_PORT'
QP_S3_REGION='$QP_GARAGE_REGION'
AWS_ACCESS_KEY_ID='$AWS_ACCESS_KEY_ID'
AWS_SECRET_ACCESS_KEY='$AWS_SECRET_ACCESS_KEY'
QP_R2_ENDPOINT='http://$QP_BIND_HOST:$QP_GARAGE_S3_PORT'
QP_R2_BUCKET='$QP_R2_BUCKET'
QP_R2_ACCESS_KEY_ID='$QP_R2_ACCESS_KEY_ID'
QP_R2_SECRET_ACCESS_KEY='$QP_R2_SECRET_ACCESS_KEY'
QP_SPARK_MASTER_URL='spark://$QP_BIND_HOST:$QP_SPARK_MASTER_PORT'
QP_SPARK_REST_URL='http://$QP_BIND_HOST:$QP_SPARK_REST_PORT'
QP_SPARK_CONF_DIR='$QP_SPARK_CONF_DIR'
QP_SPARK_WORK_DIR='$QP_SPARK_DIR/work'
QP_SPARK_HOME='$(qp_spark_home)'
QP_PYTHON='$QP_PYTHON'
QP_CATALOG_URI='$QP_CATALOG_URI'
QP_CATALOG_USER='$QP_PG_USER'
QP_CATALOG_PASSWORD='$QP_PG_PASSWORD'
QP_LOG_DIR='$QP_LOG_DIR'
SPARK_LOCAL_IP='$QP_BIND_HOST'
EOF
}

cmd_install() { qp_install_all; qp_log "installed: venv $QP_VENV_DIR, jars $QP_JARS_DIR, garage $QP_GARAGE_BIN"; }

cmd_start() {
  qp_install_all
  mkdir -p "$QP_LOG_DIR" "$QP_RUN_DIR"
  qp_secrets
  qp_pg_start
  qp_garage_start
  qp_spark_start
  write_env_file
  qp_log "data plane up; logs in $QP_LOG_DIR; client settings in $QP_ENV_FILE"
}

cmd_stop() {
  qp_spark_stop
  qp_garage_stop
  qp_pg_stop
}

cmd_status() {
  local healthy=0
  report() { printf '%-13s %s\n' "$1" "$2"; }
  if qp_is_running postgres "$QP_PG_DATA" && qp_pg_server_up; then
    report postgres "healthy   127.0.0.1:$QP_PG_PORT (Iceberg JDBC catalog)"
  else report postgres "down"; healthy=1; fi
  if qp_is_running garage "$QP_STATE_DIR/garage/garage.toml" && qp_garage_healthy; then
    report garage "healthy   S3 http://$QP_BIND_HOST:$QP_GARAGE_S3_PORT"
  else report garage "down"; healthy=1; fi
  if qp_is_running spark-master deploy.master.Master && qp_spark_master_ready; then
    report spark-master "healthy   spark://$QP_BIND_HOST:$QP_SPARK_MASTER_PORT  REST :$QP_SPARK_REST_PORT  UI :$QP_SPARK_MASTER_UI_PORT"
  else report spark-master "down"; healthy=1; fi
  if qp_is_running spark-worker deploy.worker.Worker && qp_spark_worker_registered; then
    report spark-worker "healthy   registered with the master, UI :$QP_SPARK_WORKER_UI_PORT"
  else report spark-worker "down"; healthy=1; fi
  report logs "$QP_LOG_DIR"
  return "$healthy"
}

cmd_env() { [ -f "$QP_ENV_FILE" ] || qp_die "the data plane was never started (no $QP_ENV_FILE)"; cat "$QP_ENV_FILE"; }

# One component at a time (test/faults): the others keep running.
qp_component_marker() {
  case "$1" in
    postgres) printf '%s' "$QP_PG_DATA" ;;
    garage) printf '%s' "$QP_GARAGE_CONFIG" ;;
    spark-master) printf '%s' deploy.master.Master ;;
    spark-worker) printf '%s' deploy.worker.Worker ;;
    *) qp_die "unknown component '$1' (postgres|garage|spark-master|spark-worker)" ;;
  esac
}

cmd_stop_component() {
  local name="${1:-}" signal="${2:-}" marker
  marker="$(qp_component_marker "$name")"
  if [ -z "$signal" ]; then
    case "$name" in
      postgres) qp_pg_stop ;;
      *) qp_stop_process "$name" "$marker" ;;
    esac
  else
    qp_stop_process "$name" "$marker" "$signal"
  fi
}

cmd_start_component() {
  local name="${1:-}"
  qp_component_marker "$name" >/dev/null
  mkdir -p "$QP_LOG_DIR" "$QP_RUN_DIR"
  qp_secrets
  case "$name" in
    postgres) qp_pg_start ;;
    garage) qp_garage_start ;;
    spark-master | spark-worker) qp_spark_start ;;  # starts whichever of the two is down
  esac
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  stop-component) cmd_stop_component "${2:-}" "${3:-}" ;;
  start-component) cmd_start_component "${2:-}" ;;
  *) echo "usage: $0 install|start|stop|status|env|stop-component NAME [SIGNAL]|start-component NAME" >&2; exit 2 ;;
esac
