#!/usr/bin/env bash
# The hybrid MoE step (issue 20) on the CPU-only stand-in: two CPU backends ("GPU" + host, every routed expert on the
# host) against one, per-step parts and overlap, a long prefill chunk computed on the host vs streamed, logits compared
# bit for bit (docs/hybrid.md). Not a test.
#   scripts/bench-hybrid.sh [preset] [checkpoint dir] [decode steps] [chunk tokens]   (default: bench /tmp/peregrine-bench-ck 32 256)
# The bench preset's checkpoint (~2.8 GB) is written on first use. Needs Maven and a JDK 25; never installs anything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/scripts/jdk.sh"
use_jdk
mvn -q -B -o -pl engine -am test-compile
mvn -q -B -o -pl engine dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="engine/target/classes:engine/target/test-classes:$(cat engine/target/bench.classpath)"
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -Xmx6g -cp "$CP" io.peregrine.engine.model.HybridStepProbe "$@"
