#!/usr/bin/env bash
# Story assignment cost per new entry against the size of the database
# (issue 5: "flat at 10k, 100k and 1M stored entries; at 1M no more than 2x
# its cost at 10k").
#
#   bench/assign_scale.sh                                  # 10k, 100k, 1M stored, 3 runs each
#   ASSIGN_SIZES="10000 100000" ASSIGN_RUNS=1 bench/assign_scale.sh
#
# What it does:
#   1. base: gen_farm.py 200 feeds x 50 entries (seed 1), polled by a real
#      `polyfeed poll` from local files: 10,000 entries with their stories.
#   2. a batch of new entries: gen_farm.py 20 feeds x 50 entries (seed 2),
#      own guids (--guid-prefix), dated after the base's newest entry
#      (--start), so they are the newest entries of the database.
#   3. per size: the base itself (10k), else bench/grow_db.py BASE OUT
#      --entries SIZE (the base's history replicated backwards in time);
#      then ASSIGN_RUNS times: a fresh copy of that database, a feeds.toml
#      listing the base's 200 sources and the 20 new ones, and
#      `polyfeed poll --json` without --all: the base's sources were polled
#      when the base was built and are not due for a day (checked: exactly
#      the new sources are polled), so the cycle stores the 1,000 new
#      entries and assigns their stories. The cycle's "phases" give
#      assignment's wall time; /usr/bin/time gives the whole process.
#      Then, on the database the run polled (issue 15): `polyfeed stories
#      --json --limit 50`, timed by /usr/bin/time, and the start-up of
#      `polyfeed serve` on 127.0.0.1 (a free port): from exec to its first
#      200 answer to GET /all.atom.
#   4. bench/assign_report.py: medians, the table, bench/results/assign_scale.json,
#      and the table between <!-- assign:begin --> and <!-- assign:end -->
#      in BENCHMARKS.md.
#
# Environment (all optional):
#   ASSIGN_SIZES        stored entries to measure at (default "10000 100000 1000000")
#   ASSIGN_RUNS         measurements per size, each on a fresh copy (default 3; the median is reported)
#   ASSIGN_BASE_FEEDS   base farm feeds (default 200)      ASSIGN_BASE_ENTRIES  entries per feed (default 50)
#   ASSIGN_BASE_SEED    base farm seed (default 1)
#   ASSIGN_NEW_FEEDS    new-entry farm feeds (default 20)  ASSIGN_NEW_ENTRIES   entries per feed (default 50)
#   ASSIGN_NEW_SEED     new-entry farm seed (default 2)
#   ASSIGN_TIMEOUT      cap in seconds on any one poll or grow (default 900)
#   ASSIGN_WORK=DIR     work directory (default: a new /tmp/polyfeed-assign.XXXXXX, removed at the end)
#   ASSIGN_REUSE=1      with ASSIGN_WORK: reuse the base and the grown databases found there (and their
#                       recorded build times) instead of building them again; only the runs are repeated.
#                       The base must be less than a day old (its sources must not be due).
#   ASSIGN_KEEP=1       keep the work directory (farms, base, run directories; grown databases are
#                       removed after their size is measured unless ASSIGN_KEEP_DBS=1 too)
#   BENCH_BIN=PATH      polyfeed binary (default target/release/polyfeed; it is never built here).
#                       It is copied into the work directory first, so a rebuild during the run
#                       does not change what is measured.
#   BENCH_COMMIT=LABEL  the commit BENCH_BIN was built from (for the report)
#   BENCH_NO_REPORT=1   do not rewrite BENCHMARKS.md
#   ASSIGN_RESULTS=PATH results file (default bench/results/assign_scale.json)
#   POLYFEED_LEXICON    word table (default data/lexicon/lexicon.tsv.gz)
#
# Disk: about 14 KB per stored entry, twice (the grown database and the
# copy a run polls into): about 30 GB free for 1M. Everything is local files
# and 127.0.0.1 (the `serve` start-up): no network.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
SIZES=${ASSIGN_SIZES:-"10000 100000 1000000"}
RUNS=${ASSIGN_RUNS:-3}
BASE_FEEDS=${ASSIGN_BASE_FEEDS:-200}
BASE_ENTRIES=${ASSIGN_BASE_ENTRIES:-50}
BASE_SEED=${ASSIGN_BASE_SEED:-1}
NEW_FEEDS=${ASSIGN_NEW_FEEDS:-20}
NEW_ENTRIES=${ASSIGN_NEW_ENTRIES:-50}
NEW_SEED=${ASSIGN_NEW_SEED:-2}
STEP_TIMEOUT=${ASSIGN_TIMEOUT:-900}
RESULTS_OUT=${ASSIGN_RESULTS:-$BENCH/results/assign_scale.json}
export POLYFEED_LEXICON=${POLYFEED_LEXICON:-$ROOT/data/lexicon/lexicon.tsv.gz}
COMMAND="$({ env | grep -E '^(ASSIGN|BENCH)_' || true; } | sort | sed -E 's/^([^=]*)=(.*)$/\1="\2"/' | tr '\n' ' ')bench/assign_scale.sh"

