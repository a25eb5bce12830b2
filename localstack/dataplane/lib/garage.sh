# Garage: a single-node S3 store on 127.0.0.1 with one access key and the pipeline's buckets.

QP_GARAGE_DIR="$QP_STATE_DIR/garage"
QP_GARAGE_CONFIG="$QP_GARAGE_DIR/garage.toml"

qp_garage() { "$QP_GARAGE_BIN" -c "$QP_GARAGE_CONFIG" "$@"; }

qp_garage_write_config() {
  cat >"$QP_GARAGE_CONFIG" <<EOF
metadata_dir = "$QP_GARAGE_DIR/meta"
data_dir = "$QP_GARAGE_DIR/data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "$QP_BIND_HOST:$QP_GARAGE_RPC_PORT"
rpc_public_addr = "$QP_BIND_HOST:$QP_GARAGE_RPC_PORT"
rpc_secret = "$QP_GARAGE_RPC_SECRET"

[s3_api]
s3_region = "$QP_GARAGE_REGION"
api_bind_addr = "$QP_BIND_HOST:$QP_GARAGE_S3_PORT"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "$QP_BIND_HOST:$QP_GARAGE_ADMIN_PORT"
admin_token = "$QP_GARAGE_ADMIN_TOKEN"
EOF
  chmod 600 "$QP_GARAGE_CONFIG"
}

qp_garage_healthy() { curl -fsS "http://$QP_BIND_HOST:$QP_GARAGE_ADMIN_PORT/health" >/dev/null; }

# Single-node layout, key and buckets; every step checks before it acts, so it is safe to rerun.
qp_garage_provision() {
  local node_id layout
  # Output captured first: with pipefail, `| grep -q` can fail when grep exits before the writer.
  layout="$(qp_garage layout show 2>/dev/null || true)"
  if grep -q 'No nodes currently have a role' <<<"$layout"; then
    node_id="$(qp_garage node id -q 2>/dev/null | cut -d@ -f1)"
    qp_garage layout assign -z local -c 10G "$node_id" >/dev/null
    qp_garage layout apply --version 1 >/dev/null
  fi
  # The layout takes a moment to be usable after `apply`: retry the idempotent steps until it is.
  qp_wait_for "Garage layout" 60 "$QP_LOG_DIR/garage.log" qp_garage_key_and_buckets \
    || qp_die "Garage did not accept the key and buckets"
}

qp_garage_key_and_buckets() {
  local bucket
  qp_garage key info qp-pipeline >/dev/null 2>&1 \
    || qp_garage key import --yes -n qp-pipeline "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >/dev/null || return 1
  for bucket in $QP_BUCKETS; do
    qp_garage bucket info "$bucket" >/dev/null 2>&1 || qp_garage bucket create "$bucket" >/dev/null || return 1
    qp_garage bucket allow --read --write --owner "$bucket" --key qp-pipeline >/dev/null || return 1
  done
  qp_garage key info qp-r2-standin >/dev/null 2>&1 \
    || qp_garage key import --yes -n qp-r2-standin "$QP_R2_ACCESS_KEY_ID" "$QP_R2_SECRET_ACCESS_KEY" >/dev/null || return 1
  qp_garage bucket info "$QP_R2_BUCKET" >/dev/null 2>&1 || qp_garage bucket create "$QP_R2_BUCKET" >/dev/null || return 1
  qp_garage bucket allow --read --write --owner "$QP_R2_BUCKET" --key qp-r2-standin >/dev/null || return 1
}

qp_garage_start() {
  if qp_is_running garage "$QP_GARAGE_CONFIG"; then
    qp_log "Garage already running (S3 on $QP_BIND_HOST:$QP_GARAGE_S3_PORT)"
  else
    local port
    for port in "$QP_GARAGE_S3_PORT" "$QP_GARAGE_RPC_PORT" "$QP_GARAGE_ADMIN_PORT"; do
      qp_port_free "$port" || qp_die "port $port is taken by another process; set QP_GARAGE_*_PORT to free ports"
    done
    mkdir -p "$QP_GARAGE_DIR/meta" "$QP_GARAGE_DIR/data" "$QP_RUN_DIR"
    qp_garage_write_config
    nohup "$QP_GARAGE_BIN" -c "$QP_GARAGE_CONFIG" server >>"$QP_LOG_DIR/garage.log" 2>&1 &
    echo $! >"$(qp_pid_file garage)"
    qp_wait_for "Garage" 60 "$QP_LOG_DIR/garage.log" qp_garage_rpc_up || qp_die "Garage did not start"
  fi
  # Idempotent, so it also completes a start that was interrupted half-way.
  qp_garage_provision
  qp_wait_for "Garage" 60 "$QP_LOG_DIR/garage.log" qp_garage_healthy || qp_die "Garage is not healthy"
  qp_log "Garage running: S3 http://$QP_BIND_HOST:$QP_GARAGE_S3_PORT (region $QP_GARAGE_REGION), buckets: $QP_BUCKETS, R2 stand-in: $QP_R2_BUCKET"
}
qp_garage_rpc_up() { qp_garage status >/dev/null 2>&1; }

qp_garage_stop() { qp_stop_process garage "$QP_GARAGE_CONFIG"; }
