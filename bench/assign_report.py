#!/usr/bin/env python3
"""Helpers of bench/assign_scale.sh: summarise one measured poll, and assemble
a run into bench/results/assign_scale.json and the table of BENCHMARKS.md
between ``<!-- assign:begin -->`` and ``<!-- assign:end -->``.

    assign_report.py poll-summary POLL_JSON [--db DB --new-prefix PREFIX]
    assign_report.py brief SUMMARY_JSON                    # one log line
    assign_report.py assemble RESULTS_JSONL OUT_JSON --command C --bin B --root R
                     [--commit LABEL] [--loadavg L] [--elapsed S] [--markdown BENCHMARKS.md]
    assign_report.py markdown ASSIGN_JSON BENCHMARKS.md   # re-render the table only

Every figure is the median of the runs at one size (each run: a fresh copy
of the database, the same batch of new entries). Python 3 standard library
only.
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import sqlite3
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (machine and git facts, the same as bench/run.sh reports)

BEGIN, END = "<!-- assign:begin -->", "<!-- assign:end -->"
TARGET_RATIO = 2.0
# Issue 15: the whole poll of the new entries at 1M stored against 10k, and
# what a reader's first look costs at 1M.
POLL_RATIO = 1.5
STORIES_S = 0.1
SERVE_START_S = 2.0


# ---------------------------------------------------------------- one poll
def decisions(db, prefix):
    """What assignment did with the new entries, independent of row ids and
    of the size of the history: per new entry (by source and key), its role
    and the (source, key) of every member of its story. Returns a short hash
    and how many new entries share a story with an entry stored before."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            """SELECT s.key || ' ' || e.key, se.role, se.story_id FROM entries e
               JOIN sources s ON s.id = e.source_id JOIN story_entries se ON se.entry_id = e.id
               WHERE substr(s.key, 1, length(?1)) = ?1""",
            (prefix,),
        ).fetchall()
        members = {}
        for _, _, story in rows:
            if story not in members:
                members[story] = sorted(
                    r[0]
                    for r in conn.execute(
                        """SELECT s.key || ' ' || e.key FROM story_entries se JOIN entries e ON e.id = se.entry_id
                           JOIN sources s ON s.id = e.source_id WHERE se.story_id = ?1""",
                        (story,),
                    )
                )
    finally:
        conn.close()
    lines = sorted(f"{who}\t{role}\t{'|'.join(members[story])}" for who, role, story in rows)
    with_stored = sum(1 for _, _, story in rows if any(not m.startswith(prefix) for m in members[story]))
    return {
        "decisions_sha": hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16],
        "assigned_new": len(rows),
        "joined_stored": with_stored,
    }


def poll_summary(path, db=None, prefix=None):
    try:
        with open(path) as f:
            s = json.load(f)
    except (OSError, json.JSONDecodeError):
        return {"error": "no JSON from polyfeed"}
    outcomes = [x["outcome"] for x in s["sources"]]
    out = {
        "sources": len(outcomes),
        "ok": outcomes.count("ok"),
        "not_modified": outcomes.count("not_modified"),
        "failed": outcomes.count("failed"),
        "polled_other": sum(1 for x in s["sources"] if prefix and not x["url"].startswith(prefix)),
        "new_entries": sum(x["stats"]["new"] for x in s["sources"]),
        "cycle_s": s.get("seconds"),
        "phases": s.get("phases"),
        "stories": s.get("stories"),
        "cycle_peak_rss_kib": s.get("peak_rss_kib"),
    }
    if db and prefix:
        out.update(decisions(db, prefix))
    return out


# ---------------------------------------------------------------- a whole run
def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def sizes(results, runs_expected=None):
    """One row per size: medians over its valid runs."""
    batch = next((r for r in results if r["kind"] == "batch"), {})
    expect_new = batch.get("entries")
    expect_sources = batch.get("feeds")
    grows = {r["size"]: r for r in results if r["kind"] == "grow"}
    rows = []
    for size in sorted({r["size"] for r in results if r["kind"] == "run"}):
        runs = [r for r in results if r["kind"] == "run" and r["size"] == size]
        valid, problems = [], []
        for r in runs:
            p = r["poll"]
            bad = []
            if r["rc"] != 0:
                bad.append(f"exit {r['rc']}")
            if p.get("sources") != expect_sources or p.get("polled_other"):
                bad.append(f"{p.get('sources')} sources polled ({p.get('polled_other')} not new)")
            if p.get("new_entries") != expect_new:
                bad.append(f"{p.get('new_entries')} new entries")
            if not (p.get("phases") or {}).get("assign"):
                bad.append("no phases in poll --json")
            (problems if bad else valid).append(f"run {r['run']}: {', '.join(bad)}" if bad else r)
        phase = lambda r, k: (r["poll"].get("phases") or {}).get(k)  # noqa: E731
        row = {
            "size": size,
            "stored": runs[0]["stored"],
            "db_bytes": runs[0]["db_bytes"],
            "runs": len(runs),
            "valid_runs": len(valid),
            "problems": problems,
            "new_entries": expect_new,
        }
        if valid:
            assign = [phase(r, "assign") for r in valid]
            row.update(
                {
                    "assign_s": median(assign),
                    "assign_min_s": min(assign),
                    "assign_max_s": max(assign),
                    "assign_all_s": assign,
                    "fetch_s": median([phase(r, "fetch") for r in valid]),
                    "reconcile_s": median([phase(r, "reconcile") for r in valid]),
                    "cycle_s": median([r["poll"].get("cycle_s") for r in valid]),
                    "wall_s": median([r["wall_s"] for r in valid]),
                    "cpu_s": median([r["user_s"] + r["sys_s"] for r in valid]),
                    "rss_kib": median([r["rss_kib"] for r in valid]),
                    "stories": [r["poll"].get("stories") for r in valid],
                    "decisions": sorted({r["poll"].get("decisions_sha") for r in valid if r["poll"].get("decisions_sha")}),
                    "joined_stored": sorted({r["poll"].get("joined_stored") for r in valid}),
                    "stories_s": median([r.get("stories_s") for r in valid]),
                    "stories_all_s": [r.get("stories_s") for r in valid],
                    "serve_start_s": median([r.get("serve_start_s") for r in valid]),
                    "serve_start_all_s": [r.get("serve_start_s") for r in valid],
                }
            )
            row["us_per_entry"] = row["assign_s"] / expect_new * 1e6
        if size in grows:
            row["grow_s"] = grows[size]["wall_s"]
            row["grow"] = grows[size]["db"]
        rows.append(row)
    base = next((r for r in rows if "us_per_entry" in r), None)
    for r in rows:
        if base and "us_per_entry" in r:
            r["ratio"] = r["us_per_entry"] / base["us_per_entry"]
            r["wall_ratio"] = r["wall_s"] / base["wall_s"] if base["wall_s"] else None
    return rows


def verdict(rows):
    base = rows[0] if rows else None
    big = [r for r in rows if r["stored"] >= 1_000_000 and "ratio" in r]
    if not base or not big:
        return {"met": None, "measured": "not measured (no 1M run in this run)"}
    r = big[-1]
    return {
        "met": r["ratio"] <= TARGET_RATIO,
        "measured": f"{r['ratio']:.2f}x ({r['us_per_entry']:,.0f} µs per new entry at {r['stored']:,} stored, "
        f"{base['us_per_entry']:,.0f} at {base['stored']:,})",
    }


def targets15(rows):
    """Issue 15's rows measured here, at the largest size of 1M or more: the whole
    poll of the new entries against its time at the smallest size, and
    `stories --json --limit 50` and `serve` start-up on the polled database."""
    # The baseline of `ratio` and `wall_ratio`: the smallest size with a valid run.
    base = next((r for r in rows if "us_per_entry" in r), None)
    big = [r for r in rows if r["stored"] >= 1_000_000 and "us_per_entry" in r]
    at = f"{base['stored']:,}" if base else "10k"
    names = (
        f"poll with {base and base.get('new_entries') or 1000:,} new entries, whole command, at 1M stored <= "
        f"{POLL_RATIO:g}x at {at}",
        f"`stories --json --limit 50` at 1M stored <= {STORIES_S:g} s",
        f"`serve` start-up (to its first 200 for all.atom) at 1M stored <= {SERVE_START_S:g} s",
    )
    if not base or not big:
        return [{"target": n, "measured": "not measured (no 1M run in this run)", "met": None} for n in names]
    r = big[-1]

    def runs(xs):
        xs = [x for x in xs if x is not None]
        return f"runs {min(xs):.2f}–{max(xs):.2f} s" if xs else "no run"

    out = []
    ratio = r.get("wall_ratio")
    out.append(
        {
            "target": names[0],
            "measured": f"{fmt(ratio, '.2f')}x ({r['wall_s']:.2f} s at {r['stored']:,}, {base['wall_s']:.2f} s at "
            f"{base['stored']:,}; medians)",
            "met": None if ratio is None else ratio <= POLL_RATIO,
        }
    )
    measures = ((names[1], "stories", STORIES_S), (names[2], "serve_start", SERVE_START_S))
    for name, key, limit in measures:
        v = r.get(f"{key}_s")
        out.append(
            {
                "target": name,
                "measured": f"{fmt(v, '.2f')} s at {r['stored']:,} (median; {runs(r.get(f'{key}_all_s', []))})",
                "met": None if v is None else v <= limit,
            }
        )
    return out


def fmt(v, spec=""):
    return "–" if v is None else format(v, spec)


def markdown(latest):
    m, g = latest["machine"], latest["git"]
    rows = latest["sizes"]
    batch = latest.get("batch", {})
    lines = [
        f"Measured {latest['date']} on {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, Linux {m['kernel']}; "
        f"polyfeed commit `{g['commit']}`{' with uncommitted changes in src/' if g.get('src_modified') else ''} "
        f"(`{latest['polyfeed']}`, release build). Command: `{latest['command']}` ({latest['elapsed_s']} s; "
        f"load average before {latest.get('loadavg_before')}, after {' '.join(latest.get('loadavg_after') or [])}). "
        f"New entries: {batch.get('feeds')} farm feeds x {batch.get('entries', 0) // max(1, batch.get('feeds') or 1)} "
        f"(seed {batch.get('seed')}), dated from {batch.get('start')}, after every stored entry. "
        + (
            f"Medians of {runs} runs per size, each on a fresh copy of the database."
            if (runs := max((r["runs"] for r in rows), default=0)) != 1
            else "One run per size, on a fresh copy of the database."
        ),
        "",
        "| stored entries | database | new entries | assign s (min–max) | µs per new entry | x 10k "
        "| stories new / versions / duplicates | cycle s | poll wall s | x 10k | poll CPU s | peak RSS MiB "
        "| `stories --limit 50` s | `serve` start-up s |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "us_per_entry" not in r:
            lines.append(
                f"| {r['stored']:,} | {r['db_bytes'] / 1e9:.2f} GB | – | no valid run: {'; '.join(r['problems'])} "
                "| – | – | – | – | – | – | – | – | – | – |"
            )
            continue
        st = r["stories"]
        same = all(s == st[0] for s in st)
        sd = st[0] or {}
        stories = f"{sd.get('new_stories')} / {sd.get('versions')} / {sd.get('duplicates')}"
        if not same:
            stories += " (runs differ: " + ", ".join(
                f"{s.get('new_stories')}/{s.get('versions')}/{s.get('duplicates')}" for s in st
            ) + ")"
        lines.append(
            f"| {r['stored']:,} | {r['db_bytes'] / 1e9:.2f} GB | {r['new_entries']:,} "
            f"| {r['assign_s']:.2f} ({r['assign_min_s']:.2f}–{r['assign_max_s']:.2f}) "
            f"| {r['us_per_entry']:,.0f} | {fmt(r.get('ratio'), '.2f')} | {stories} | {fmt(r['cycle_s'], '.2f')} "
            f"| {r['wall_s']:.2f} | {fmt(r.get('wall_ratio'), '.2f')} | {r['cpu_s']:.2f} | {r['rss_kib'] / 1024:.0f} "
            f"| {fmt(r.get('stories_s'), '.2f')} | {fmt(r.get('serve_start_s'), '.2f')} |"
        )
    shas = {s for r in rows for s in r.get("decisions", [])}
    if shas:
        if len(shas) == 1:
            lines += ["", "The new entries got the same stories at every size and in every run (same decisions, "
                      "compared by source and entry key)."]
        else:
            per = "; ".join(f"{r['stored']:,}: {', '.join(r.get('decisions', []))}" for r in rows)
            lines += ["", f"**The new entries' stories differ between sizes or runs** (decision hashes: {per})."]
    skipped = latest.get("skipped") or []
    for s in skipped:
        lines += ["", f"Not measured: {s['size']:,} stored ({s['reason']})."]
    for r in rows:
        for p in r.get("problems", []):
            lines += ["", f"Left out at {r['stored']:,} stored: {p}."]
    v = latest["target"]
    met = {True: "yes", False: "**no**", None: "–"}[v["met"]]
    lines += ["", f"Target (issue 5): story assignment per new entry at 1M stored <= {TARGET_RATIO:g}x its cost at "
              f"10k: {v['measured']}; met: {met}."]
    for t in latest.get("targets15") or []:
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        lines += ["", f"Target (issue 15): {t['target']}: {t['measured']}; met: {met}."]
    return "\n".join(lines) + "\n"


def assemble(a):
    with open(a.results) as f:
        results = [json.loads(line) for line in f if line.strip()]
    rows = sizes(results)
    latest = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": a.command,
        "elapsed_s": a.elapsed,
        "machine": report.machine(),
        "git": report.git(a.root, a.commit or None),
        "polyfeed": report.sh(a.bin, "--version"),
        "loadavg_before": a.loadavg,
        "loadavg_after": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None,
        "base": next((r for r in results if r["kind"] == "base"), None),
        "batch": next((r for r in results if r["kind"] == "batch"), None),
        "skipped": [r for r in results if r["kind"] == "skipped"],
        "sizes": rows,
        "target": verdict(rows),
        "targets15": targets15(rows),
        "results": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".tmp", "w") as f:
        json.dump(latest, f, indent=1)
    os.replace(a.out + ".tmp", a.out)
    print(markdown(latest), end="")
    if a.markdown:
        report.rewrite_markdown(a.markdown, markdown(latest), BEGIN, END)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("poll-summary")
    p.add_argument("path")
    p.add_argument("--db")
    p.add_argument("--new-prefix")
    sub.add_parser("brief").add_argument("summary", help="a poll-summary JSON")
    p = sub.add_parser("assemble")
    p.add_argument("results")
    p.add_argument("out")
    for opt in ("--command", "--bin", "--root"):
        p.add_argument(opt, required=True)
    p.add_argument("--commit")
    p.add_argument("--loadavg")
    p.add_argument("--elapsed", type=int, default=0)
    p.add_argument("--markdown")
    p = sub.add_parser("markdown")
    p.add_argument("latest")
    p.add_argument("path")
    a = ap.parse_args(argv)
    if a.cmd == "poll-summary":
        print(json.dumps(poll_summary(a.path, a.db, a.new_prefix)))
    elif a.cmd == "brief":
        p = json.loads(a.summary)
        print(
            f"{p.get('sources')} sources polled, {p.get('new_entries')} new, "
            f"assign {(p.get('phases') or {}).get('assign')} s, stories {p.get('stories')}"
        )
    elif a.cmd == "assemble":
        assemble(a)
    elif a.cmd == "markdown":
        with open(a.latest) as f:
            report.rewrite_markdown(a.path, markdown(json.load(f)), BEGIN, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
