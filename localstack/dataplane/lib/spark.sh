# Spark standalone: one master (with the REST submission server) and one worker, run from the
# pyspark wheel of the venv. The wheel has no sbin/ scripts, so the daemons start via spark-class.

QP_SPARK_DIR="$QP_STATE_DIR/spark"
QP_SPARK_CONF_DIR="$QP_SPARK_DIR/conf"
QP_CATALOG_URI="jdbc:postgresql://$QP_BIND_HOST:$QP_PG_PORT/$QP_PG_DATABASE"

# Cluster-wide defaults, the local counterpart of what EMR Serverless gets from the CDK config.
# The master, the worker and every driver the worker launches read this file (SPARK_CONF_DIR is
# inherited), so a submission only carries what is specific to its job.
qp_spark_write_defaults() {
  mkdir -p "$QP_SPARK_CONF_DIR"
  (umask 077; cat >"$QP_SPARK_CONF_DIR/spark-defaults.conf") <<EOF
spark.master.rest.enabled true
spark.master.rest.port $QP_SPARK_REST_PORT
spark.worker.cleanup.enabled true
spark.worker.cleanup.interval 600
spark.worker.cleanup.appDataTtl 3600
spark.driver.host $QP_BIND_HOST
spark.driver.bindAddress $QP_BIND_HOST
spark.driver.extraClassPath $(qp_spark_classpath)
spark.executor.extraClassPath $(qp_spark_classpath)
spark.pyspark.python $QP_PYTHON
spark.pyspark.driver.python $QP_PYTHON
spark.serializer org.apache.spark.serializer.KryoSerializer
spark.sql.shuffle.partitions 8
spark.sql.extensions org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions
spark.sql.catalog.quantum_catalog org.apache.iceberg.spark.SparkCatalog
spark.sql.catalog.quantum_catalog.type jdbc
spark.sql.catalog.quantum_catalog.uri $QP_CATALOG_URI
spark.sql.catalog.quantum_catalog.jdbc.user $QP_PG_USER
spark.sql.catalog.quantum_catalog.jdbc.password $QP_PG_PASSWORD
spark.sql.catalog.quantum_catalog.jdbc.schema-version V1
spark.sql.catalog.quantum_catalog.warehouse s3a://features/warehouse/
spark.hadoop.fs.s3a.endpoint http://$QP_BIND_HOST:$QP_GARAGE_S3_PORT
spark.hadoop.fs.s3a.endpoint.region $QP_GARAGE_REGION
spark.hadoop.fs.s3a.path.style.access true
spark.hadoop.fs.s3a.connection.ssl.enabled false
spark.hadoop.fs.s3a.aws.credentials.provider org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider
spark.hadoop.fs.s3a.access.key $AWS_ACCESS_KEY_ID
spark.hadoop.fs.s3a.secret.key $AWS_SECRET_ACCESS_KEY
spark.hadoop.fs.s3a.fast.upload true
EOF
}

# spark-class ends in 'exec java', so the pid of this background job is the daemon's own.
# SPARK_DIST_CLASSPATH: the worker puts it on the class path of every driver and executor it
# launches. A REST-submitted driver needs that: its JVM is started from the submission alone
# (the cluster's spark.driver.extraClassPath does not reach it), and spark.jars would copy every
# jar - the AWS SDK bundle alone is over 500 MB - into each driver's and executor's folder.
qp_spark_daemon() {
  local name="$1" spark_home; shift
  spark_home="$(qp_spark_home)"
  SPARK_DIST_CLASSPATH="$(qp_spark_classpath)" \
  SPARK_LOCAL_IP="$QP_BIND_HOST" SPARK_HOME="$spark_home" SPARK_CONF_DIR="$QP_SPARK_CONF_DIR" SPARK_LOG_DIR="$QP_LOG_DIR" \
    nohup "$spark_home/bin/spark-class" "$@" >>"$QP_LOG_DIR/$name.log" 2>&1 &
  echo $! >"$(qp_pid_file "$name")"
}

qp_spark_master_ready() { curl -fsS "http://$QP_BIND_HOST:$QP_SPARK_REST_PORT/v1/submissions/readyz" >/dev/null; }
qp_spark_worker_registered() {
  local state
  state="$(curl -fsS "http://$QP_BIND_HOST:$QP_SPARK_MASTER_UI_PORT/json/")" || return 1
  grep -q '"aliveworkers" : [1-9]' <<<"$state"
}

qp_spark_start() {
  qp_spark_write_defaults
  mkdir -p "$QP_SPARK_DIR/work" "$QP_RUN_DIR"
  if qp_is_running spark-master deploy.master.Master; then
    qp_log "Spark master already running (spark://$QP_BIND_HOST:$QP_SPARK_MASTER_PORT)"
  else
    local port
    for port in "$QP_SPARK_MASTER_PORT" "$QP_SPARK_REST_PORT" "$QP_SPARK_MASTER_UI_PORT"; do
      qp_port_free "$port" || qp_die "port $port is taken by another process; set QP_SPARK_*_PORT to free ports"
    done
    qp_spark_daemon spark-master org.apache.spark.deploy.master.Master --host "$QP_BIND_HOST" \
      --port "$QP_SPARK_MASTER_PORT" --webui-port "$QP_SPARK_MASTER_UI_PORT"
    qp_wait_for "Spark master" 90 "$QP_LOG_DIR/spark-master.log" qp_spark_master_ready || qp_die "Spark master did not start"
    qp_log "Spark master running: spark://$QP_BIND_HOST:$QP_SPARK_MASTER_PORT, REST http://$QP_BIND_HOST:$QP_SPARK_REST_PORT"
  fi
  if qp_is_running spark-worker deploy.worker.Worker; then
    qp_log "Spark worker already running"
  else
    qp_port_free "$QP_SPARK_WORKER_UI_PORT" || qp_die "port $QP_SPARK_WORKER_UI_PORT is taken; set QP_SPARK_WORKER_UI_PORT"
    qp_spark_daemon spark-worker org.apache.spark.deploy.worker.Worker "spark://$QP_BIND_HOST:$QP_SPARK_MASTER_PORT" \
      --host "$QP_BIND_HOST" --cores "$QP_SPARK_WORKER_CORES" --memory "$QP_SPARK_WORKER_MEMORY" \
      --webui-port "$QP_SPARK_WORKER_UI_PORT" --work-dir "$QP_SPARK_DIR/work"
    qp_wait_for "Spark worker" 90 "$QP_LOG_DIR/spark-worker.log" qp_spark_worker_registered || qp_die "Spark worker did not register"
    qp_log "Spark worker running: $QP_SPARK_WORKER_CORES cores, $QP_SPARK_WORKER_MEMORY, work dir $QP_SPARK_DIR/work"
  fi
}

qp_spark_stop() {
  qp_stop_process spark-worker deploy.worker.Worker
  qp_stop_process spark-master deploy.master.Master
}
