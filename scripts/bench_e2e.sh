#!/usr/bin/env bash
# End-to-end benchmark: `fluz run-all` on the real data and on generated data at 1×, 10× and 25×
# the real data's size, with the Parquet store and with PostgreSQL (push-down on). Writes a
# markdown table of per-stage medians, totals and peak RSS to stdout (paste into BENCHMARKS.md).
#
#   scripts/bench_e2e.sh [runs=3] [sizes="4400 44000 110000"]
#
# BENCH_EXTRA may hold more TOML appended to every case's config (e.g. "[train]
# cv_max_rows = 15000" for the scale runs), BENCH_REAL=0 skips the real-data cases and
# BENCH_STORES (default "parquet postgres") picks the stores.
#
# Needs: a release build (cargo build --release), GNU time (/usr/bin/time), and for the
# PostgreSQL rows the server binaries (it starts a private server on a free port).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
SIZES="${2:-4400 44000 110000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fluz-target}"
FLUZ="$CARGO_TARGET_DIR/release/fluz"
WORK="${BENCH_DIR:-/tmp/fluz-bench}"
mkdir -p "$WORK"
command -v /usr/bin/time >/dev/null || { echo "install GNU time (apt-get install time)"; exit 2; }

# A private PostgreSQL server.
PG_URL=""
start_pg() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  local dir="$WORK/pg"
  rm -rf "$dir"; mkdir -p "$dir"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local run=()
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$dir"; run=(runuser -u postgres --); fi
  "${run[@]}" "$bin/initdb" -D "$dir/data" -U fluz --auth=trust -E UTF8 --no-sync >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c wal_level=minimal -c max_wal_senders=0 -c full_page_writes=off -c shared_buffers=1GB -c work_mem=256MB -c max_parallel_workers_per_gather=2" start >/dev/null
  PG_URL="postgres://fluz@127.0.0.1:$port/postgres"
  PG_STOP=("${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop)
}
stop_pg() { [ -n "$PG_URL" ] && "${PG_STOP[@]}" >/dev/null 2>&1 || true; }
trap stop_pg EXIT

# run_case NAME CONFIG_EXTRA RETAIL SOCIAL MERCHANTS LINES
run_case() {
  local name="$1" extra="$2" retail="$3" social="$4" merchants="$5" lines="$6"
  local dir="$WORK/$name"
  mkdir -p "$dir"
  cat > "$dir/config.toml" <<TOML
[data]
retail = "$retail"
social = "$social"
merchants = "$merchants"
$extra
${BENCH_EXTRA:-}
TOML
  for i in $(seq "$RUNS"); do
    rm -rf "$dir/warehouse" "$dir/out"
    /usr/bin/time -f "%e %M" -o "$dir/time.$i" "$FLUZ" --config "$dir/config.toml" -q run-all
    python3 - "$dir" "$i" <<'PY'
import json, sys
d, i = sys.argv[1], sys.argv[2]
m = json.load(open(f"{d}/out/run_manifest.json"))
wall, rss = open(f"{d}/time.{i}").read().split()
stages = {s["stage"]: s["seconds"] for s in m["stages"]}
json.dump({"stages": stages, "wall": float(wall), "rss_mb": int(rss) / 1024}, open(f"{d}/run.{i}.json", "w"))
PY
  done
  python3 - "$dir" "$RUNS" "$name" "$lines" <<'PY'
import json, statistics, sys
d, runs, name, lines = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rs = [json.load(open(f"{d}/run.{i}.json")) for i in range(1, runs + 1)]
order = ["ingest", "eda", "clv", "segment", "train", "simulate-offers", "uplift", "explain", "allocate", "export"]
med = lambda xs: statistics.median(xs)
cells = [f"{med([r['stages'].get(s, 0) for r in rs]):.2f}" for s in order]
print(f"| {name} | {lines} | " + " | ".join(cells) + f" | **{med([r['wall'] for r in rs]):.2f}** | {max(r['rss_mb'] for r in rs):.0f} |")
PY
}

echo "| case | retail lines | ingest | eda | clv | segment | train | simulate-offers | uplift | explain | allocate | export | total (s) | peak RSS (MB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
if [ "${BENCH_REAL:-1}" = 1 ] && [ -f ../shared/data/online_retail.csv.gz ]; then
  D="$(cd ../shared/data && pwd)"
  run_case real-csv-parquet "" "$D/online_retail.csv.gz" "$D/facebook_combined.txt" "$D/yelp_academic_dataset_business.head5000.json" 541909
  run_case real-xlsx-parquet "" "$D/Online Retail.xlsx" "$D/facebook_combined.txt" "$D/yelp_academic_dataset_business.head5000.json" 541909
fi
start_pg
for n in $SIZES; do
  g="$WORK/gen-$n"
  if [ ! -f "$g/online_retail.csv" ]; then "$FLUZ" -q generate --out "$g" --customers "$n" --seed 42 --format csv; fi
  lines=$(($(wc -l < "$g/online_retail.csv") - 1))
  case " ${BENCH_STORES:-parquet postgres} " in *" parquet "*)
  run_case "gen-$n-parquet" "" "$g/online_retail.csv" "$g/facebook_combined.txt" "$g/yelp_academic_dataset_business.json" "$lines" ;; esac
  case " ${BENCH_STORES:-parquet postgres} " in *" postgres "*)
  run_case "gen-$n-postgres" "[store]
kind = \"postgres\"
url = \"$PG_URL\"
schema = \"bench_$n\"
pushdown = true" "$g/online_retail.csv" "$g/facebook_combined.txt" "$g/yelp_academic_dataset_business.json" "$lines" ;; esac
done
