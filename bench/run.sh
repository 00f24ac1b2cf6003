#!/usr/bin/env bash
# polyfeed's benchmark suite (issue 5): one command, one run, every figure
# measured against its peers on the same farm, results in
# bench/results/latest.json and the tables of BENCHMARKS.md rewritten.
#
#   bench/run.sh                          # N = 100, 1000, 10000 feeds x 50 entries
#   BENCH_NS="100 1000" bench/run.sh      # fewer sizes
#   BENCH_CORPUS=gnome.jsonl bench/run.sh # and the real-text farm of that corpus
#
# Two farms: the synthetic one (bench/gen_farm.py: one 60-word aligned
# vocabulary, for raw parsing speed) and, when BENCH_CORPUS names a labelled
# corpus (the format `polyfeed eval-dedup` reads), the real-text farm
# (gen_farm.py --corpus, see bench/real_farm.py), polled cold and all-304 by
# polyfeed and its peers, then the stories scored against the farm's truth
# (pairwise precision and recall, bench/score_farm.py): a speed-up that
# lowers them is not a speed-up. Without BENCH_CORPUS the real-text rows are
# skipped, with a message.
#
# Environment (all optional):
#   BENCH_NS              feed counts (default "100 1000 10000")
#   BENCH_M               entries per feed (default 50)
#   BENCH_SEED            farm seed (default 1)
#   BENCH_PEER_MAX_N      largest N the slow peers (newsboat, feedparser) run at (default 1000)
#   BENCH_TOUCH_PERCENT   feeds changed for the "changed" poll (default 10)
#   BENCH_FP_WORKERS      feedparser poller threads (default 16)
#   BENCH_SERVE_N         N whose database is published and served (default: 1000 if listed, else the first N)
#   BENCH_SERVE_SECONDS   wrk duration per serve measurement (default 5)
#   BENCH_TIMEOUT         cap in seconds on any one measured command (default 900)
#   BENCH_SKIP_BUILD=1    use the existing target/release/polyfeed
#   BENCH_BIN=PATH        measure this polyfeed binary instead of building one
#   BENCH_COMMIT=LABEL    the commit BENCH_BIN was built from (for the report)
#   BENCH_KEEP=1          keep the work directory (farms, databases, logs)
#   BENCH_NO_REPORT=1     do not rewrite BENCHMARKS.md (the results file is still written)
#   BENCH_RESULTS=PATH    where the results go (default bench/results/latest.json)
#   BENCH_ASSIGN=0        skip bench/assign_scale.sh (story assignment at 10k, 100k
#                         and 1M stored entries; its ASSIGN_ variables apply)
#   BENCH_CORPUS=PATH     the corpus of the real-text farm (JSON lines, as eval-dedup reads)
#   BENCH_FARMS           which farms to measure (default "synthetic real"; real needs BENCH_CORPUS)
#   BENCH_REAL_PEERS=0    poll the real-text farm with polyfeed only (default: newsboat-t2 and
#                         feedparser too, up to BENCH_PEER_MAX_N)
#   BENCH_SCORE_MAX_N     largest N whose synthetic stories are scored (default 1000; the
#                         real-text farm's always are)
#   BENCH_REPORT_SECTIONS which BENCHMARKS.md tables a run rewrites (default "main real":
#                         the synthetic farm's, the real-text farm's; each only when measured)
#
# Everything runs on 127.0.0.1. Servers (nginx, polyfeed serve) are children
# of this script and are stopped on exit, whatever the exit.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
NS=${BENCH_NS:-"100 1000 10000"}
M=${BENCH_M:-50}
SEED=${BENCH_SEED:-1}
PEER_MAX_N=${BENCH_PEER_MAX_N:-1000}
TOUCH=${BENCH_TOUCH_PERCENT:-10}
FP_WORKERS=${BENCH_FP_WORKERS:-16}
SERVE_SECONDS=${BENCH_SERVE_SECONDS:-5}
STEP_TIMEOUT=${BENCH_TIMEOUT:-900}
FARMS=${BENCH_FARMS:-"synthetic real"}
CORPUS=${BENCH_CORPUS:-}
REAL_PEERS=${BENCH_REAL_PEERS:-1}
SCORE_MAX_N=${BENCH_SCORE_MAX_N:-1000}
SECTIONS=${BENCH_REPORT_SECTIONS:-"main real"}
if [[ -n ${BENCH_SERVE_N:-} ]]; then
    SERVE_N=$BENCH_SERVE_N
