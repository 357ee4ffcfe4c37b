#!/usr/bin/env bash
# Runs the tokenizer JMH benchmark (never part of `mvn test`). JMH options pass through, e.g.
#   engine/src/test/bench/run-tokenizer-bench.sh -wi 2 -i 3
# javac on JDK 23+ runs annotation processors only when asked, so the benchmark is compiled here with -proc:full
# (JMH's generator writes the harness classes) instead of changing the module's build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
cd "$ROOT"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
mvn -o -q -pl engine -am test-compile
CP_FILE="$(mktemp)"
OUT="$(mktemp -d)"
trap 'rm -rf "$CP_FILE" "$OUT"' EXIT
mvn -o -q -pl engine dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$CP_FILE"
CP="engine/target/classes:$(cat "$CP_FILE")"
"$JAVA_HOME/bin/javac" -proc:full -nowarn -d "$OUT" -cp "$CP" \
  engine/src/test/java/io/peregrine/engine/tokenizer/bench/TokenizerBenchmark.java
"$JAVA_HOME/bin/java" ${JAVA_OPTS:-} --add-modules jdk.incubator.vector -cp "$OUT:$CP" \
  io.peregrine.engine.tokenizer.bench.TokenizerBenchmark "$@"
