# PostgreSQL: the database behind the local Iceberg JDBC catalog (atomic commits, and safe for
# several processes at once: jobs, tests and notebooks may all hold the catalog open).
# PostgreSQL refuses to run as root; as root it runs as the 'postgres' system user, with its data
# where that user can reach it (root's home is closed to it).

QP_PG_PORT="${QP_PG_PORT:-5433}"
QP_PG_DATABASE="quantum_catalog"
QP_PG_USER="qp"
if [ "$(id -u)" -eq 0 ]; then
  QP_PG_DATA="${QP_PG_DATA:-/var/lib/quantum-pipeline/postgres}"
else
  QP_PG_DATA="${QP_PG_DATA:-$QP_STATE_DIR/postgres}"
fi

qp_pg_bin_dir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/postgres" ] && printf '%s' "$dir"
}

qp_install_postgres() {
  qp_pg_bin_dir >/dev/null && return 0
  [ "$(id -u)" -eq 0 ] || qp_die "PostgreSQL is not installed: install Debian's 'postgresql' package (as root: apt-get install postgresql)"
  qp_log "installing PostgreSQL from Debian's packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  qp_pg_bin_dir >/dev/null || qp_die "PostgreSQL installed but no server binary found under /usr/lib/postgresql"
}

# Run a server program as the user that owns the data folder. setpriv execs (no fork), so the pid
# of a background job stays the server's own, as the stop logic expects.
qp_pg_owner_prefix=()
if [ "$(id -u)" -eq 0 ]; then qp_pg_owner_prefix=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi
qp_pg_as_owner() { "${qp_pg_owner_prefix[@]}" "$@"; }

qp_pg_healthy() { pg_isready -q -h "$QP_BIND_HOST" -p "$QP_PG_PORT" -d "$QP_PG_DATABASE" -U "$QP_PG_USER"; }

qp_pg_init() {
  [ -f "$QP_PG_DATA/PG_VERSION" ] && return 0
  local bin password_file
  bin="$(qp_pg_bin_dir)"
  mkdir -p "$QP_PG_DATA"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$QP_PG_DATA"
  chmod 700 "$QP_PG_DATA"
  password_file="$(mktemp)"
  printf '%s\n' "$QP_PG_PASSWORD" >"$password_file"
  chmod 644 "$password_file"  # initdb reads it as the postgres user; removed right after
  qp_pg_as_owner "$bin/initdb" -D "$QP_PG_DATA" -U "$QP_PG_USER" --pwfile="$password_file" \
    --auth-host=scram-sha-256 --auth-local=scram-sha-256 -E UTF8 >>"$QP_LOG_DIR/postgres.log" 2>&1 \
    || { rm -f "$password_file"; qp_die "initdb failed; see $QP_LOG_DIR/postgres.log"; }
  rm -f "$password_file"
}

qp_pg_start() {
  if qp_is_running postgres "$QP_PG_DATA"; then
    qp_log "PostgreSQL already running (127.0.0.1:$QP_PG_PORT)"
    return 0
  fi
  qp_port_free "$QP_PG_PORT" || qp_die "port $QP_PG_PORT is taken by another process; set QP_PG_PORT to a free port"
  qp_pg_init
  qp_pg_clear_stale_lock
  local bin
  bin="$(qp_pg_bin_dir)"
  # No Unix socket (TCP on loopback only), and the log goes to the data plane's log folder.
  nohup "${qp_pg_owner_prefix[@]}" "$bin/postgres" -D "$QP_PG_DATA" -h "$QP_BIND_HOST" -p "$QP_PG_PORT" \
    -c unix_socket_directories= -c max_connections=50 >>"$QP_LOG_DIR/postgres.log" 2>&1 &
  echo $! >"$(qp_pid_file postgres)"
  qp_wait_for "PostgreSQL" 60 "$QP_LOG_DIR/postgres.log" qp_pg_server_up || qp_die "PostgreSQL did not start"
  local exists
  exists="$(PGPASSWORD="$QP_PG_PASSWORD" psql -h "$QP_BIND_HOST" -p "$QP_PG_PORT" -U "$QP_PG_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$QP_PG_DATABASE'")"
  if [ "$exists" != "1" ]; then
    PGPASSWORD="$QP_PG_PASSWORD" psql -q -h "$QP_BIND_HOST" -p "$QP_PG_PORT" -U "$QP_PG_USER" -d postgres \
      -c "CREATE DATABASE $QP_PG_DATABASE"
  fi
  qp_log "PostgreSQL running: 127.0.0.1:$QP_PG_PORT, database $QP_PG_DATABASE (the Iceberg catalog)"
}
# A server killed with its machine session leaves postmaster.pid behind; if that pid now belongs
# to another program, PostgreSQL would refuse to start. Only a live postgres keeps the lock.
qp_pg_clear_stale_lock() {
  local lock="$QP_PG_DATA/postmaster.pid" pid
  [ -f "$lock" ] || return 0
  pid="$(head -n 1 "$lock")"
  if ! grep -q postgres "/proc/$pid/comm" 2>/dev/null; then
    qp_log "removing stale PostgreSQL lock (pid $pid is not a running postgres)"
    rm -f "$lock"
  fi
}
qp_pg_server_up() { pg_isready -q -h "$QP_BIND_HOST" -p "$QP_PG_PORT"; }

# SIGINT is PostgreSQL's "fast" shutdown: no waiting for clients that never disconnect.
qp_pg_stop() { qp_stop_process postgres "$QP_PG_DATA" INT; }