elif [[ " $NS " == *" 1000 "* ]]; then
    SERVE_N=1000
else
    SERVE_N=${NS%% *}
fi
RESULTS_OUT=${BENCH_RESULTS:-$BENCH/results/latest.json}
# The command as run: every BENCH_ variable that was set, then the script
# (the corpus by its file name: where it lies on this machine is no one's business).
COMMAND="$({ env | grep '^BENCH_' || true; } | sort | sed -E 's#^(BENCH_CORPUS=).*/#\1#' |
    sed -E 's/^([^=]*)=(.*)$/\1="\2"/' | tr '\n' ' ')bench/run.sh"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# ---------------------------------------------------------------- cleanup
WORK=""
NGINX_PID=""
SERVE_PID=""
POLICY_RC_CREATED=""
cleanup() {
    local rc=$?
    for pid in $SERVE_PID $NGINX_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n $POLICY_RC_CREATED ]]; then rm -f /usr/sbin/policy-rc.d; fi
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
have() { command -v "$1" >/dev/null 2>&1; }
APT_UPDATED=""
apt_install() {
    local sudo=""
    [[ $(id -u) == 0 ]] || sudo="sudo"
    have apt-get || die "missing $*, and no apt-get to install it"
    if [[ -z $APT_UPDATED ]]; then
        $sudo apt-get update -qq
        APT_UPDATED=1
    fi
    # Keep Debian from starting the packaged nginx on port 80.
    if [[ ! -e /usr/sbin/policy-rc.d && $(id -u) == 0 ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    log "apt-get install $*"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_tools() {
    export PATH=$PATH:/usr/sbin:/sbin
    local want=()
    have nginx || want+=(nginx-light)
    have newsboat || want+=(newsboat)
    have wrk || want+=(wrk)
    have curl || want+=(curl)
    [[ -x /usr/bin/time ]] || want+=(time)
    if ((${#want[@]})); then
        if ! apt_install "${want[@]}"; then
            # nginx-light is gone from newer Debian releases: take nginx.
            want=("${want[@]/nginx-light/nginx}")
            apt_install "${want[@]}"
        fi
    fi
    have hyperfine || apt_install hyperfine || log "hyperfine unavailable: publish timed with one run each"
    VENV=$BENCH/.venv
    if [[ ! -x $VENV/bin/python ]]; then
        python3 -m venv "$VENV" 2>/dev/null || {
            apt_install python3-venv
            rm -rf "$VENV"
            python3 -m venv "$VENV"
        }
    fi
    "$VENV/bin/python" -c 'import feedparser' 2>/dev/null || "$VENV/bin/pip" install -q feedparser
}

build() {
    BIN=${BENCH_BIN:-$ROOT/target/release/polyfeed}
    if [[ -n ${BENCH_BIN:-} ]]; then
        [[ -x $BIN ]] || die "BENCH_BIN=$BIN is not an executable"
        log "measuring $BIN (${BENCH_COMMIT:-commit unknown})"
    elif [[ ${BENCH_SKIP_BUILD:-0} == 1 && -x $BIN ]]; then
        log "using the existing $BIN"
    else
        log "cargo build --release"
        (cd "$ROOT" && cargo build --release --quiet)
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # URL: until it answers, at most 10 s
    local i
    for i in $(seq 1 100); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
    done
    die "nothing answers at $1"
}

# ---------------------------------------------------------------- nginx
start_nginx() {
    local dir=$WORK/nginx
    mkdir -p "$dir/tmp"
    NGINX_PORT=$(free_port)
    local user=""
    [[ $(id -u) == 0 ]] && user="user root;"
    cat >"$dir/nginx.conf" <<EOF
# Generated by bench/run.sh: the farm on loopback, stopped with the script.
$user
worker_processes 2;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    types {
        application/xml xml;
        application/atom+xml atom;
        application/rss+xml rss;
        application/feed+json json;
        text/html html;
    }
    default_type application/octet-stream;
    access_log off;
    etag on;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
    }
}
EOF
    nginx -t -q -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf"
    nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" &
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$NGINX_PORT/"
    NGINX_BASE="http://127.0.0.1:$NGINX_PORT"
    log "nginx on $NGINX_BASE (pid $NGINX_PID)"
}

# ---------------------------------------------------------------- measuring
RESULTS=""
FARM_KIND=synthetic # the farm every result line is recorded for
# timed OUT cmd...: runs cmd under /usr/bin/time (and a timeout), stdout to
# OUT, stderr to OUT.err; sets T_WALL T_USER T_SYS T_RSS (KiB) T_RC.
timed() {
    local out=$1
    shift
    local tf=$WORK/time.out
    set +e
    /usr/bin/time -f '%e %U %S %M' -o "$tf" timeout -k 10 "$STEP_TIMEOUT" "$@" >"$out" 2>"$out.err"
    T_RC=$?
    set -e
    read -r T_WALL T_USER T_SYS T_RSS < <(tail -n 1 "$tf")
    if ((T_RC == 124)); then log "timed out after ${STEP_TIMEOUT}s: $*"; fi
}

# record N PHASE TOOL EXTRA_JSON: one result line from the last `timed`.
record() {
    printf '{"n": %s, "farm": "%s", "phase": "%s", "tool": "%s", "wall_s": %s, "user_s": %s, "sys_s": %s, "rss_kib": %s, "rc": %s, "extra": %s}\n' \
        "$1" "$FARM_KIND" "$2" "$3" "$T_WALL" "$T_USER" "$T_SYS" "$T_RSS" "$T_RC" "${4:-{\}}" >>"$RESULTS"
    log "$(printf '%-9s N=%-6s %-8s %-12s wall %7ss  cpu %7ss  rss %6s MiB  rc %s' "$FARM_KIND" "$1" "$2" "$3" "$T_WALL" \
        "$(awk "BEGIN{print $T_USER+$T_SYS}")" "$((T_RSS / 1024))" "$T_RC")"
}

# record_raw N PHASE TOOL JSON: a result line that is not a timed command.
record_raw() {
    printf '{"n": %s, "farm": "%s", "phase": "%s", "tool": "%s", "extra": %s}\n' "$1" "$FARM_KIND" "$2" "$3" "$4" >>"$RESULTS"
}

# ---------------------------------------------------------------- the tools under test
pf_config() { # DIR URLS_FILE: a polyfeed config for every URL
    local dir=$1 urls=$2
    python3 - "$dir" "$urls" <<'EOF'
import sys
d, urls = sys.argv[1], sys.argv[2]
langs = ["fi", "sv", "en"]
with open(urls) as f, open(f"{d}/feeds.toml", "w") as out:
    out.write(f'''# Generated by bench/run.sh: every feed is on one loopback host, so no politeness delay.
[settings]
database = "polyfeed.db"
output_dir = "public"
languages = ["fi", "sv", "en"]
per_host_delay = "0s"
per_host_concurrency = 32
concurrency = 32
timeout = "120s"
''')
    for i, url in enumerate(line.strip() for line in f):
        # Triple members (every third group of three) are configured as
        # a publisher would: language and group; the rest are detected.
        group = i // 3
        extra = f'lang = "{langs[i % 3]}"\ngroup = "g{group}"\n' if group % 3 == 0 else ""
        out.write(f'\n[[source]]\nurl = "{url}"\n{extra}')
EOF
}

pf_poll() { # N PHASE DIR
    timed "$3/poll-$2.json" "$BIN" --config "$3/feeds.toml" -q poll --all --json
    record "$1" "$2" polyfeed "$(python3 "$BENCH/report.py" polyfeed-summary "$3/poll-$2.json")"
}

nb_setup() { # DIR THREADS URLS
    mkdir -p "$1/home"
    cp "$3" "$1/urls"
    cat >"$1/config" <<EOF
reload-threads $2
download-timeout 120
user-agent "newsboat-bench"
EOF
}

nb_poll() { # N PHASE DIR THREADS [LABEL]
    HOME=$3/home timed "$3/reload-$2${5:+-2nd}.out" newsboat -q -u "$3/urls" -c "$3/cache.db" -C "$3/config" -x reload
    record "$1" "$2" "newsboat-t$4${5:-}" "$(python3 "$BENCH/report.py" newsboat-summary "$3/cache.db")"
}

fp_poll() { # N PHASE DIR URLS
    timed "$3/poll-$2.json" "$VENV/bin/python" "$BENCH/fp_poller.py" "$4" "$3/fp.db" --workers "$FP_WORKERS"
    record "$1" "$2" "feedparser" "$(tail -n 1 "$3/poll-$2.json" | grep '^{' || echo '{}')"
}

stories_score() { # N DIR FARM: polyfeed's stories after the polls, scored against the farm's truth
    timed "$2/stories.json" "$BIN" --config "$2/feeds.toml" stories --json --limit 100000000
    local score='{"error": "stories --json failed"}'
    if ((T_RC == 0)); then
        score=$(python3 "$BENCH/score_farm.py" "$3" "$2/stories.json" 2>"$2/score.err" || echo '{"error": "score_farm.py failed"}')
    fi
    record "$1" stories polyfeed "$score"
    rm -f "$2/stories.json"
}

curl_floor() { # N URLS DIR: every file, 16 curl processes in parallel, 64 URLs each (keep-alive within one)
    # Each curl prints one size a line on its own stdout (one write at exit,
    # so lines never interleave); awk counts the files and adds the bytes.
    timed "$3/curl.out" bash -c 'xargs -P 16 -n 64 bash -c '"'"'args=(); for u; do args+=(-o /dev/null "$u"); done; exec curl -sS --fail -w "%{size_download}\n" "${args[@]}"'"'"' _ <"$1" | awk '"'"'{n++; s += $1} END {print n + 0, s + 0}'"'"'' _ "$2"
    local files bytes
    read -r files bytes <"$3/curl.out"
    record "$1" cold "curl-floor" "{\"bytes\": $bytes, \"files\": $files}"
}

# ---------------------------------------------------------------- publish
publish_all() { # N DIR: every feed, into an empty output directory
    local n=$1 dir=$2
    if have hyperfine; then
        timed "$dir/publish.out" hyperfine --runs 5 --warmup 1 --style none \
            --prepare "rm -rf '$dir/public'" --export-json "$dir/publish-hf.json" \
            "'$BIN' --config '$dir/feeds.toml' publish --json"
    else
        rm -rf "$dir/public"
        timed "$dir/publish.out" "$BIN" --config "$dir/feeds.toml" publish --json
    fi
    rm -rf "$dir/public"
    "$BIN" --config "$dir/feeds.toml" publish --json >"$dir/publish.json"
    record "$n" publish "polyfeed-all" "$(python3 "$BENCH/report.py" publish-summary "$dir/publish.json" "$dir/publish-hf.json")"
}

publish_one() { # N FARM: one 100-story feed (two farm feeds of 50 entries, read as local files)
    local n=$1 farm=$2 dir=$WORK/publish-100
    mkdir -p "$dir"
    local files=("$farm"/f*.xml)
    {
        printf '[settings]\ndatabase = "polyfeed.db"\noutput_dir = "public"\nitems = 100\npublish_untagged = false\n'
        printf '\n[[source]]\nurl = "%s"\n' "${files[@]:0:2}"
    } >"$dir/feeds.toml"
    "$BIN" --config "$dir/feeds.toml" -q poll --all >/dev/null
    if have hyperfine; then
        timed "$dir/publish.out" hyperfine --runs 10 --warmup 2 --style none \
            --prepare "rm -rf '$dir/public'" --export-json "$dir/publish-hf.json" \
            "'$BIN' --config '$dir/feeds.toml' publish --json"
    else
        rm -rf "$dir/public"
        timed "$dir/publish.out" "$BIN" --config "$dir/feeds.toml" publish --json
    fi
    rm -rf "$dir/public"
    "$BIN" --config "$dir/feeds.toml" publish --json >"$dir/publish.json"
    record "$n" publish "polyfeed-100" "$(python3 "$BENCH/report.py" publish-summary "$dir/publish.json" "$dir/publish-hf.json")"
}

# ---------------------------------------------------------------- serve
wrk_run() { # N SERVER STATUS URL [LUA]
    local n=$1 server=$2 status=$3 url=$4 lua=${5:-}
    local out=$WORK/wrk-$server-$status.out
    if [[ -n $lua ]]; then
        timed "$out" wrk -t2 -c32 -d"${SERVE_SECONDS}s" --latency -s "$lua" "$url"
    else
        timed "$out" wrk -t2 -c32 -d"${SERVE_SECONDS}s" --latency "$url"
    fi
    record "$n" "serve-$status" "$server" "$(python3 "$BENCH/report.py" wrk-summary "$out" "$url")"
}

serve_bench() { # N DIR
    local n=$1 dir=$2
    local port
    port=$(free_port)
    # nginx serves the files `publish` wrote; polyfeed serve renders the same bytes from the same database.
    rm -rf "$WORK/www/pub"
    "$BIN" --config "$dir/feeds.toml" publish >/dev/null
    cp -r "$dir/public" "$WORK/www/pub"
    "$BIN" --config "$dir/feeds.toml" -q serve --listen "127.0.0.1:$port" >"$WORK/serve.log" 2>&1 &
    SERVE_PID=$!
    local pf_url="http://127.0.0.1:$port/all.atom" ng_url="$NGINX_BASE/pub/all.atom"
    wait_http "$pf_url"
    cmp -s <(curl -s "$pf_url") <(curl -s "$ng_url") || log "warning: polyfeed serve and nginx serve different bytes"
    record_raw "$n" serve_body polyfeed "{\"body_bytes\": $(curl -s "$pf_url" | wc -c)}"
    local server url etag
    for server in polyfeed-serve nginx; do
        url=$pf_url
        [[ $server == nginx ]] && url=$ng_url
        etag=$(curl -sI "$url" | tr -d '\r' | awk -F': ' 'tolower($1) == "etag" {print $2}')
        [[ -n $etag ]] || die "$server sent no ETag for $url"
        printf 'wrk.headers["If-None-Match"] = %s\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$etag")" >"$WORK/inm-$server.lua"
        local code
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$url")
        [[ $code == 304 ]] || die "$server answered $code, not 304, to If-None-Match $etag"
        wrk_run "$n" "$server" 200 "$url"
        wrk_run "$n" "$server" 304 "$url" "$WORK/inm-$server.lua"
    done
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=""
}

# ---------------------------------------------------------------- one farm size
bench_n() {
    local n=$1
    local farm=$WORK/www/farm-$n nd=$WORK/n$n
    mkdir -p "$nd"
    log "N=$n: generating the farm ($n feeds x $M entries, seed $SEED)"
    timed "$nd/gen.json" python3 "$BENCH/gen_farm.py" "$farm" --feeds "$n" --entries "$M" --seed "$SEED"
    record "$n" farm gen_farm "$(tail -n 1 "$nd/gen.json")"
    sed "s|^|$NGINX_BASE/farm-$n/|" "$farm/urls.txt" >"$nd/urls.txt"
    local peers=0
    ((n <= PEER_MAX_N)) && peers=1

    mkdir -p "$nd/pf" "$nd/nb2" "$nd/nb8" "$nd/fp"
    pf_config "$nd/pf" "$nd/urls.txt"
    nb_setup "$nd/nb2" 2 "$nd/urls.txt"
    nb_setup "$nd/nb8" 8 "$nd/urls.txt"

    curl_floor "$n" "$nd/urls.txt" "$nd"
    local phase
    for phase in cold warm changed; do
        if [[ $phase == changed ]]; then
            python3 "$BENCH/gen_farm.py" "$farm" --touch-percent "$TOUCH" >"$nd/touch.json"
            record_raw "$n" changed touch "$(cat "$nd/touch.json")"
        fi
        pf_poll "$n" "$phase" "$nd/pf"
        if [[ $phase == warm ]] && ((n <= SCORE_MAX_N)); then stories_score "$n" "$nd/pf" "$farm"; fi
        if ((peers)); then
            if [[ $phase == warm ]]; then
                # newsboat 2.21 stores a feed's validators only from its
                # second fetch on: its first reload after a cold one is
                # unconditional (every feed 200). Measure that reload too,
                # under its own name, so that "warm" is all 304 for every tool.
                nb_poll "$n" "$phase" "$nd/nb2" 2 " 2nd reload"
                nb_poll "$n" "$phase" "$nd/nb8" 8 " 2nd reload"
            fi
            nb_poll "$n" "$phase" "$nd/nb2" 2
            nb_poll "$n" "$phase" "$nd/nb8" 8
            fp_poll "$n" "$phase" "$nd/fp" "$nd/urls.txt"
        fi
    done
    record_raw "$n" db polyfeed "{\"db_bytes\": $(du -cb "$nd/pf/polyfeed.db"* | tail -n 1 | cut -f1)}"

    log "N=$n: publish"
    publish_all "$n" "$nd/pf"
    if [[ ! -e $WORK/publish-100 ]]; then publish_one "$n" "$farm"; fi
    if [[ $n == "$SERVE_N" ]]; then
        log "N=$n: serve vs nginx, ${SERVE_SECONDS}s per measurement"
        serve_bench "$n" "$nd/pf"
    fi
    [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$farm" "$nd/nb2" "$nd/nb8" "$nd/fp" "$nd/pf/polyfeed.db"*
}

# ---------------------------------------------------------------- the real-text farm
bench_real_n() {
    local n=$1
    local farm=$WORK/www/real-$n nd=$WORK/real$n
    FARM_KIND=real
    mkdir -p "$nd"
    log "N=$n: generating the real-text farm ($n feeds x $M entries of $(basename "$CORPUS"), seed $SEED)"
    timed "$nd/gen.json" python3 "$BENCH/gen_farm.py" "$farm" --corpus "$CORPUS" --feeds "$n" --entries "$M" --seed "$SEED"
    ((T_RC == 0)) || die "gen_farm.py --corpus failed: $(tail -n 3 "$nd/gen.json.err")"
    record "$n" farm gen_farm "$(tail -n 1 "$nd/gen.json")"
    sed "s|^|$NGINX_BASE/real-$n/|" "$farm/urls.txt" >"$nd/urls.txt"
    local peers=0
    ((n <= PEER_MAX_N)) && [[ $REAL_PEERS != 0 ]] && peers=1

    mkdir -p "$nd/pf" "$nd/nb2" "$nd/fp"
    python3 "$BENCH/real_farm.py" config "$farm" "$NGINX_BASE/real-$n" >"$nd/pf/feeds.toml"
    nb_setup "$nd/nb2" 2 "$nd/urls.txt"

    curl_floor "$n" "$nd/urls.txt" "$nd"
    local phase
    for phase in cold warm; do
        pf_poll "$n" "$phase" "$nd/pf"
        if ((peers)); then
            # newsboat's first reload after the cold one is unconditional (see bench_n).
            [[ $phase == warm ]] && nb_poll "$n" "$phase" "$nd/nb2" 2 " 2nd reload"
            nb_poll "$n" "$phase" "$nd/nb2" 2
            fp_poll "$n" "$phase" "$nd/fp" "$nd/urls.txt"
        fi
    done
    stories_score "$n" "$nd/pf" "$farm"
    record_raw "$n" db polyfeed "{\"db_bytes\": $(du -cb "$nd/pf/polyfeed.db"* | tail -n 1 | cut -f1)}"
    [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$farm" "$nd/nb2" "$nd/fp" "$nd/pf/polyfeed.db"*
    FARM_KIND=synthetic
}

# ---------------------------------------------------------------- main
main() {
    install_tools
    build
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/polyfeed-bench.XXXXXX")
    chmod 755 "$WORK"
    mkdir -p "$WORK/www" "$BENCH/results"
    RESULTS=$WORK/results.jsonl
    : >"$RESULTS"
    log "work directory $WORK"
    start_nginx
    LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
    local started=$SECONDS n real=0
    if [[ " $FARMS " == *" real "* ]]; then
        if [[ -z $CORPUS ]]; then
            log "BENCH_CORPUS is not set: the real-text farm rows are skipped (set it to a labelled corpus, JSON lines as 'polyfeed eval-dedup' reads; see BENCHMARKS.md, 'The real-text farm')"
        elif [[ ! -r $CORPUS ]]; then
            die "BENCH_CORPUS=$CORPUS is not a readable file"
        else
            real=1
        fi
    fi
    for n in $NS; do
        if [[ " $FARMS " == *" synthetic "* ]]; then bench_n "$n"; fi
        if ((real)); then bench_real_n "$n"; fi
    done
    log "measured in $((SECONDS - started)) s"
    # Story assignment against the size of the database: its own tables in
    # BENCHMARKS.md (minutes, and about 30 GB of disk at 1M stored entries).
    if [[ ${BENCH_ASSIGN:-1} == 1 ]]; then
        "$BENCH/assign_scale.sh"
    fi
    local report_args=()
    [[ ${BENCH_NO_REPORT:-0} == 1 ]] || report_args+=(--markdown "$ROOT/BENCHMARKS.md")
    python3 "$BENCH/report.py" assemble "$RESULTS" "$RESULTS_OUT" \
        --command "$COMMAND" --bin "$BIN" --root "$ROOT" --venv "$VENV" --commit "${BENCH_COMMIT:-}" \
        --loadavg "$LOADAVG" \
        --params "{\"m\": $M, \"seed\": $SEED, \"touch_percent\": $TOUCH, \"fp_workers\": $FP_WORKERS, \"serve_seconds\": $SERVE_SECONDS, \"peer_max_n\": $PEER_MAX_N, \"farms\": \"$FARMS\", \"real_peers\": $REAL_PEERS}" \
        --elapsed "$((SECONDS - started))" --sections "$SECTIONS" "${report_args[@]}"
    log "wrote $RESULTS_OUT${report_args:+ and BENCHMARKS.md}"
}

main "$@"
