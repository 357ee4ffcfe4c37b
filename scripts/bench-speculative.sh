#!/usr/bin/env bash
# Speculative decoding on the `bench` demo preset (issue 16; a benchmark, not a test):
#   scripts/bench-speculative.sh [DIR] [threads] [context] [reps] [tokens] [curve,oracle,real]
# DIR holds the bench preset (written there when missing, as `./peregrine init-demo DIR --preset bench` would; ~2.8 GB;
# default $TMPDIR/peregrine-bench-preset). Prints, as Markdown tables: the verification step's cost for k = 0..8
# draft tokens per sequence at batch 1 and 8, the speedup it predicts per mean acceptance length, and the measured
# speedup of an oracle drafter (drafts = the target's own greedy continuation) in the serving engine, and what the
# ngram and suffix drafters accept on random weights.
# Needs Maven and a JDK 25 (found the way ./peregrine finds it); compiles the engine's test classes, never installs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/scripts/jdk.sh"
use_jdk
DIR="${1:-${TMPDIR:-/tmp}/peregrine-bench-preset}"
THREADS="${2:-$(nproc)}"
mvn -q -B -o -pl engine -am test-compile
mvn -q -B -o -pl engine dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="engine/target/classes:engine/target/test-classes:$(cat engine/target/bench.classpath)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -Xmx8g -XX:+UseParallelGC -cp "$CP" \
  io.peregrine.engine.runtime.SpeculativeBench "$DIR" "$THREADS" "${3:-256}" "${4:-5}" "${5:-32}" "${6:-curve,oracle,real}"
