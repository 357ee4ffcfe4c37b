#!/usr/bin/env bash
# On-device check of the CUDA kernels (issue 9). Two halves, because the device machine has no JDK and no Maven:
#
#   scripts/gpu-check.sh prepare   # here: build the jars (nvcc compiles the cubin), jlink a Java runtime, and put
#                                  # both under .gpu-check/ (ignored by git, ~25 MB with the runtime xz-packed, carried to the device)
#   scripts/gpu-check.sh run       # on the device: ceilings through PyTorch, SASS census, then the Java check:
#                                  # kernels vs scalar references, the
#                                  # golden tiny model (testdata/, tracked, travels with the tree) on CudaBackend,
#                                  # the engine's decode step at batch 1/8/32 (launches, host<->device bytes per
#                                  # step), timings, synthetic decode step
#
# Device call (one call, well under 8 minutes):
#   run(command="scripts/gpu-check.sh run", carry=[".gpu-check"], timeout_s=480)
# With no argument: prepare when a JDK is here and .gpu-check/ is missing, then run when a GPU is here.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KIT=$ROOT/.gpu-check
JDK=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
OUTDIR=${OUT:-$KIT/out}
JFLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED)

prepare() {
  export JAVA_HOME=$JDK
  command -v nvcc >/dev/null || [ -x /usr/local/bin/nvcc ] || { echo "prepare: nvcc not found; the cubin would be missing" >&2; exit 2; }
  echo "== building jars (mvn package, kernels compiled by nvcc)"
  mvn -o -q -pl kernels -am package -DskipTests
  rm -rf "$KIT" && mkdir -p "$KIT/lib"
  cp kernels/target/peregrine-kernels-*.jar engine/target/peregrine-engine-*.jar "$KIT/lib/"
  local m2=${MAVEN_REPO:-$HOME/.m2/repository}
  local ver; ver=$(sed -n 's:.*<jcuda.version>\(.*\)</jcuda.version>.*:\1:p' pom.xml)
  cp "$m2/org/jcuda/jcuda/$ver/jcuda-$ver.jar" "$KIT/lib/"
  # Jackson reads config.json and text_golden.json for the golden check through CudaBackend (~2.3 MB)
  mvn -o -q -pl engine dependency:copy-dependencies -DincludeGroupIds=com.fasterxml.jackson.core \
     -DincludeScope=runtime -DoutputDirectory="$KIT/lib"
  # JCuda's natives jar is 26 MB, 24 of them the PTX compiler we never load: keep the driver binding only.
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && unzip -q "$m2/org/jcuda/jcuda-natives/$ver/jcuda-natives-$ver-linux-x86_64.jar" "lib/libJCudaDriver-*" \
     && "$JDK/bin/jar" --create --file "$KIT/lib/jcuda-natives-driver-$ver.jar" lib)
  rm -rf "$tmp"
  echo "== jlink runtime"
  # jdk.incubator.vector: the CPU backend, the reference the CudaBackend checks compare against
  "$JDK/bin/jlink" --add-modules java.base,java.logging,jdk.incubator.vector --strip-debug --no-header-files --no-man-pages \
     --compress=zip-9 --output "$KIT/jre"
  strip --strip-unneeded "$KIT/jre/lib/server/libjvm.so" 2>/dev/null || true
  cp kernels/target/classes/io/peregrine/kernels/sm_90a/peregrine.cubin "$KIT/"
  echo "== dry run of the carried runtime (class loading, host-side layout, golden tiny model on the CPU backend; no device)"
  "$KIT/jre/bin/java" "${JFLAGS[@]}" -cp "$KIT/lib/*" io.peregrine.kernels.check.GpuCheck --dry-run --testdata "$ROOT/testdata"
  "$KIT/jre/bin/java" "${JFLAGS[@]}" -cp "$KIT/lib/*" io.peregrine.kernels.nccl.ShardedNcclSmoke --dry-run --testdata "$ROOT/testdata"
  # xz halves the runtime (libjvm.so compresses 3x), leaving room under the device's 64 MiB for the tree to grow
  echo "== packing the runtime"
  tar -cJf "$KIT/jre.tar.xz" -C "$KIT" jre && rm -rf "$KIT/jre"
  travel_budget
}

