#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) without
# Docker: the broker jars come from Maven Central (deploy/local/kafka/pom.xml).
#
# Usage: deploy/local/kafka.sh fetch|start|stop|status|restart|logs
#
# Environment (defaults):
#   TESSERA_LOCAL          <repo root>/.local   shared jars: $TESSERA_LOCAL/kafka/lib
#   KAFKA_PORT             9092                 PLAINTEXT listener on 127.0.0.1
#   KAFKA_CONTROLLER_PORT  KAFKA_PORT+1         KRaft controller listener
#   KAFKA_DATA_DIR         $TESSERA_LOCAL/kafka-data-$KAFKA_PORT
#   KAFKA_HEAP_OPTS        -Xms1g -Xmx1g        (smaller heaps OOM in the log cleaner)
#   KAFKA_JVM_PERFORMANCE_OPTS  G1 as Kafka's own scripts run it (the collector and compiler flags)
#   KAFKA_START_TIMEOUT    120                  seconds to wait for readiness
#
# Several instances can run side by side (e.g. `make run` on 9092 and
# `make test` on 19092): the jars are shared, every port has its own data dir,
# server.properties, cluster id, broker.log and broker.pid.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
KAFKA_CONF_DIR="$SCRIPT_DIR/kafka"
POM="$KAFKA_CONF_DIR/pom.xml"
LOG4J_CONF="$KAFKA_CONF_DIR/log4j2.properties"

TESSERA_LOCAL="${TESSERA_LOCAL:-$REPO_ROOT/.local}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$TESSERA_LOCAL/kafka-data-$KAFKA_PORT}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms1g -Xmx1g}"
KAFKA_JVM_PERFORMANCE_OPTS="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
KAFKA_HOST=127.0.0.1
# Absolute paths: `stop` finds the broker by the props path on its command line.
KAFKA_DATA_DIR="$(realpath -m "$KAFKA_DATA_DIR")"
TESSERA_LOCAL="$(realpath -m "$TESSERA_LOCAL")"

LIB_DIR="$TESSERA_LOCAL/kafka/lib"
PROPS="$KAFKA_DATA_DIR/server.properties"
LOG_DIRS="$KAFKA_DATA_DIR/logs"
CLUSTER_ID_FILE="$KAFKA_DATA_DIR/cluster.id"
BROKER_LOG="$KAFKA_DATA_DIR/broker.log"
PID_FILE="$KAFKA_DATA_DIR/broker.pid"
READY_LINE="Kafka Server started"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- helpers ---------------------------------------------------------------

port_open() { # port_open PORT -> 0 when something accepts TCP on 127.0.0.1:PORT
    timeout 2 bash -c "exec 3<>/dev/tcp/$KAFKA_HOST/$1" 2>/dev/null
}

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

require_java() {
    local java_bin
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        java_bin="$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        java_bin="$(command -v java)"
    else
        die "java not found: Kafka 4.x needs a Java 17+ runtime (Debian: apt-get install -y openjdk-17-jre-headless), or set JAVA_HOME"
    fi
    local version major
    version="$("$java_bin" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
    major="${version%%.*}"
    if [[ "$major" =~ ^[0-9]+$ ]] && ((major < 17)); then
        die "$java_bin is Java $version; the Kafka 4.x broker needs Java 17+"
    fi
    JAVA_BIN="$java_bin"
}

lib_complete() {
    # A finished fetch is renamed into place, so any jar means complete; the stamp
    # also detects a pom.xml change (then the jars are fetched again).
    compgen -G "$LIB_DIR/*.jar" >/dev/null || return 1
    [[ "$(cat "$LIB_DIR/.pom.sha256" 2>/dev/null)" == "$(pom_hash)" ]]
}

# Hash of the coordinates only, so editing comments does not trigger a re-fetch.
pom_hash() { grep -E '<(groupId|artifactId|version)>' "$POM" | tr -d '[:space:]' | sha256sum | awk '{print $1}'; }

