#!/usr/bin/env bash
# Starts a private standalone Spark cluster on 127.0.0.1 for fluz's tests and benchmarks: one
# master, two workers (1 core, 2 GB each) and the Spark Connect server (sc://127.0.0.1:15002).
#
#   scripts/spark-up.sh              start everything (a no-op when it already runs)
#   scripts/spark-up.sh worker N     (re)start worker N (1 or 2) only, e.g. after a fault test
#
# Spark comes from the pyspark wheel on PyPI (it ships the jars and bin/spark-class), installed
# into a venv outside the clone and kept between runs: $FLUZ_SPARK_VENV, default
# ~/.cache/fluz-spark-venv. Java 17 comes from Debian's openjdk-17-jre-headless when missing.
# Logs, pid files and the workers' scratch folders go to $FLUZ_SPARK_DIR (default
# ${TMPDIR:-/tmp}/fluz-spark), and $FLUZ_SPARK_DIR/env.sh exports FLUZ_TEST_SPARK_URL,
# FLUZ_TEST_SPARK_DIR and FLUZ_TEST_SPARK_UI (the Connect server's UI, whose REST API the fault
# test reads) for the tests: `. "$FLUZ_SPARK_DIR/env.sh"`. Stop with spark-down.sh.
set -euo pipefail

PYSPARK_VERSION=4.3.0
VENV="${FLUZ_SPARK_VENV:-$HOME/.cache/fluz-spark-venv}"
STATE="${FLUZ_SPARK_DIR:-${TMPDIR:-/tmp}/fluz-spark}"
HOST=127.0.0.1
# The usual ports, or free ones when another cluster (or anything else) holds them: env.sh
# tells the tests which. FLUZ_SPARK_MASTER_PORT / FLUZ_SPARK_CONNECT_PORT pin them.
port_or_free() {
  python3 - "$1" <<'PY'
import socket, sys
want = int(sys.argv[1])
def bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); return True
    except OSError:
        return False
    finally:
        s.close()
if bindable(want):
    print(want)
else:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}
READY_TIMEOUT="${FLUZ_SPARK_READY_TIMEOUT:-240}"

