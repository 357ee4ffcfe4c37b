#!/usr/bin/env bash
# Chat template render time (JMH, not a test): a 100-message conversation with the official K2.5 template,
# the native renderer vs the same template on the Jinja engine (@huggingface/jinja on GraalJS).
#   scripts/bench-templates.sh              JMH, wall time
#   scripts/bench-templates.sh --cpu-time   CPU time of the rendering thread (robust on a shared machine)
# Needs Maven and a JDK 25 (found the way ./peregrine finds it); compiles the engine's test classes, never installs anything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/scripts/jdk.sh"
use_jdk
mvn -q -B -o -pl engine -am test-compile
mvn -q -B -o -pl engine dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="engine/target/classes:engine/target/test-classes:$(cat engine/target/bench.classpath)"
exec "$JAVA_HOME/bin/java" -cp "$CP" io.peregrine.engine.chat.ChatTemplateBench "$@"
