#!/usr/bin/env bash
# Per-step cost of the JSON-schema constraint over the real vocabulary (never part of `mvn test`):
#   engine/src/test/bench/run-json-mask-bench.sh [rounds]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
cd "$ROOT"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mvn -o -q -pl engine -am test-compile
CP_FILE="$(mktemp)"
trap 'rm -f "$CP_FILE"' EXIT
mvn -o -q -pl engine dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE"
"$JAVA_HOME/bin/java" ${JAVA_OPTS:-} -cp "engine/target/test-classes:engine/target/classes:$(cat "$CP_FILE")" \
  io.peregrine.engine.constrain.bench.JsonMaskBench "$@"
