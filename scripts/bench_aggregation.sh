#!/usr/bin/env bash
# The aggregation transactions → customer_features (`fluz eda`) on generated data at 1×, 10× and
# 25× the real data's customers, three ways: polars in fluz's process (the Parquet store),
# PostgreSQL push-down (a private server), and Spark push-down (the cluster of
# scripts/spark-up.sh: two 1-core workers on loopback). Each case ingests once (not timed), then
# runs `fluz eda` RUNS times under GNU time: wall seconds and the peak RSS of fluz's own process
# (PostgreSQL's and the JVMs' memory are not in it). Prints a markdown table (median wall, max
# RSS) for BENCHMARKS.md.
#
#   scripts/spark-up.sh && . "${FLUZ_SPARK_DIR:-/tmp/fluz-spark}/env.sh"
#   scripts/bench_aggregation.sh [runs=3] [sizes="4400 44000 110000"]
#
# BENCH_STORES (default "parquet postgres spark") picks the cases.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
SIZES="${2:-4400 44000 110000}"
STORES="${BENCH_STORES:-parquet postgres spark}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fluz-target}"
FLUZ="$CARGO_TARGET_DIR/release/fluz"
WORK="${BENCH_DIR:-/tmp/fluz-bench-agg}"
SPARK_URL="${FLUZ_TEST_SPARK_URL:-sc://127.0.0.1:15002}"
mkdir -p "$WORK"
command -v /usr/bin/time >/dev/null || { echo "install GNU time (apt-get install time)"; exit 2; }

PG_URL=""
PG_STOP=()
start_pg() {
  local bin dir="$WORK/pg" port run=()
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  rm -rf "$dir"; mkdir -p "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$dir"; run=(runuser -u postgres --); fi
  "${run[@]}" "$bin/initdb" -D "$dir/data" -U fluz --auth=trust -E UTF8 --no-sync >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c wal_level=minimal -c max_wal_senders=0 -c full_page_writes=off -c shared_buffers=1GB -c work_mem=256MB -c max_parallel_workers_per_gather=2" start >/dev/null
  PG_URL="postgres://fluz@127.0.0.1:$port/postgres"
  PG_STOP=("${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop)
}
stop_pg() { if [ -n "$PG_URL" ]; then "${PG_STOP[@]}" >/dev/null 2>&1 || true; fi; }
trap stop_pg EXIT

# run_case NAME STORE_TOML DATA_DIR LINES
run_case() {
  local name="$1" store="$2" data="$3" lines="$4" dir="$WORK/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  cat > "$dir/config.toml" <<TOML
[data]
retail = "$data/online_retail.csv"
social = "$data/facebook_combined.txt"
merchants = "$data/yelp_academic_dataset_business.json"
[store]
$store
TOML
  "$FLUZ" --config "$dir/config.toml" -q ingest
  for i in $(seq "$RUNS"); do
    /usr/bin/time -v -o "$dir/time.$i" "$FLUZ" --config "$dir/config.toml" -q eda
  done
  python3 - "$dir" "$RUNS" "$name" "$lines" <<'PY'
import re, statistics, sys
d, runs, name, lines = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
walls, rss = [], []
for i in range(1, runs + 1):
    text = open(f"{d}/time.{i}").read()
    h, m, s = (["0"] + re.search(r"Elapsed \(wall clock\) time.*: (\S+)", text).group(1).split(":"))[-3:]
    walls.append(int(h) * 3600 + int(m) * 60 + float(s))
    rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024)
print(f"| {name} | {lines:,} | {statistics.median(walls):.2f} | {min(walls):.2f}–{max(walls):.2f} | {max(rss):.0f} |")
PY
}

case " $STORES " in *" postgres "*) start_pg ;; esac
echo "| case | retail lines | eda wall, median (s) | range (s) | fluz peak RSS (MB) |"
echo "|---|---:|---:|---:|---:|"
for n in $SIZES; do
  g="$WORK/gen-$n"
  if [ ! -f "$g/online_retail.csv" ]; then "$FLUZ" -q generate --out "$g" --customers "$n" --seed 42 --format csv; fi
  lines=$(($(wc -l < "$g/online_retail.csv") - 1))
  for store in $STORES; do
    case "$store" in
      parquet) run_case "gen-$n-polars" 'kind = "parquet"' "$g" "$lines" ;;
      postgres) run_case "gen-$n-postgres" "kind = \"postgres\"
url = \"$PG_URL\"
schema = \"bench_$n\"
pushdown = true" "$g" "$lines" ;;
      spark) run_case "gen-$n-spark" "kind = \"spark\"
spark_url = \"$SPARK_URL\"
pushdown = true" "$g" "$lines" ;;
    esac
  done
done