log() { printf '[assign %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

WORK=""
SERVE_PID=""
cleanup() {
    local rc=$?
    if [[ -n $SERVE_PID ]]; then kill -TERM "$SERVE_PID" 2>/dev/null || true; fi
    if [[ -n $WORK && -d $WORK && ${ASSIGN_KEEP:-0} != 1 && -z ${ASSIGN_WORK:-} ]]; then rm -rf "$WORK"; fi
    [[ -n $WORK && ${ASSIGN_KEEP:-0} == 1 ]] && log "kept $WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM

[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (apt-get install time)"
command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
[[ -r $POLYFEED_LEXICON ]] || die "no word table at $POLYFEED_LEXICON"
SRC_BIN=${BENCH_BIN:-$ROOT/target/release/polyfeed}
[[ -x $SRC_BIN ]] || die "no polyfeed binary at $SRC_BIN (build it, or set BENCH_BIN)"

if [[ -n ${ASSIGN_WORK:-} ]]; then
    WORK=$ASSIGN_WORK
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/polyfeed-assign.XXXXXX")
fi
BIN=$WORK/polyfeed
cp "$SRC_BIN" "$BIN"
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
log "work directory $WORK; binary $SRC_BIN ($("$BIN" --version)), copied to $BIN"
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$SECONDS

# timed OUT cmd...: /usr/bin/time (and a timeout); stdout to OUT, stderr to OUT.err;
# sets T_WALL T_USER T_SYS T_RSS (KiB) T_RC.
timed() {
    local out=$1
    shift
    local tf=$out.time
    set +e
    /usr/bin/time -f '%e %U %S %M' -o "$tf" timeout -k 10 "$STEP_TIMEOUT" "$@" >"$out" 2>"$out.err"
    T_RC=$?
    set -e
    read -r T_WALL T_USER T_SYS T_RSS < <(tail -n 1 "$tf")
    if ((T_RC == 124)); then log "timed out after ${STEP_TIMEOUT}s: $*"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# serve_startup DIR: sets SERVE_S to the seconds from the exec of
# `polyfeed serve` on DIR's database until its first 200 answer to GET
# /all.atom ("null" if none within STEP_TIMEOUT); the server is stopped
# after. Not in a subshell: SERVE_PID must be the main shell's, for cleanup.
serve_startup() {
    local dir=$1 port start code
    SERVE_S=null
    port=$(free_port)
    start=$(date +%s%N)
    "$BIN" -c "$dir/feeds.toml" -q serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
    SERVE_PID=$!
    while kill -0 "$SERVE_PID" 2>/dev/null; do
        code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$port/all.atom" || true)
        if [[ $code == 200 ]]; then
            SERVE_S=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
            break
        fi
        (($(date +%s%N) - start < STEP_TIMEOUT * 1000000000)) || break
        sleep 0.01
    done
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=""
}

feeds_toml() { # OUT URLS_FILE PREFIX [URLS_FILE PREFIX ...]: the settings of issue 5's measurement
    local out=$1
    shift
    printf '# Generated by bench/assign_scale.sh: local files, no politeness delay.\n[settings]\ncontact = "https://example.org/"\nlanguages = ["en", "fi", "sv"]\nper_host_delay = "0s"\n' >"$out"
    while (($#)); do
        sed "s|.*|\n[[source]]\nurl = \"$2/&\"|" "$1" >>"$out"
        shift 2
    done
}

# ---------------------------------------------------------------- 1. the base
BASE=$WORK/base
REUSE=""
[[ ${ASSIGN_REUSE:-0} == 1 && -n ${ASSIGN_WORK:-} && -s $BASE/polyfeed.db && -s $BASE/poll.json.time ]] && REUSE=1
# reuse_timed OUT: the figures `timed` recorded for OUT in an earlier run.
reuse_timed() {
    read -r T_WALL T_USER T_SYS T_RSS < <(tail -n 1 "$1.time")
    T_RC=0
}
if [[ -n $REUSE ]]; then
    log "base: reusing $BASE/polyfeed.db (ASSIGN_REUSE=1)"
    reuse_timed "$BASE/poll.json"
else
    rm -rf "$BASE"
    mkdir -p "$BASE"
    log "base: gen_farm.py ${BASE_FEEDS} feeds x ${BASE_ENTRIES} entries, seed ${BASE_SEED}"
    python3 "$BENCH/gen_farm.py" "$BASE/farm" --feeds "$BASE_FEEDS" --entries "$BASE_ENTRIES" --seed "$BASE_SEED" >/dev/null
    feeds_toml "$BASE/feeds.toml" "$BASE/farm/urls.txt" farm
    timed "$BASE/poll.json" "$BIN" -c "$BASE/feeds.toml" poll --json
    ((T_RC == 0)) || die "base poll failed (exit $T_RC): $(tail -n 3 "$BASE/poll.json.err")"
fi
BASE_N=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM entries").fetchone()[0])' "$BASE/polyfeed.db")
printf '{"kind": "base", "entries": %s, "wall_s": %s, "user_s": %s, "sys_s": %s, "rss_kib": %s, "poll": %s}\n' \
    "$BASE_N" "$T_WALL" "$T_USER" "$T_SYS" "$T_RSS" "$(python3 "$BENCH/assign_report.py" poll-summary "$BASE/poll.json")" >>"$RESULTS"
log "base: $BASE_N entries, cold poll ${T_WALL}s wall"
# The runs must poll only the new sources: the base's must not be due yet.
DUE=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT MIN(next_due_at) FROM sources").fetchone()[0] or "")' "$BASE/polyfeed.db")
[[ $DUE > $(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ) ]] || die "the base's sources are due at $DUE (less than an hour from now): build a new base (without ASSIGN_REUSE)"
rm -rf "$BASE/public"
# Everything in the main file (polyfeed leaves no WAL behind on a clean exit; make sure), so a copy is complete.
python3 -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)")' "$BASE/polyfeed.db"

# ---------------------------------------------------------------- 2. the new entries
# Entry 0 of each new feed comes up to 15 h after START: START is the first
# full hour after the base's newest entry, so every new entry is newer than
# every stored one and its 7-day candidate window reaches into the base.
START=$(python3 - "$BASE/polyfeed.db" <<'EOF'
import datetime as dt, sqlite3, sys
hi = sqlite3.connect(sys.argv[1]).execute("SELECT MAX(published_at) FROM entries").fetchone()[0]
t = dt.datetime.fromisoformat(hi.replace("Z", "+00:00")).replace(minute=0, second=0) + dt.timedelta(hours=1)
print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))
EOF
)
log "new entries: gen_farm.py ${NEW_FEEDS} feeds x ${NEW_ENTRIES} entries, seed ${NEW_SEED}, from $START"
python3 "$BENCH/gen_farm.py" "$WORK/farm-new" --feeds "$NEW_FEEDS" --entries "$NEW_ENTRIES" --seed "$NEW_SEED" \
    --start "$START" --guid-prefix "urn:farm-new:" >/dev/null
printf '{"kind": "batch", "feeds": %s, "entries": %s, "seed": %s, "start": "%s"}\n' \
    "$NEW_FEEDS" "$((NEW_FEEDS * NEW_ENTRIES))" "$NEW_SEED" "$START" >>"$RESULTS"

# ---------------------------------------------------------------- 3. per size
need_kib() { # SIZE: rough disk need (grown database + one copy), KiB
    local bytes
    bytes=$(stat -c %s "$BASE/polyfeed.db")
    echo $((bytes / 1024 * $1 / BASE_N * 2 + 1048576))
}

for size in $SIZES; do
    db=$WORK/db-$size.db
    if ((size <= BASE_N)); then
        ((size == BASE_N)) || log "size $size: smaller than the base; measuring the base ($BASE_N entries)"
        db=$BASE/polyfeed.db
    else
        free=$(df -Pk "$WORK" | awk 'NR == 2 {print $4}')
        need=$(need_kib "$size")
        [[ -n $REUSE && -s $db ]] && need=$((need / 2)) # the database is there: one copy more
        if ((free < need)); then
            log "size $size: needs about $((need / 1048576)) GiB free, $((free / 1048576)) GiB left: skipped"
            printf '{"kind": "skipped", "size": %s, "reason": "disk: %s KiB free, about %s needed"}\n' "$size" "$free" "$need" >>"$RESULTS"
            continue
        fi
        if [[ -n $REUSE && -s $db && -s $WORK/grow-$size.json ]]; then
            log "size $size: reusing $db (ASSIGN_REUSE=1)"
            reuse_timed "$WORK/grow-$size.json"
        else
            log "size $size: grow_db.py"
            timed "$WORK/grow-$size.json" python3 "$BENCH/grow_db.py" "$BASE/polyfeed.db" "$db" --entries "$size"
        fi
        if ((T_RC != 0)); then
            log "size $size: grow_db.py failed (exit $T_RC): $(tail -n 2 "$WORK/grow-$size.json.err")"
            printf '{"kind": "skipped", "size": %s, "reason": "grow_db.py exit %s after %s s"}\n' "$size" "$T_RC" "$T_WALL" >>"$RESULTS"
            rm -f "$db" "$db.tmp"
            continue
        fi
        printf '{"kind": "grow", "size": %s, "wall_s": %s, "user_s": %s, "sys_s": %s, "rss_kib": %s, "db": %s}\n' \
            "$size" "$T_WALL" "$T_USER" "$T_SYS" "$T_RSS" "$(cat "$WORK/grow-$size.json")" >>"$RESULTS"
        log "size $size: grown in ${T_WALL}s: $(cat "$WORK/grow-$size.json")"
    fi
    stored=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM entries").fetchone()[0])' "$db")
    db_bytes=$(stat -c %s "$db")
    for run in $(seq 1 "$RUNS"); do
        rd=$WORK/run-$size-$run
        rm -rf "$rd"
        mkdir -p "$rd"
        ln -s "$BASE/farm" "$rd/farm"
        ln -s "$WORK/farm-new" "$rd/farm-new"
        feeds_toml "$rd/feeds.toml" "$BASE/farm/urls.txt" farm "$WORK/farm-new/urls.txt" farm-new
        cp "$db" "$rd/polyfeed.db"
        sync -f "$rd/polyfeed.db" 2>/dev/null || true
        timed "$rd/poll.json" "$BIN" -c "$rd/feeds.toml" poll --json
        poll_rc=$T_RC poll_wall=$T_WALL poll_user=$T_USER poll_sys=$T_SYS poll_rss=$T_RSS
        summary=$(python3 "$BENCH/assign_report.py" poll-summary "$rd/poll.json" --db "$rd/polyfeed.db" --new-prefix file:farm-new/)
        # What a reader's first look costs at this size (issue 15): the
        # newest 50 stories, and a server's start-up.
        stories_s=null serve_s=null
        if ((poll_rc == 0)); then
            timed "$rd/stories.json" "$BIN" -c "$rd/feeds.toml" stories --json --limit 50
            # Counted only when it listed stories (an empty list is quick).
            listed=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$rd/stories.json" 2>/dev/null || echo 0)
            if ((T_RC == 0 && listed > 0)); then stories_s=$T_WALL; fi
            serve_startup "$rd"
            serve_s=$SERVE_S
        fi
        printf '{"kind": "run", "size": %s, "run": %s, "stored": %s, "db_bytes": %s, "wall_s": %s, "user_s": %s, "sys_s": %s, "rss_kib": %s, "rc": %s, "stories_s": %s, "serve_start_s": %s, "poll": %s}\n' \
            "$size" "$run" "$stored" "$db_bytes" "$poll_wall" "$poll_user" "$poll_sys" "$poll_rss" "$poll_rc" "$stories_s" "$serve_s" "$summary" >>"$RESULTS"
        log "size $size run $run: rc $poll_rc, wall ${poll_wall}s, cpu $(awk "BEGIN{print $poll_user+$poll_sys}")s, rss $((poll_rss / 1024)) MiB: $(python3 "$BENCH/assign_report.py" brief "$summary"); stories --limit 50 ${stories_s}s, serve start-up ${serve_s}s"
        [[ ${ASSIGN_KEEP:-0} == 1 ]] || rm -rf "$rd"
        rm -f "$rd/polyfeed.db" "$rd/polyfeed.db-wal" "$rd/polyfeed.db-shm" 2>/dev/null || true
    done
    if [[ $db != "$BASE/polyfeed.db" && ${ASSIGN_KEEP_DBS:-0} != 1 ]]; then rm -f "$db"; fi
done

# ---------------------------------------------------------------- 4. report
report_args=()
[[ ${BENCH_NO_REPORT:-0} == 1 ]] || report_args+=(--markdown "$ROOT/BENCHMARKS.md")
COMMIT_LABEL=${BENCH_COMMIT:-}
if [[ -z $COMMIT_LABEL && -n ${BENCH_BIN:-} ]]; then
    COMMIT_LABEL="unknown (BENCH_BIN=$BENCH_BIN without BENCH_COMMIT; HEAD is $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
fi
python3 "$BENCH/assign_report.py" assemble "$RESULTS" "$RESULTS_OUT" --command "$COMMAND" \
    --bin "$SRC_BIN" --root "$ROOT" --commit "$COMMIT_LABEL" --loadavg "$LOADAVG" \
    --elapsed "$((SECONDS - STARTED))" "${report_args[@]}"
log "wrote $RESULTS_OUT${report_args:+ and BENCHMARKS.md} in $((SECONDS - STARTED)) s"
