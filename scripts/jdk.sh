# Sourced by ./peregrine and the scripts: finds a JDK 25 or newer and exports JAVA_HOME and PATH for it.
java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'; }

find_jdk() {
  local c
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/java-25* \
           /usr/lib/jvm/jdk-25* /opt/java/openjdk /opt/jdk-25* /Library/Java/JavaVirtualMachines/*25*/Contents/Home \
           "$(dirname "$(dirname "$(readlink -f "$(command -v javac 2>/dev/null || echo /nonexistent)")" 2>/dev/null)" 2>/dev/null)"; do
    [ -n "$c" ] && [ -x "$c/bin/javac" ] || continue
    local v; v="$(java_major "$c")"
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$c"; return 0; fi
  done
  return 1
}

use_jdk() {
  local jdk
  if ! jdk="$(find_jdk)"; then
    cat >&2 <<'MSG'
peregrine: no JDK 25 or newer found.
  Looked at $JAVA_HOME, /usr/lib/jvm/*25*, /opt/java/openjdk and the javac on PATH.
  Install one (e.g. Eclipse Temurin 25: apt-get install temurin-25-jdk, or https://adoptium.net),
  or point JAVA_HOME at it.
MSG
    exit 1
  fi
  export JAVA_HOME="$jdk"
  export PATH="$JAVA_HOME/bin:$PATH"
}
