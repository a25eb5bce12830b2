# Installs what the local data plane runs, into caches outside the repository.
# Each step is idempotent: a marker file is written only after the step succeeded.

qp_install_venv() {
  local marker="$QP_VENV_DIR/.installed"
  [ -f "$marker" ] && return 0
  qp_log "creating Python venv $QP_VENV_DIR (pyspark and test tools)"
  rm -rf "$QP_VENV_DIR"
  python3 -m venv "$QP_VENV_DIR"
  "$QP_VENV_DIR/bin/pip" install --quiet --disable-pip-version-check \
    -r "$QP_REPO_DIR/spark-jobs/requirements-dev.txt"
  touch "$marker"
}

qp_install_jars() {
  local coordinate file
  mkdir -p "$QP_JARS_DIR"
  while read -r coordinate; do
    file="$(qp_jar_file "$coordinate")"
    [ -s "$file" ] && continue
    qp_log "resolving $coordinate from Maven Central"
    # -C: fail on a checksum mismatch instead of warning.
    mvn -B -q -C dependency:copy -Dartifact="$coordinate" -DoutputDirectory="$QP_JARS_DIR" \
      || qp_die "could not resolve $coordinate (see the Maven output above)"
  done < <(qp_jar_coordinates)
}

qp_install_garage() {
  [ -x "$QP_GARAGE_BIN" ] && return 0
  command -v cargo >/dev/null || qp_die "cargo is needed to build Garage $QP_GARAGE_VERSION from crates.io"
  qp_log "building Garage $QP_GARAGE_VERSION from crates.io (once; about 9 minutes on 2 cores)"
  # Fewer features than the default build (no metrics, no K2V) and no LTO: the same S3 API in
  # far less compile time. The target dir is cached so an interrupted build resumes.
  CARGO_TARGET_DIR="$QP_CACHE_DIR/garage-build" \
  CARGO_PROFILE_RELEASE_LTO=off \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_DEBUG=0 \
    cargo install garage --version "$QP_GARAGE_VERSION" --locked --quiet \
      --root "$QP_CACHE_DIR/garage-$QP_GARAGE_VERSION" \
      --no-default-features --features bundled-libs,lmdb,sqlite
  [ -x "$QP_GARAGE_BIN" ] || qp_die "Garage build finished but $QP_GARAGE_BIN is missing"
}

# The installs are independent and bound by different resources (network, CPU), so they
# run side by side; each writes its own log and the first failure is reported with its log.
qp_install_all() {
  mkdir -p "$QP_CACHE_DIR" "$QP_LOG_DIR"
  exec 9>"$QP_CACHE_DIR/.install.lock"
  flock 9
  local step pids=() names=() failed=0 i started=$SECONDS next_report=$((SECONDS + 2)) running
  for step in venv jars garage postgres; do
    ( "qp_install_$step" ) >"$QP_LOG_DIR/install-$step.log" 2>&1 &
    pids+=($!); names+=("$step")
  done
  # A first install takes minutes (Garage compiles for about 9): say what runs after 2 s, then every 30 s.
  while :; do
    running=()
    for i in "${!pids[@]}"; do
      if kill -0 "${pids[$i]}" 2>/dev/null; then running+=("${names[$i]}"); fi
    done
    [ "${#running[@]}" -eq 0 ] && break
    if [ "$SECONDS" -ge "$next_report" ]; then
      for step in "${running[@]}"; do
        qp_log "installing $step: $((SECONDS - started)) s so far (log: $QP_LOG_DIR/install-$step.log)"
      done
      next_report=$((started + ((SECONDS - started) / 30 + 1) * 30))
    fi
    sleep 1
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      qp_log "install step '${names[$i]}' failed; its log ($QP_LOG_DIR/install-${names[$i]}.log) ends with:"
      tail -n 30 "$QP_LOG_DIR/install-${names[$i]}.log" >&2
      failed=1
    fi
  done
  flock -u 9
  [ "$failed" -eq 0 ] || exit 1
  if [ $((SECONDS - started)) -ge 5 ]; then qp_log "installs done in $((SECONDS - started)) s"; fi
}
