# Spark 4.0.2 standalone for the LocalStack profile: the same pyspark wheel and jars as the
# embedded data plane (localstack/dataplane/jars.txt), so jobs behave the same in both local profiles.
FROM maven:3.9-eclipse-temurin-17 AS jars
COPY localstack/dataplane/jars.txt /tmp/jars.txt
RUN set -eu; mkdir /jars; \
    grep -v -E '^\s*(#|$)' /tmp/jars.txt | sed 's/^classpath-first://' | while read -r coordinate; do \
      mvn -B -q -C dependency:copy -Dartifact="$coordinate" -DoutputDirectory=/jars; \
    done

FROM eclipse-temurin:17-jre
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-venv procps curl \
    && rm -rf /var/lib/apt/lists/*
COPY spark-jobs/requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --quiet -r /tmp/requirements.txt
COPY --from=jars /jars /opt/jars
ENV PATH=/opt/venv/bin:$PATH \
    SPARK_CONF_DIR=/opt/spark-conf \
    PYSPARK_PYTHON=/opt/venv/bin/python
# The wheel has no sbin/ scripts: the daemons start through spark-class (see compose.yaml).
ENTRYPOINT ["/bin/sh", "-c", "exec \"$(python -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')/bin/spark-class\" \"$@\"", "spark-class"]
