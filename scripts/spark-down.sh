#!/usr/bin/env bash
# Stops the cluster that spark-up.sh started: each process by the pid spark-up.sh recorded
# (SIGTERM, then SIGKILL after 20 s), never by name. Leaves the logs in $FLUZ_SPARK_DIR.
set -uo pipefail

STATE="${FLUZ_SPARK_DIR:-${TMPDIR:-/tmp}/fluz-spark}"

stop_pidfile() {
  local pidfile=$1 pid waited=0
  [ -s "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 20 ]; do
      sleep 1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "spark-down: $(basename "$pidfile" .pid) ($pid) ignored SIGTERM for 20s; SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

[ -d "$STATE/pids" ] || { echo "spark-down: nothing recorded in $STATE" >&2; exit 0; }
# The Connect server first (its executors end with it), then the workers, then the master.
for pidfile in "$STATE"/pids/spark-*SparkConnectServer*.pid; do
  [ -e "$pidfile" ] && stop_pidfile "$pidfile"
done
stop_pidfile "$STATE/pids/worker-1.pid"
stop_pidfile "$STATE/pids/worker-2.pid"
stop_pidfile "$STATE/pids/master.pid"
rm -f "$STATE/env.sh"
echo "spark-down: stopped (logs kept in $STATE/logs)" >&2