# What travels to the device (tracked and untracked-not-ignored files plus the carried kit) must stay under the
# device's 64 MiB limit; a tree that grew past it would only be refused at device time, which is scarce.
travel_budget() {
  local tree kit limit=$((64 * 1024 * 1024))
  tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
  kit=$(find "$KIT" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  awk -v t="$tree" -v k="$kit" 'BEGIN {m = 1048576; printf "travels: tree %.1f MiB + kit %.1f MiB = %.1f MiB of 64 MiB\n", t / m, k / m, (t + k) / m}'
  if [ $((tree + kit)) -gt $limit ]; then
    echo "prepare: over the device's 64 MiB working-tree limit; carry less or shrink testdata" >&2
    exit 3
  fi
}

ceilings() {
  # PyTorch is on the device image: its copy and bf16 matmul are the ceilings (METHOD.md), random data, medians.
  python3 - <<'PY' 2>/dev/null || echo "CEILINGS -1 -1"
import torch
def med(f, n=20):
    for _ in range(3): f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(n):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); f(); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
    ts.sort(); return ts[len(ts) // 2] / 1e3
a = torch.randn(1 << 30, device="cuda", dtype=torch.float32); b = torch.empty_like(a)
t = med(lambda: b.copy_(a))
copy = 2 * a.numel() * 4 / t / 1e9
del a, b
x = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16); y = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
t = med(lambda: x @ y, 10)
print(f"CEILINGS {copy:.0f} {2 * 8192**3 / t / 1e12:.0f}")
PY
}

# The packed runtime unpacks outside the tree (the tree is copied back and forth; the runtime needn't be).
unpack_jre() {
  [ -f "$KIT/jre.tar.xz" ] || { echo "run: $KIT/jre.tar.xz missing; run 'scripts/gpu-check.sh prepare' here and carry .gpu-check" >&2; exit 2; }
  JRE=${TMPDIR:-/tmp}/peregrine-gpu-check/jre
  if [ ! -x "$JRE/bin/java" ]; then
    mkdir -p "${JRE%/jre}"
    tar -xJf "$KIT/jre.tar.xz" -C "${JRE%/jre}" 2>/dev/null \
      || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$KIT/jre.tar.xz" "${JRE%/jre}"
  fi
}

run() {
  unpack_jre
  mkdir -p "$OUTDIR"
  nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem,driver_version --format=csv,noheader || true
  echo "== SASS census of the sm_90a cubin"
  if command -v cuobjdump >/dev/null; then
    cuobjdump -sass "$KIT/peregrine.cubin" > "$OUTDIR/peregrine.sass" || true
    echo "HMMA (mma.sync) $(grep -c HMMA "$OUTDIR/peregrine.sass" || true), HGMMA (wgmma) $(grep -c HGMMA "$OUTDIR/peregrine.sass" || true), LDG.E.128 $(grep -c 'LDG.E.128' "$OUTDIR/peregrine.sass" || true), local LDL/STL $(grep -cE 'LDL|STL' "$OUTDIR/peregrine.sass" || true)"
    cuobjdump --dump-resource-usage "$KIT/peregrine.cubin" > "$OUTDIR/resource-usage.txt" 2>&1 || true
  fi
  echo "== ceilings (PyTorch)"
  local line; line=$(ceilings | grep CEILINGS | tail -1 || true); echo "${line:-no ceilings from PyTorch}"
  local copy=-1 tflops=-1; [ -n "$line" ] && read -r _ copy tflops <<<"$line"
  echo "== NCCL smoke test (one rank: init, all-reduce, all-gather, broadcast, barrier; exit 2 = no NCCL here)"
  timeout 60 "$JRE/bin/java" "${JFLAGS[@]}" -cp "$KIT/lib/*" io.peregrine.kernels.nccl.NcclSmoke 2>&1 \
    | tee "$OUTDIR/nccl-smoke.log" || true
  echo "== sharded code path on one GPU (golden tiny model, one-rank NCCL all-reduces on the device activations)"
  timeout 120 "$JRE/bin/java" -Xmx2g "${JFLAGS[@]}" -cp "$KIT/lib/*" io.peregrine.kernels.nccl.ShardedNcclSmoke \
    --testdata "$ROOT/testdata" 2>&1 | tee "$OUTDIR/sharded-nccl-smoke.log" || true
  echo "== kernel checks, timings, synthetic decode step"
  set -o pipefail
  timeout 400 "$JRE/bin/java" -Xmx8g "${JFLAGS[@]}" -cp "$KIT/lib/*" \
    io.peregrine.kernels.check.GpuCheck --copy-gbs "$copy" --bf16-tflops "$tflops" --testdata "$ROOT/testdata" "$@" 2>&1 \
    | tee "$OUTDIR/gpu-check.log"
}

case "${1:-auto}" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  auto)
    if [ ! -f "$KIT/jre.tar.xz" ] && [ -x "$JDK/bin/jlink" ]; then prepare; fi
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then run; else echo "no GPU here: prepared only"; fi ;;
  *) echo "usage: $0 [prepare|run [GpuCheck args]]" >&2; exit 2 ;;
esac
