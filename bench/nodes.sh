#!/usr/bin/env bash
# Several nodes on PostgreSQL (issue 16): the 1,000 x 50 synthetic farm
# served by loopback nginx on H host addresses (127.0.0.1 .. 127.0.0.H, one
# port), polled
#   single        one `poll --all --json` cold then all-304, on SQLite and on
#                 PostgreSQL (one fresh database each)
#   nodes N       N `polyfeed --node nI run` daemons on one fresh PostgreSQL
#                 database, every source due DUE_IN (20) s after they start,
#                 so that all are alive when it falls due; done when every
#                 source has a fetch, every entry is stored and none waits
#                 for a story (wall counted from the due time); then SIGTERM
#   polls N       N `polyfeed --node nI poll` (no --all) started together
# Each polyfeed process runs under /usr/bin/time; PostgreSQL's CPU is the
# cluster's processes' utime+stime (+ reaped children's) before and after.
#
#   URL=$(scripts/pg-cluster start)
#   PG_URL=$URL BIN=target/debug/polyfeed bench/nodes.sh single
#   PG_URL=$URL bench/nodes.sh nodes 2
#
# Environment: PG_URL (required), BIN (default target/debug/polyfeed),
# WORK (default /tmp/pf-nodes; the farm is generated there once), HOSTS
# (default 12), FEEDS (1000), ENTRIES (50). Results: one JSON line per
# measurement appended to $WORK/results.jsonl, logs under $WORK/runs.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(realpath "${BIN:-$ROOT/target/debug/polyfeed}")
WORK=${WORK:-/tmp/pf-nodes}
HOSTS=${HOSTS:-12}
FEEDS=${FEEDS:-1000}
ENTRIES=${ENTRIES:-50}
: "${PG_URL:?PG_URL: a PostgreSQL URL (scripts/pg-cluster start prints one)}"
PGDATA_DIR=$ROOT/target/pg-cluster/data
export POLYFEED_LEXICON=${POLYFEED_LEXICON:-$ROOT/data/lexicon}
export PATH=$PATH:/usr/sbin
log() { printf '[nodes %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

NGINX_PID=""
DAEMONS=()
cleanup() {
    for p in "${DAEMONS[@]}"; do kill -TERM $(cat /proc/"$p"/task/*/children 2>/dev/null) 2>/dev/null || true; done
    for p in "${DAEMONS[@]}" $NGINX_PID; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

mkdir -p "$WORK/runs"
if [[ ! -s $WORK/www/farm/urls.txt ]]; then
    log "generating the farm ($FEEDS x $ENTRIES)"
    python3 "$ROOT/bench/gen_farm.py" "$WORK/www/farm" --feeds "$FEEDS" --entries "$ENTRIES" --seed 1 >"$WORK/gen.json"
fi

start_nginx() {
    local dir=$WORK/nginx listen="" i
    mkdir -p "$dir/tmp"
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    for i in $(seq 1 "$HOSTS"); do listen+="        listen 127.0.0.$i:$PORT;"$'\n'; done
    cat >"$dir/nginx.conf" <<EOF
user root;
worker_processes 2;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    types { application/xml xml; }
    log_format farm '\$server_addr \$request_uri \$status';
    access_log $dir/access.log farm;
    etag on;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
$listen        root $WORK/www;
    }
}
EOF
    nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" &
    NGINX_PID=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.$HOSTS:$PORT/farm/urls.txt" && return; sleep 0.1; done
    log "nginx did not start"
    exit 1
}

# config DIR: feed i on host 127.0.0.(1 + i % HOSTS), the settings of bench/run.sh.
config() {
    mkdir -p "$1"
    python3 - "$1" "$WORK/www/farm/urls.txt" "$PORT" "$HOSTS" <<'EOF'
import sys
d, urls, port, hosts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
langs = ["fi", "sv", "en"]
with open(urls) as f, open(f"{d}/feeds.toml", "w") as out:
    out.write('[settings]\ndatabase = "polyfeed.db"\noutput_dir = "public"\nlanguages = ["fi", "sv", "en"]\n'
              'per_host_delay = "0s"\nper_host_concurrency = 32\nconcurrency = 32\ntimeout = "120s"\n')
    for i, name in enumerate(line.strip() for line in f):
        group = i // 3
        extra = f'lang = "{langs[i % 3]}"\ngroup = "g{group}"\n' if group % 3 == 0 else ""
        out.write(f'\n[[source]]\nurl = "http://127.0.0.{1 + i % hosts}:{port}/farm/{name}"\n{extra}')
EOF
}

psql_() { psql -X -q -At "$PG_URL" "$@"; }
# fresh_db NAME: drops and creates it; sets DB_URL.
fresh_db() {
    psql_ -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"
    DB_URL=${PG_URL%/*}/$1
}
# PostgreSQL's CPU so far, in clock ticks: the postmaster with its reaped
# children (backends that ended) and every live child.
pg_ticks() {
    local pm t=0 p
    pm=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
    for p in $pm $(cat /proc/"$pm"/task/*/children 2>/dev/null); do
        # fields 14..17: utime stime cutime cstime (after the comm field)
        t=$((t + $(sed -E 's/^.*\) //' /proc/"$p"/stat 2>/dev/null | awk '{print $12 + $13 + $14 + $15}' || echo 0)))
    done
    echo "$t"
}
TCK=$(getconf CLK_TCK)
pg_cpu_since() { awk "BEGIN{printf \"%.2f\", ($(pg_ticks) - $1) / $TCK}"; }
timef='{"wall_s": %e, "user_s": %U, "sys_s": %S, "rss_kib": %M}'
record() { echo "$1" | tee -a "$WORK/results.jsonl"; }

single() {
    local engine dir t0 pg0 db
    for engine in sqlite postgres; do
        dir=$WORK/runs/single-$engine
        rm -rf "$dir"
        config "$dir"
        db=$dir/polyfeed.db
        if [[ $engine == postgres ]]; then fresh_db pf_single; db=$DB_URL; fi
        # Migrations first, outside the measurement (`check` does not open the store: `sources` does).
        POLYFEED_DATABASE=$db "$BIN" --config "$dir/feeds.toml" sources >/dev/null
        for phase in cold warm; do
            pg0=$(pg_ticks)
            : >"$WORK/nginx/access.log"
            POLYFEED_DATABASE=$db /usr/bin/time -f "$timef" -o "$dir/time-$phase.json" \
                "$BIN" --config "$dir/feeds.toml" -q poll --all --json >"$dir/poll-$phase.json" 2>"$dir/poll-$phase.err" || true
            local pgcpu requests
            pgcpu=$(pg_cpu_since "$pg0")
            requests=$(wc -l <"$WORK/nginx/access.log")
            record "$(python3 - "$engine" "$phase" "$dir/time-$phase.json" "$dir/poll-$phase.json" "$pgcpu" "$requests" <<'EOF'
import json, sys
engine, phase, tf, pf, pg, req = sys.argv[1:]
t = json.loads(open(tf).read().strip().splitlines()[-1])
p = json.load(open(pf))
out = {"run": "single", "engine": engine, "phase": phase, **t, "pg_cpu_s": float(pg), "requests": int(req),
       "cycle_s": round(p["seconds"], 2), "phases": {k: round(v, 2) for k, v in p["phases"].items()},
       "ok": sum(s["outcome"] == "ok" for s in p["sources"]),
       "not_modified": sum(s["outcome"] == "not_modified" for s in p["sources"]),
       "new": sum(s["stats"]["new"] for s in p["sources"]), "stories": p["stories"]}
print(json.dumps(out))
EOF
            )"
        done
        [[ $engine == sqlite ]] && record "{\"run\": \"single\", \"engine\": \"sqlite\", \"db_bytes\": $(du -cb "$dir"/polyfeed.db* | tail -n 1 | cut -f1)}"
        [[ $engine == postgres ]] && record "{\"run\": \"single\", \"engine\": \"postgres\", \"db_bytes\": $(psql_ -c "SELECT pg_database_size('pf_single')")}"
    done
}