# pid_is_ours PID -> 0 when PID is a live kafka.Kafka using this instance's props
pid_is_ours() {
    local pid="$1" args=()
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    mapfile -d '' -t args <"/proc/$pid/cmdline" 2>/dev/null || return 1
    ((${#args[@]} >= 2)) || return 1
    [[ "${args[-2]}" == kafka.Kafka && "${args[-1]}" == "$PROPS" ]]
}

running_pid() { # prints the pid of this instance's broker, if it runs
    local pid dir
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    if pid_is_ours "$pid"; then printf '%s' "$pid"; return 0; fi
    # Pid file lost or stale: look for a java whose command line names our props.
    for dir in /proc/[0-9]*; do
        pid="${dir#/proc/}"
        if pid_is_ours "$pid"; then printf '%s' "$pid"; return 0; fi
    done
    return 1
}

# --- fetch -----------------------------------------------------------------

cmd_fetch() {
    mkdir -p "$TESSERA_LOCAL/kafka"
    lib_complete && return 0
    command -v mvn >/dev/null 2>&1 || die "mvn not found (Debian: apt-get install -y maven)"
    # Serialise concurrent fetches (make run and make test may start together).
    exec 8>"$TESSERA_LOCAL/kafka/.fetch.lock"
    flock 8
    if lib_complete; then exec 8>&-; return 0; fi
    # Leftovers of an interrupted fetch (killed before its trap could run).
    rm -rf "$TESSERA_LOCAL/kafka"/lib.tmp.* "$LIB_DIR".old.*
    log "fetching Kafka jars from Maven Central into $LIB_DIR ..."
    local t0 tmp mvn_log
    t0="$(now)"
    tmp="$(mktemp -d "$TESSERA_LOCAL/kafka/lib.tmp.XXXXXX")"
    mvn_log="$tmp.mvn.log"
    # Trap removes the partial download if we are interrupted.
    trap 'rm -rf "$tmp" "$mvn_log"' EXIT
    if ! mvn -B -q -f "$POM" \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
        cat "$mvn_log" >&2
        die "maven fetch failed"
    fi
    compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "maven fetch produced no kafka_2.13 jar in $tmp"
    pom_hash >"$tmp/.pom.sha256"
    if [[ -e "$LIB_DIR" ]]; then
        # Stale (pom changed) or empty: move aside, running brokers keep their open jars.
        local old="$LIB_DIR.old.$$"
        mv "$LIB_DIR" "$old"
        rm -rf "$old"
    fi
    mv "$tmp" "$LIB_DIR"
    rm -f "$mvn_log"
    trap - EXIT
    exec 8>&-
    log "fetched $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')s"
}

# --- start -----------------------------------------------------------------

write_props() {
    cat >"$PROPS.tmp" <<EOF
# Generated by deploy/local/kafka.sh on every start; edits are overwritten.
# Single-node KRaft cluster: this process is both broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOG_DIRS

# Topics are created explicitly by the services / tests (as in production).
auto.create.topics.enable=false
num.partitions=6
default.replication.factor=1

# One broker: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1

# Fast consumer-group joins for tests.
group.initial.rebalance.delay.ms=0
# Consumers may ask for session timeouts down to 1 s (the default floor is 6 s): the services use
# 3 s, so that a killed replica's partitions move within 5 s (docs/operations.md, "Consumer groups
# and rejoin").
group.min.session.timeout.ms=1000
EOF
    mv "$PROPS.tmp" "$PROPS"
}

format_storage() {
    [[ -f "$LOG_DIRS/meta.properties" ]] && return 0
    local cluster_id
    if [[ -s "$CLUSTER_ID_FILE" ]]; then
        cluster_id="$(cat "$CLUSTER_ID_FILE")"
    else
        cluster_id="$("$JAVA_BIN" -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$LIB_DIR/*" \
            kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 | tr -d '[:space:]')" \
            || die "kafka.tools.StorageTool random-uuid failed"
        [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] \
            || die "StorageTool random-uuid printed no cluster id (got '$cluster_id')"
        printf '%s\n' "$cluster_id" >"$CLUSTER_ID_FILE"
    fi
    log "formatting $LOG_DIRS (cluster id $cluster_id)"
    # -g: a re-run on an already formatted dir is harmless.
    if ! "$JAVA_BIN" -Dlog4j2.configurationFile="$LOG4J_CONF" -cp "$LIB_DIR/*" \
        kafka.tools.StorageTool format --standalone -g -t "$cluster_id" -c "$PROPS" \
        >"$KAFKA_DATA_DIR/format.log" 2>&1; then
        cat "$KAFKA_DATA_DIR/format.log" >&2
        die "formatting $LOG_DIRS failed"
    fi
}

# wait_ready PID T0 -> 0 when ready; 1 on timeout / exit of PID
wait_ready() {
    local pid="$1" t0="$2" deadline
    deadline="$(awk -v a="$t0" -v t="$KAFKA_START_TIMEOUT" 'BEGIN{printf "%.3f", a+t}')"
    while :; do
        if port_open "$KAFKA_PORT" && grep -q "$READY_LINE" "$BROKER_LOG" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "broker process $pid exited during start-up"
            return 1
        fi
        if awk -v n="$(now)" -v d="$deadline" 'BEGIN{exit !(n > d)}'; then
            log "broker not ready after ${KAFKA_START_TIMEOUT}s"
            return 1
        fi
        sleep 0.2
    done
}

cmd_start() {
    require_java
    cmd_fetch
    mkdir -p "$KAFKA_DATA_DIR"
    # Serialise concurrent starts of the same instance. The broker must not
    # inherit this fd (see 9>&- below) or it would hold the lock forever.
    exec 9>"$KAFKA_DATA_DIR/.start.lock"
    flock 9

    local t0 pid
    t0="$(now)"
    if port_open "$KAFKA_PORT"; then
        echo "kafka already running on $KAFKA_PORT"
        return 0
    fi
    if pid="$(running_pid)"; then
        # Our broker is alive but not yet listening (start in progress).
        log "broker pid $pid is starting; waiting for it"
    else
        if port_open "$KAFKA_CONTROLLER_PORT"; then
            die "controller port $KAFKA_HOST:$KAFKA_CONTROLLER_PORT is in use by something else; set KAFKA_CONTROLLER_PORT"
        fi
        write_props
        format_storage
        if [[ -f "$BROKER_LOG" ]]; then mv -f "$BROKER_LOG" "$BROKER_LOG.1"; fi
        # shellcheck disable=SC2086  # the _OPTS are lists of JVM flags
        nohup "$JAVA_BIN" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="$LOG4J_CONF" \
            -Dkafka.logs.dir="$KAFKA_DATA_DIR" \
            -cp "$LIB_DIR/*" kafka.Kafka "$PROPS" \
            >"$BROKER_LOG" 2>&1 </dev/null 8>&- 9>&- &
        pid=$!
        printf '%s\n' "$pid" >"$PID_FILE"
    fi

    if wait_ready "$pid" "$t0"; then
        echo "kafka started on $KAFKA_HOST:$KAFKA_PORT in $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')s"
        return 0
    fi
    echo "---- last 40 lines of $BROKER_LOG ----" >&2
    tail -n 40 "$BROKER_LOG" >&2 || true
    # Do not leave a half-started 1 GiB JVM behind.
    stop_pid "$pid" >/dev/null 2>&1 || true
    rm -f "$PID_FILE"
    exit 1
}

# --- stop / status ---------------------------------------------------------

stop_pid() { # TERM, wait up to 30 s, then KILL
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "broker $pid did not exit within 30s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}

cmd_stop() {
    local pid
    if pid="$(running_pid)"; then
        local t0
        t0="$(now)"
        stop_pid "$pid"
        rm -f "$PID_FILE"
        echo "kafka on $KAFKA_PORT stopped (pid $pid, $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')s)"
    else
        rm -f "$PID_FILE"
        if port_open "$KAFKA_PORT"; then
            log "warning: something answers on $KAFKA_HOST:$KAFKA_PORT but it was not started from $KAFKA_DATA_DIR; left alone"
        fi
        echo "kafka on $KAFKA_PORT not running"
    fi
}

cmd_status() {
    if port_open "$KAFKA_PORT"; then
        echo "running"
        return 0
    fi
    echo "not running"
    return 1
}

usage() {
    sed -n '2,/^set -euo/p' "$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    logs) tail -n "${2:-100}" "$BROKER_LOG" ;;
    *) usage ;;
esac