say() { echo "spark-up: $*" >&2; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits until file $1 contains the text $2 (or the process of pid file $3 dies, or time runs out).
wait_for() {
  local file=$1 text=$2 pidfile=$3 what=$4 waited=0
  until grep -qF -- "$text" "$file" 2>/dev/null; do
    if ! alive "$pidfile"; then
      say "$what died while starting; the end of its log ($file):"
      tail -n 30 "$file" >&2 || true
      exit 1
    fi
    if [ "$waited" -ge "$READY_TIMEOUT" ]; then
      say "$what not ready after ${READY_TIMEOUT}s; the end of its log ($file):"
      tail -n 30 "$file" >&2 || true
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

install_spark() {
  if ! command -v java >/dev/null 2>&1; then
    say "installing Java 17 (openjdk-17-jre-headless)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
  fi
  if ! "$VENV/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
    say "installing pyspark $PYSPARK_VERSION into $VENV (about 500 MB, a few minutes; cached afterwards)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "pyspark==$PYSPARK_VERSION"
  fi
  SPARK_HOME="$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
  export SPARK_HOME SPARK_LOG_DIR="$STATE/logs" SPARK_PID_DIR="$STATE/pids"
  # The machine may have no resolvable host name; everything binds to the loopback address.
  export SPARK_LOCAL_IP=$HOST SPARK_MASTER_HOST=$HOST
  mkdir -p "$SPARK_LOG_DIR" "$SPARK_PID_DIR"
}

start_master() {
  if alive "$STATE/pids/master.pid"; then return; fi
  : >"$STATE/logs/master.log"
  nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host $HOST --port $MASTER_PORT --webui-port 8080 \
    >"$STATE/logs/master.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/master.pid"
  wait_for "$STATE/logs/master.log" "I have been elected leader" "$STATE/pids/master.pid" master
}

# spark-class execs java, so the recorded pid is the worker's JVM (the fault test kills it).
start_worker() {
  local n=$1 log="$STATE/logs/worker-$1.log" pidfile="$STATE/pids/worker-$1.pid"
  if alive "$pidfile"; then return; fi
  mkdir -p "$STATE/work/w$n"
  : >"$log"
  nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    --host $HOST --cores 1 --memory 2g --webui-port $((8080 + n)) --work-dir "$STATE/work/w$n" \
    "spark://$HOST:$MASTER_PORT" >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  wait_for "$log" "Successfully registered with master" "$pidfile" "worker $n"
}

start_connect() {
  local pidfile
  pidfile="$(ls "$STATE"/pids/spark-*SparkConnectServer*.pid 2>/dev/null | head -n 1 || true)"
  if [ -n "$pidfile" ] && alive "$pidfile"; then return; fi
  "$SPARK_HOME/sbin/start-connect-server.sh" --master "spark://$HOST:$MASTER_PORT" \
    --conf spark.connect.grpc.binding.address=$HOST \
    --conf spark.connect.grpc.binding.port=$CONNECT_PORT \
    --conf spark.executor.memory=1g \
    --conf spark.ui.port=4040 \
    --conf spark.sql.session.timeZone=UTC >/dev/null
  pidfile="$(ls "$STATE"/pids/spark-*SparkConnectServer*.pid | head -n 1)"
  local log
  log="$(ls -t "$STATE"/logs/spark-*SparkConnectServer*.out | head -n 1)"
  wait_for "$log" "Spark Connect server started at" "$pidfile" "Spark Connect server"
}

write_env() {
  # The UI (and its REST API, which the fault test reads) moves up from 4040 when that is taken.
  local log ui_port
  log="$(ls -t "$STATE"/logs/spark-*SparkConnectServer*.out | head -n 1)"
  ui_port="$(sed -n "s/.*Successfully started service 'SparkUI' on port \([0-9]*\).*/\1/p" "$log" | tail -n 1)"
  cat >"$STATE/env.sh" <<EOF
export FLUZ_TEST_SPARK_URL=sc://$HOST:$CONNECT_PORT
export FLUZ_TEST_SPARK_DIR=$STATE
export FLUZ_TEST_SPARK_UI=http://$HOST:${ui_port:-4040}
export FLUZ_SPARK_DIR=$STATE
EOF
}

started=$(date +%s)
mkdir -p "$STATE"
# The ports are chosen once, when the cluster starts, and kept in the state folder: a worker
# restarted later (the fault test does) must find the same master.
if [ -s "$STATE/ports" ] && alive "$STATE/pids/master.pid"; then
  # shellcheck disable=SC1091
  . "$STATE/ports"
else
  MASTER_PORT="${FLUZ_SPARK_MASTER_PORT:-$(port_or_free 7077)}"
  CONNECT_PORT="${FLUZ_SPARK_CONNECT_PORT:-$(port_or_free 15002)}"
  printf 'MASTER_PORT=%s\nCONNECT_PORT=%s\n' "$MASTER_PORT" "$CONNECT_PORT" >"$STATE/ports"
fi
install_spark
case "${1:-all}" in
  all)
    start_master
    start_worker 1
    start_worker 2
    start_connect
    write_env
    say "cluster up in $(( $(date +%s) - started ))s: master spark://$HOST:$MASTER_PORT, 2 workers, Spark Connect sc://$HOST:$CONNECT_PORT (state in $STATE; . $STATE/env.sh)"
    ;;
  worker)
    case "${2:-}" in 1 | 2) ;; *) say "usage: spark-up.sh worker 1|2"; exit 2 ;; esac
    start_worker "$2"
    say "worker $2 up in $(( $(date +%s) - started ))s"
    ;;
  *)
    say "usage: spark-up.sh [all | worker 1|2]"
    exit 2
    ;;
esac