# counts: sources fetched, fetches, entries, waiting entries, stories.
counts() {
    psql -X -q -At -F ' ' "$DB_URL" -c "SELECT (SELECT COUNT(DISTINCT source_id) FROM fetches), (SELECT COUNT(*) FROM fetches),
        (SELECT COUNT(*) FROM entries), (SELECT COUNT(*) FROM story_pending), (SELECT COUNT(*) FROM stories)"
}

# many KIND N: N `run` daemons (KIND=nodes) or N `poll`s (KIND=polls), together, on one fresh database.
many() {
    local kind=$1 n=$2 i dir pg0 start
    dir=$WORK/runs/$kind-$n
    rm -rf "$dir"
    config "$dir"
    fresh_db "pf_${kind}_$n"
    POLYFEED_DATABASE=$DB_URL "$BIN" --config "$dir/feeds.toml" sources >/dev/null
    # Daemons: every source due DUE_IN seconds from now, so that every node
    # is up (and counted alive) when they wake together at that time; the
    # wall time counts from it. Polls: started together, timed from the start.
    local due_epoch=""
    if [[ $kind == nodes ]]; then
        due_epoch=$(($(date +%s) + ${DUE_IN:-20}))
        psql -X -q -At "$DB_URL" -c "UPDATE sources SET next_due_at = '$(date -u -d "@$due_epoch" +%Y-%m-%dT%H:%M:%SZ)'"
    fi
    : >"$WORK/nginx/access.log"
    pg0=$(pg_ticks)
    start=$(date +%s.%N)
    DAEMONS=()
    for i in $(seq 1 "$n"); do
        mkdir -p "$dir/n$i"
        sed "s|^output_dir = .*|output_dir = \"n$i/public\"|" "$dir/feeds.toml" >"$dir/n$i.toml"
        if [[ $kind == nodes ]]; then
            POLYFEED_DATABASE=$DB_URL /usr/bin/time -f "$timef" -o "$dir/time-n$i.json" \
                "$BIN" --config "$dir/n$i.toml" --node "n$i" -v run --listen 127.0.0.1:0 >"$dir/n$i.out" 2>"$dir/n$i.err" &
        else
            POLYFEED_DATABASE=$DB_URL /usr/bin/time -f "$timef" -o "$dir/time-n$i.json" \
                "$BIN" --config "$dir/n$i.toml" --node "n$i" -v poll --json >"$dir/n$i.out" 2>"$dir/n$i.err" &
        fi
        DAEMONS+=($!)
    done
    [[ -n $due_epoch ]] && start=$due_epoch
    local done_at="" c
    while :; do
        sleep 0.5
        c=$(counts 2>/dev/null || echo "0 0 0 1 0")
        read -r srcs fetches entries pending stories <<<"$c"
        if [[ $kind == polls ]]; then
            local alive=0
            for p in "${DAEMONS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
            ((alive)) || { done_at=$(date +%s.%N); break; }
        elif ((srcs == FEEDS && entries == FEEDS * ENTRIES && pending == 0)); then
            done_at=$(date +%s.%N)
            break
        fi
        if (($(date +%s) - ${start%.*} > 1200)); then log "timed out: $c"; break; fi
    done
    # Let the last cycle's publishing end (the daemons log "published").
    sleep 2
    # DAEMONS are /usr/bin/time processes: the signal goes to polyfeed, their child.
    for p in "${DAEMONS[@]}"; do kill -TERM $(cat /proc/"$p"/task/*/children 2>/dev/null) 2>/dev/null || true; done
    for p in "${DAEMONS[@]}"; do wait "$p" 2>/dev/null || true; done
    DAEMONS=()
    local pgcpu
    pgcpu=$(pg_cpu_since "$pg0")
    c=$(counts)
    local per_node
    per_node=$(psql -X -q -At -F ' ' "$DB_URL" -c "SELECT COALESCE(node, '?'), COUNT(*), COUNT(DISTINCT source_id) FROM fetches GROUP BY 1 ORDER BY 1" | tr '\n' ';')
    local dup
    dup=$(awk '{print $1, $2}' "$WORK/nginx/access.log" | sort | uniq -d | wc -l)
    record "$(python3 - "$kind" "$n" "$start" "$done_at" "$pgcpu" "$c" "$per_node" "$dup" "$(wc -l <"$WORK/nginx/access.log")" "$dir" <<'EOF'
import json, sys, glob, re
kind, n, start, done, pg, c, per_node, dup, req, d = sys.argv[1:]
nodes = {}
for i in range(1, int(n) + 1):
    t = json.loads(open(f"{d}/time-n{i}.json").read().strip().splitlines()[-1])
    err = open(f"{d}/n{i}.err", errors="replace").read()
    polled = [int(m) for m in re.findall(r"polled (\d+) sources?", err)]
    warns = len(re.findall(r"\b(WARN|ERROR)\b", err))
    nodes[f"n{i}"] = {**t, "cycles_polled": polled, "warn_lines": warns}
    if kind == "polls":
        try:
            p = json.load(open(f"{d}/n{i}.out"))
            nodes[f"n{i}"]["polled"] = len(p["sources"])
            nodes[f"n{i}"]["phases"] = {k: round(v, 2) for k, v in p["phases"].items()}
            nodes[f"n{i}"]["stories"] = p["stories"]
        except Exception as e:
            nodes[f"n{i}"]["json_error"] = str(e)
srcs, fetches, entries, pending, stories = map(int, c.split())
print(json.dumps({"run": kind, "n": int(n), "done_s": round(float(done) - float(start), 2) if done else None,
                  "pg_cpu_s": float(pg), "sources_fetched": srcs, "fetches": fetches, "entries": entries,
                  "pending": pending, "stories": stories, "fetches_by_node": per_node, "requests": int(req),
                  "duplicate_requests": int(dup), "nodes": nodes}))
EOF
    )"
}

start_nginx
case ${1:-} in
single) single ;;
nodes | polls) many "$1" "${2:?N}" ;;
*)
    echo "usage: bench/nodes.sh single | nodes N | polls N" >&2
    exit 2
    ;;
esac
