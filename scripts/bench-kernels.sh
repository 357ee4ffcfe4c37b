#!/usr/bin/env bash
# CPU kernel benchmarks (JMH, not tests): bandwidth probe + INT4/BF16 products, GB/s of weight bytes.
#   scripts/bench-kernels.sh [benchmark-regex]   JMH, wall time, all cores
#   scripts/bench-kernels.sh --per-core           one thread, CPU time (robust on a shared machine)
# Needs Maven and a JDK 25 (found the way ./peregrine finds it); compiles the engine's test classes, never installs anything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/scripts/jdk.sh"
use_jdk
mvn -q -B -o -pl engine -am test-compile
mvn -q -B -o -pl engine dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="engine/target/classes:engine/target/test-classes:$(cat engine/target/bench.classpath)"
if [ "${1:-}" = "--per-core" ]; then
  exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -Xmx4g -cp "$CP" io.peregrine.engine.backend.cpu.PerCoreProbe
fi
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp "$CP" io.peregrine.engine.backend.cpu.BenchMain "$@"
