#!/usr/bin/env python3
"""Helpers of bench/run.sh: summarise each tool's output as one JSON object,
and assemble a run into bench/results/latest.json and the tables of
BENCHMARKS.md (between ``<!-- bench:begin -->`` and ``<!-- bench:end -->``).

    report.py polyfeed-summary POLL_JSON
    report.py newsboat-summary CACHE_DB
    report.py publish-summary PUBLISH_JSON [HYPERFINE_JSON]
    report.py wrk-summary WRK_OUTPUT URL
    report.py assemble RESULTS_JSONL OUT_JSON --command C --bin B --root R --venv V
              --params JSON --elapsed S [--markdown BENCHMARKS.md]
    report.py markdown LATEST_JSON BENCHMARKS.md     # re-render the tables only

Every figure in the tables comes from the results file; ratios are taken
between tools measured in the same run. Every result line names its farm
(``"farm"``: ``synthetic``, gen_farm.py's, the default when absent; or
``real``, gen_farm.py --corpus): the tables between the ``bench`` markers are
the synthetic farm's, those between ``<!-- realfarm:begin -->`` and
``<!-- realfarm:end -->`` the real-text farm's (with the synthetic polyfeed
rows of the same run beside them, and the stories' precision and recall on
both). ``--sections`` says which of the two a run may rewrite (``main``,
``real``); a section is rewritten only when the run measured its farm.
Python 3 standard library only.
"""

import argparse
import datetime as dt
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
REAL_BEGIN, REAL_END = "<!-- realfarm:begin -->", "<!-- realfarm:end -->"
MB = 1e6
PEERS = ("newsboat-t2", "newsboat-t8", "feedparser")


# ---------------------------------------------------------------- per-tool summaries
def polyfeed_summary(path):
    with open(path) as f:
        text = f.read()
    try:
        s = json.loads(text)
    except json.JSONDecodeError:
        return {"error": "no JSON from polyfeed"}
    outcomes = [x["outcome"] for x in s["sources"]]
    return {
        "sources": len(outcomes),
        "ok": outcomes.count("ok"),
        "not_modified": outcomes.count("not_modified"),
        "failed": outcomes.count("failed"),
        "new_entries": sum(x["stats"]["new"] for x in s["sources"]),
        "updated_entries": sum(x["stats"]["updated"] for x in s["sources"]),
        "cycle_s": round(s["seconds"], 3),
        "cycle_peak_rss_kib": s.get("peak_rss_kib"),
        "errors": sorted({x["error"] for x in s["sources"] if x.get("error")})[:5],
    }


def newsboat_summary(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        feeds = db.execute("SELECT COUNT(*) FROM rss_feed").fetchone()[0]
        items = db.execute("SELECT COUNT(*) FROM rss_item").fetchone()[0]
    finally:
        db.close()
    return {"feeds": feeds, "items_stored": items}


def publish_summary(path, hf_path=None):
    with open(path) as f:
        p = json.load(f)
    out = {
        "artifacts": p["artifacts"],
        "written": p["files"]["written"],
        "stories_in_all": p["stories"],
        "render_and_write_s": round(p["seconds"], 4),
    }
    if hf_path and os.path.exists(hf_path):
        with open(hf_path) as f:
            r = json.load(f)["results"][0]
        out.update(
            {
                "runs": len(r["times"]),
                "mean_s": round(r["mean"], 4),
                "stddev_s": round(r["stddev"] or 0.0, 4),
                "min_s": round(r["min"], 4),
                "user_s": round(r["user"], 4),
                "system_s": round(r["system"], 4),
            }
        )
    return out


def to_ms(value):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        return None
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]
    return round(float(m.group(1)) * factor, 3)


def wrk_summary(path, url):
    with open(path) as f:
        text = f.read()
    out = {"url": url}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", text)
    if m:
        out["requests"] = int(m.group(1))
        out["read"] = m.group(3)
    m = re.search(r"Transfer/sec:\s+(\S+)", text)
    out["transfer_per_s"] = m.group(1) if m else None
    lat = {}
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M):
        lat[f"p{pct}"] = to_ms(value)
    out["latency_ms"] = lat
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx_3xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:(.*)", text)
    out["socket_errors"] = m.group(1).strip() if m else None
    return out


# ---------------------------------------------------------------- machine and versions
def sh(*cmd, stderr=False):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (r.stderr if stderr else r.stdout) or r.stdout or r.stderr
    return text.strip().splitlines()[0] if text.strip() else None


def machine():
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    ram = None
    try:
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
            ram = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": ram, "kernel": platform.release()}


def versions(binary, venv):
    return {
        "polyfeed": sh(binary, "--version"),
        "nginx": sh("nginx", "-v", stderr=True),
        "newsboat": sh("newsboat", "-v"),
        "feedparser": sh(f"{venv}/bin/python", "-c", "import feedparser; print('feedparser', feedparser.__version__)"),
        "python": sh(f"{venv}/bin/python", "--version"),
        "wrk": (sh("wrk", "-v") or "").split(" Copyright")[0] or None,
        "curl": " ".join((sh("curl", "--version") or "").split()[:2]) or None,
        "hyperfine": sh("hyperfine", "--version"),
        "rustc": sh("rustc", "-V"),
    }


def git(root, label=None):
    if label:  # BENCH_BIN was built elsewhere, from this commit
        return {"commit": label, "src_modified": False}
    commit = sh("git", "-C", root, "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", "src", "Cargo.toml", "Cargo.lock")
    return {"commit": commit, "src_modified": bool(dirty)}


# ---------------------------------------------------------------- derived figures
def load_results(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def farm_of(r):
    """The farm a result line was measured on."""
    return r.get("farm", "synthetic")


def find(results, n, phase, farm, tool=None):
    """The extra of the first result line of this size, phase and farm (and tool), or {}."""
    return next(
        (
            r["extra"]
            for r in results
            if r["n"] == n and r["phase"] == phase and farm_of(r) == farm and (tool is None or r["tool"] == tool)
        ),
        {},
    )


def workload(results, n, phase, farm="synthetic"):
    """Bytes and entries in the bodies a poller must download and parse."""
    made = find(results, n, "farm", farm)
    if phase == "cold":
        return made.get("total_bytes", 0), made.get("total_entries", 0), made.get("feeds", n)
    if phase == "changed":
        t = find(results, n, "changed", farm, "touch")
        return t.get("bytes", 0), t.get("entries", 0), made.get("feeds", n)
    return 0, 0, made.get("feeds", n)


def poll_rows(results):
    rows = []
    for r in results:
        if r["phase"] not in ("cold", "warm", "changed") or "wall_s" not in r:
            continue
        nbytes, entries, feeds = workload(results, r["n"], r["phase"], farm_of(r))
        if r["tool"] == "curl-floor":
            nbytes, entries = r["extra"].get("bytes", nbytes), entries
        wall = r["wall_s"] or 1e-9
        row = dict(r)
        row["farm"] = farm_of(r)
        row["cpu_s"] = round(r["user_s"] + r["sys_s"], 2)
        row["rss_mib"] = round(r["rss_kib"] / 1024, 1)
        row["entries_per_s"] = round(entries / wall) if entries else None
        row["mb_per_s"] = round(nbytes / MB / wall, 1) if nbytes else None
        row["feeds_per_s"] = round(feeds / wall) if r["tool"] != "curl-floor" else None
        row["check"] = check(r, results)
        rows.append(row)
    by_key = {(x["n"], x["farm"], x["phase"], x["tool"]): x for x in rows}
    for row in rows:
        pf = by_key.get((row["n"], row["farm"], row["phase"], "polyfeed"))
        unconditional = "2nd reload" in row["tool"]  # not the same work as polyfeed's warm poll
        if pf and row["tool"] not in ("polyfeed", "curl-floor") and not unconditional and pf["wall_s"]:
            row["peer_over_polyfeed"] = round(row["wall_s"] / pf["wall_s"], 2)
    return rows


def expected_new(results, n, phase, farm="synthetic"):
    _, entries, _ = workload(results, n, "cold", farm)
    if phase == "cold":
        return entries
    if phase == "changed":
        return find(results, n, "changed", farm, "touch").get("new_entries", 0)
    return 0


def check(r, results):
    """Whether the tool did the whole job (counts as expected); a short text."""
    e, n, phase, farm = r["extra"], r["n"], r["phase"], farm_of(r)
    want = expected_new(results, n, phase, farm)
    if r.get("rc") not in (0, None):
        return f"exit {r['rc']}"
    if r["tool"] == "polyfeed":
        ok = e.get("failed") == 0 and e.get("new_entries") == want and e.get("sources") == n
        return "ok" if ok else f"new {e.get('new_entries')}/{want}, failed {e.get('failed')}"
    if r["tool"] == "feedparser":
        ok = e.get("failed") == 0 and e.get("new_entries") == want
        return "ok" if ok else f"new {e.get('new_entries')}/{want}, failed {e.get('failed')}"
    if r["tool"].startswith("newsboat"):
        total = expected_new(results, n, "cold", farm)
        total += expected_new(results, n, "changed", farm) if phase == "changed" else 0
        ok = e.get("items_stored") == total and e.get("feeds") == n
        return "ok" if ok else f"stored {e.get('items_stored')}/{total}"
    if r["tool"] == "curl-floor":
        return "ok" if e.get("files") == n else f"files {e.get('files')}/{n}"
    return ""


def serve_rows(results):
    rows = [dict(r) for r in results if r["phase"].startswith("serve-")]
    for row in rows:
        row["status"] = row["phase"].split("-", 1)[1]
        ng = next((x for x in rows if x["phase"] == row["phase"] and x["tool"] == "nginx"), None)
        if ng and row["tool"] != "nginx" and ng["extra"].get("rps"):
            row["over_nginx"] = round(row["extra"]["rps"] / ng["extra"]["rps"], 2)
    return rows


def targets(polls, serves, results):
    """Issue 5's targets for this round, at N = 1,000 when it was measured."""
    k = {(r["n"], r["phase"], r["tool"]): r for r in polls if r["farm"] == "synthetic"}
    out = []

    def add(name, measured, met):
        out.append({"target": name, "measured": measured, "met": met})

    cold, warm = k.get((1000, "cold", "polyfeed")), k.get((1000, "warm", "polyfeed"))
    if cold:
        add("cold poll, 1,000 feeds x 50 entries, < 10 s", f"{cold['wall_s']:.2f} s", cold["wall_s"] < 10)
        nbs = [k[(1000, "cold", t)] for t in ("newsboat-t2", "newsboat-t8") if (1000, "cold", t) in k]
        if nbs:
            best = min(nbs, key=lambda r: r["wall_s"])
            ratio = best["wall_s"] / cold["wall_s"]
            add(f"cold poll >= 5x faster than the best newsboat ({best['tool']})", f"{ratio:.2f}x", ratio >= 5)
        fp = k.get((1000, "cold", "feedparser"))
        if fp:
            ratio = fp["wall_s"] / cold["wall_s"]
            add("cold poll >= 10x faster than the feedparser poller", f"{ratio:.2f}x", ratio >= 10)
        add("cold poll peak RSS < 150 MB", f"{cold['rss_kib'] * 1024 / MB:.0f} MB", cold["rss_kib"] * 1024 < 150 * MB)
    else:
        add("cold poll, 1,000 feeds (all targets at N = 1,000)", "not measured in this run", None)
    if warm:
        add("warm poll (all 304), 1,000 feeds, < 1 s", f"{warm['wall_s']:.2f} s", warm["wall_s"] < 1)
    s = {(r["phase"], r["tool"]): r for r in serves}
    pf304 = s.get(("serve-304", "polyfeed-serve"))
    if pf304:
        rps = pf304["extra"].get("rps") or 0
        add("serve: >= 20,000 req/s for 304", f"{rps:,.0f} req/s", rps >= 20000)
    pf200, ng200 = s.get(("serve-200", "polyfeed-serve")), s.get(("serve-200", "nginx"))
    if pf200 and ng200:
        ratio = (pf200["extra"].get("rps") or 0) / (ng200["extra"].get("rps") or 1)
        add("serve: 200 at >= half of nginx's rate", f"{ratio:.2f} of nginx", ratio >= 0.5)
    out.append(assign_target())
    return out


ASSIGN_TARGET = "story assignment at 1M stored <= 2x its cost at 10k"
# Where bench/assign_scale.sh wrote its results: its ASSIGN_RESULTS, as it reads it.
ASSIGN_RESULTS = os.environ.get("ASSIGN_RESULTS") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "results", "assign_scale.json"
)


def assign_target():
    """Issue 5's story-assignment target, from the last run of bench/assign_scale.sh (a separate
    measurement: a 1M-entry database is built for it), read when the tables are rendered."""
    try:
        with open(ASSIGN_RESULTS) as f:
            a = json.load(f)
        t = a["target"]
        where = f"bench/assign_scale.sh, {a['date']}, commit `{a['git']['commit']}`"
        return {"target": ASSIGN_TARGET, "measured": f"{t['measured']} ({where})", "met": t["met"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {"target": ASSIGN_TARGET, "measured": "not measured by this suite: run bench/assign_scale.sh", "met": None}


def targets15(polls):
    """Issue 15's targets, on each farm measured; the rows at 1M stored come from the
    last run of bench/assign_scale.sh (read when the tables are rendered), and the CI
    row from a fresh-clone `.ci/run`, which no benchmark measures."""
    k = {(r["n"], farm_of(r), r["phase"], r["tool"]): r for r in polls}
    out = []

    def add(name, measured, met):
        out.append({"target": name, "measured": measured, "met": met})

    for farm in ("synthetic", "real"):
        name = "real-text farm" if farm == "real" else "synthetic farm"
        cold, warm = k.get((1000, farm, "cold", "polyfeed")), k.get((1000, farm, "warm", "polyfeed"))
        if cold:
            peers = []
            for tool in ("newsboat-t2", "newsboat-t8", "feedparser"):
                if (r := k.get((1000, farm, "cold", tool))) and cold["wall_s"]:
                    peers.append((tool, r["wall_s"] / cold["wall_s"]))
            met = cold["wall_s"] <= 5 and bool(peers) and all(x >= 10 for _, x in peers)
            ratios = ", ".join(f"{x:.2f}x {t}" for t, x in peers) or "no peer measured"
            add(
                f"cold poll 1,000 x 50, {name}: <= 5 s, >= 10x newsboat and the feedparser poller",
                f"{cold['wall_s']:.2f} s ({ratios})",
                met,
            )
        if warm:
            fp = k.get((1000, farm, "warm", "feedparser"))
            ratio = fp["wall_s"] / warm["wall_s"] if fp and warm["wall_s"] else None
            add(
                f"all-304 poll of 1,000, {name}: <= 0.15 s, >= 3x the feedparser poller",
                f"{warm['wall_s']:.2f} s ({fmt(ratio, '.1f')}x the feedparser poller)",
                warm["wall_s"] <= 0.15 and ratio is not None and ratio >= 3,
            )
        if cold and warm:
            c, w = cold["rss_kib"] * 1024 / MB, warm["rss_kib"] * 1024 / MB
            add(f"peak RSS, cold 1,000 / all-304, {name}: <= 100 MB / <= 30 MB", f"{c:.0f} MB / {w:.0f} MB", c <= 100 and w <= 30)
        big = k.get((10000, farm, "cold", "polyfeed"))
        if big:
            rss = big["rss_kib"] * 1024 / MB
            add(
                f"cold poll 10,000 x 50, {name}: <= 60 s, <= 200 MB",
                f"{big['wall_s']:.2f} s, {rss:.0f} MB",
                big["wall_s"] <= 60 and rss <= 200,
            )
        elif cold:
            add(f"cold poll 10,000 x 50, {name}: <= 60 s, <= 200 MB", "not measured in this run", None)
    try:
        with open(ASSIGN_RESULTS) as f:
            a = json.load(f)
        where = f"bench/assign_scale.sh, {a['date']}, commit `{a['git']['commit']}`"
        for t in a["targets15"]:
            add(t["target"], f"{t['measured']} ({where})", t["met"])
    except (OSError, ValueError, KeyError, TypeError):
        add("poll with 1,000 new entries at 1M stored, `stories` and `serve` start-up at 1M", "not measured: run bench/assign_scale.sh", None)
    add("fresh-clone `.ci/run` <= 15 min", "not a benchmark: a fresh clone's `.ci/run`, timed (BENCHMARKS.md)", None)
    return out


# ---------------------------------------------------------------- markdown
def fmt(v, spec=""):
    if v is None:
        return "–"
    return format(v, spec)


def markdown(latest):
    m, g, v = latest["machine"], latest["git"], latest["versions"]
    params = latest["params"]
    lines = [
        f"Measured {latest['date']} on {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, Linux {m['kernel']}; "
        f"polyfeed commit `{g['commit']}`{' with uncommitted changes in src/' if g['src_modified'] else ''}, "
        f"release build. Command: `{latest['command']}` ({latest['elapsed_s']} s; load average before "
        f"{latest.get('loadavg_before')}, after {' '.join(latest.get('loadavg_after') or [])}). "
        f"Farm: N feeds x {params['m']} entries, seed {params['seed']}; "
        f"the changed poll follows `gen_farm.py --touch-percent {params['touch_percent']}`.",
        "",
        "Versions: " + "; ".join(f"{x}" for x in v.values() if x) + ".",
        "",
        "### Poll",
        "",
        "Wall and CPU time (user + sys) and peak RSS of the whole process, from `/usr/bin/time`; "
        "entries/s and MB/s count the bodies the poll had to download and parse (all of them cold, "
        "the rewritten ones in the changed poll, none warm). `x polyfeed` is the peer's wall time "
        "divided by polyfeed's in the same phase of the same run (above 1: polyfeed is faster). "
        "`check`: the tool stored what the farm holds. newsboat 2.21 keeps a feed's validators only from "
        "its second fetch on, so its first reload after the cold one re-downloads every feed (200s): that "
        "reload is listed as `2nd reload`, and its `warm` row is the next one, all 304 like the others'.",
        "",
        "| N | phase | tool | wall s | CPU s | peak RSS MiB | entries/s | MB/s | feeds/s | x polyfeed | check |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    order = {"cold": 0, "warm": 1, "changed": 2}
    tool_order = ["polyfeed", "newsboat-t2 2nd reload", "newsboat-t2", "newsboat-t8 2nd reload", "newsboat-t8"]
    tool_order += ["feedparser", "curl-floor"]

    def rank(tool):
        return tool_order.index(tool) if tool in tool_order else len(tool_order)

    synthetic = [r for r in latest["polls"] if r.get("farm", "synthetic") == "synthetic"]
    polls = sorted(synthetic, key=lambda r: (r["n"], order[r["phase"]], rank(r["tool"])))
    for r in polls:
        lines.append(
            f"| {r['n']:,} | {r['phase']} | {r['tool']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['rss_mib']:.0f} "
            f"| {fmt(r['entries_per_s'], ',')} | {fmt(r['mb_per_s'])} | {fmt(r['feeds_per_s'], ',')} "
            f"| {fmt(r.get('peer_over_polyfeed'), '.2f')} | {r['check']} |"
        )
    pf = [r for r in polls if r["tool"] == "polyfeed"]
    if pf:
        lines += [
            "",
            "polyfeed's own view of the same polls (`poll --json`: the cycle without start-up and the "
            "publishing that `poll` does after new entries; VmHWM at the end of the cycle):",
            "",
            "| N | phase | cycle s | peak RSS MiB (cycle) | ok | not modified | failed | new entries |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in pf:
            e = r["extra"]
            rss = e.get("cycle_peak_rss_kib")
            lines.append(
                f"| {r['n']:,} | {r['phase']} | {fmt(e.get('cycle_s'), '.2f')} | {fmt(rss and rss / 1024, '.0f')} "
                f"| {e.get('ok')} | {e.get('not_modified')} | {e.get('failed')} | {e.get('new_entries'):,} |"
            )
    pubs = [r for r in latest["results"] if r["phase"] == "publish"]
    if pubs:
        lines += [
            "",
            "### Publish",
            "",
            "`polyfeed publish` into an empty output directory (every file written and fsynced), "
            "whole process; mean ± σ of hyperfine runs.",
            "",
            "| N stored | what | files | mean s | ± σ | min s |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        for r in pubs:
            e = r["extra"]
            what = "all feeds (all + every tag, 3 languages + default, 3 formats)"
            if r["tool"] == "polyfeed-100":
                what = "one 100-story feed (all.atom/.rss/.json, index, OPML)"
            n = stored(latest["results"], r["n"]) if r["tool"] == "polyfeed-all" else 100
            lines.append(
                f"| {n:,} | {what} | {e['artifacts']} | {fmt(e.get('mean_s', e.get('render_and_write_s')), '.3f')} "
                f"| {fmt(e.get('stddev_s'), '.3f')} | {fmt(e.get('min_s'), '.3f')} |"
            )
    serves = latest["serves"]
    if serves:
        size = latest.get("serve_body_bytes")
        lines += [
            "",
            "### Serve",
            "",
            f"`all.atom` of the published N = {serves[0]['n']:,} site"
            f"{f' ({size:,} bytes, no compression asked)' if size else ''}: `polyfeed serve` from memory, "
            f"nginx from the file `publish` wrote. wrk -t2 -c32 -d{params['serve_seconds']}s --latency, "
            "loopback; the 304 run sends the server's own ETag in If-None-Match.",
            "",
            "| answer | server | req/s | p50 ms | p90 ms | p99 ms | / nginx |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in sorted(serves, key=lambda r: (r["status"], r["tool"] != "polyfeed-serve")):
            e = r["extra"]
            lat = e.get("latency_ms", {})
            lines.append(
                f"| {r['status']} | {r['tool']} | {fmt(e.get('rps'), ',.0f')} | {fmt(lat.get('p50'))} "
                f"| {fmt(lat.get('p90'))} | {fmt(lat.get('p99'))} | {fmt(r.get('over_nginx'), '.2f')} |"
            )
    lines += ["", "### Targets of issue 5 (this round)", "", "| target | measured | met |", "|---|---|---|"]
    for t in latest["targets"]:
        if t["target"].startswith("story assignment at 1M"):
            t = assign_target()  # measured apart from this suite: its latest result
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    lines += ["", "### Targets of issue 15", "", "| target | measured | met |", "|---|---|---|"]
    for t in targets15(latest["polls"]):  # rendered now: the 1M rows are assign_scale.sh's latest
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines) + "\n"


def markdown_real(latest):
    """The real-text farm's tables: its polls (every tool measured on it) beside the synthetic
    polyfeed polls of the same run, and the stories' pairwise precision and recall on both."""
    m, g, params, res = latest["machine"], latest["git"], latest["params"], latest["results"]
    real = [r for r in res if farm_of(r) == "real"]
    made = {r["n"]: r["extra"] for r in real if r["phase"] == "farm"}
    lines = [
        f"Measured {latest['date']} on {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, Linux {m['kernel']}; "
        f"polyfeed commit `{g['commit']}`{' with uncommitted changes in src/' if g['src_modified'] else ''}, "
        f"release build. Command: `{latest['command']}` ({latest['elapsed_s']} s; load average before "
        f"{latest.get('loadavg_before')}, after {' '.join(latest.get('loadavg_after') or [])}).",
        "",
    ]
    for n, f in sorted(made.items()):
        langs = ", ".join(f"{l} {f['feeds_per_language'][l]}" for l in f.get("languages", []))
        lines.append(
            f"- Real-text farm, N = {n:,}: `gen_farm.py --corpus {f.get('corpus')}` ({f.get('corpus_documents')} "
            f"documents, sha256 `{f.get('corpus_sha256', '?')[:12]}`), {f['feeds']:,} feeds x {f['entries_per_feed']} "
            f"entries, seed {params['seed']}, {f.get('publishers')} publishers; feeds per language: {langs}; "
            f"{f.get('copies_posted'):,} posts (unit copies), {f.get('versions_dropped'):,} versions dropped "
            f"(full feed or no feed in that language); dated {str(f.get('first_date'))[:10]} to "
            f"{str(f.get('last_date'))[:10]}; {f['total_bytes'] / f['total_entries']:,.0f} bytes per entry."
        )
    lines += [
        "",
        "Polls (as in the table of the synthetic farm above: whole process, `/usr/bin/time`; "
        "`x polyfeed` is the peer's wall time over polyfeed's on the same farm in the same run):",
        "",
        "| N | farm | phase | tool | wall s | CPU s | peak RSS MiB | cycle s | entries/s | MB/s | x polyfeed | check |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    order = {"cold": 0, "warm": 1, "changed": 2}
    tools = ["polyfeed", "newsboat-t2 2nd reload", "newsboat-t2", "feedparser", "curl-floor"]
    rows = [
        r
        for r in latest["polls"]
        if (r["farm"] == "real" or (r["tool"] == "polyfeed" and r["phase"] != "changed"))
        and r["n"] in made
    ]
    rows.sort(
        key=lambda r: (
            r["n"],
            order[r["phase"]],
            r["farm"] != "real",
            tools.index(r["tool"]) if r["tool"] in tools else 99,
        )
    )
    for r in rows:
        cycle = r["extra"].get("cycle_s") if r["tool"] == "polyfeed" else None
        lines.append(
            f"| {r['n']:,} | {r['farm']} | {r['phase']} | {r['tool']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} "
            f"| {r['rss_mib']:.0f} | {fmt(cycle, '.2f')} | {fmt(r['entries_per_s'], ',')} | {fmt(r['mb_per_s'])} "
            f"| {fmt(r.get('peer_over_polyfeed'), '.2f')} | {r['check']} |"
        )
    scores = sorted(
        (r for r in res if r["phase"] == "stories" and r["n"] in made), key=lambda r: (r["n"], farm_of(r) != "real")
    )
    if scores:
        lines += [
            "",
            "Stories after the warm poll (`polyfeed stories --json`, scored by `bench/score_farm.py` against "
            "the farm's truth: pairs of entries in one story against pairs of versions of one post, counted "
            "as `eval-dedup` counts them; the synthetic farm's truth is its translation triples):",
            "",
            "| N | farm | entries | stories | gold pairs | true pairs found | false pairs | missed pairs "
            "| precision | recall | F1 |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in scores:
            e = r["extra"]
            if "precision" not in e:
                lines.append(f"| {r['n']:,} | {farm_of(r)} | {e.get('error', 'not scored')} |||||||||")
                continue
            lines.append(
                f"| {r['n']:,} | {farm_of(r)} | {e['entries']:,} | {e['stories']:,} | {e['tp'] + e['fn']:,} "
                f"| {e['tp']:,} | {e['fp']:,} | {e['fn']:,} | {e['precision']:.4f} | {e['recall']:.4f} "
                f"| {e['f1']:.4f} |"
            )
        last = [r for r in scores if farm_of(r) == "real" and "pairs" in r["extra"]]
        if last:
            r = last[-1]
            cells = ", ".join(
                f"{k} {c['tp']}/{c['fp']}/{c['fn']}" for k, c in r["extra"]["pairs"].items()
            )
            lines += ["", f"Real-text farm, N = {r['n']:,}, per language pair (true / false / missed pairs): {cells}."]
    return "\n".join(lines) + "\n"


def has_farm(latest, farm):
    return any(farm_of(r) == farm and r["phase"] in ("cold", "warm") for r in latest["results"])


def rewrite_sections(path, latest, sections):
    """Rewrites the sections (main, real) whose farm the run measured."""
    if "main" in sections and has_farm(latest, "synthetic"):
        rewrite_markdown(path, markdown(latest))
    if "real" in sections and has_farm(latest, "real"):
        rewrite_markdown(path, markdown_real(latest), REAL_BEGIN, REAL_END)


def stored(results, n):
    """Entries in polyfeed's database after the three polls of size n."""
    return expected_new(results, n, "cold") + expected_new(results, n, "changed")


def rewrite_markdown(path, body, begin=BEGIN, end=END):
    """Replaces what lies between the markers begin and end in path."""
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        raise SystemExit(f"{path}: markers {begin} and {end} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path + ".tmp", "w") as f:
        f.write(f"{head}{begin}\n{body}{end}{tail}")
    os.replace(path + ".tmp", path)


def assemble(a):
    results = load_results(a.results)
    polls, serves = poll_rows(results), serve_rows(results)
    latest = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": a.command,
        "elapsed_s": a.elapsed,
        "machine": machine(),
        "git": git(a.root, a.commit),
        "loadavg_before": a.loadavg,
        "loadavg_after": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None,
        "versions": versions(a.bin, a.venv),
        "params": json.loads(a.params),
        "results": results,
        "polls": polls,
        "serves": serves,
        "targets": targets(polls, serves, results),
    }
    body = next((r["extra"].get("body_bytes") for r in results if r["phase"] == "serve_body"), None)
    latest["serve_body_bytes"] = body
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".tmp", "w") as f:
        json.dump(latest, f, indent=1)
    os.replace(a.out + ".tmp", a.out)
    if a.markdown:
        rewrite_sections(a.markdown, latest, a.sections.split())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("polyfeed-summary").add_argument("path")
    sub.add_parser("newsboat-summary").add_argument("path")
    p = sub.add_parser("publish-summary")
    p.add_argument("path")
    p.add_argument("hyperfine", nargs="?")
    p = sub.add_parser("wrk-summary")
    p.add_argument("path")
    p.add_argument("url")
    p = sub.add_parser("assemble")
    p.add_argument("results")
    p.add_argument("out")
    for opt in ("--command", "--bin", "--root", "--venv", "--params"):
        p.add_argument(opt, required=True)
    p.add_argument("--commit", help="commit label when the binary was not built from --root")
    p.add_argument("--loadavg", help="/proc/loadavg before the run")
    p.add_argument("--elapsed", type=int, default=0)
    p.add_argument("--markdown")
    p.add_argument("--sections", default="main real", help="the BENCHMARKS.md sections a run may rewrite")
    p = sub.add_parser("markdown")
    p.add_argument("latest")
    p.add_argument("path")
    p.add_argument("--sections", default="main real", help="the BENCHMARKS.md sections to rewrite")
    a = ap.parse_args(argv)
    if a.cmd == "polyfeed-summary":
        print(json.dumps(polyfeed_summary(a.path)))
    elif a.cmd == "newsboat-summary":
        print(json.dumps(newsboat_summary(a.path)))
    elif a.cmd == "publish-summary":
        print(json.dumps(publish_summary(a.path, a.hyperfine)))
    elif a.cmd == "wrk-summary":
        print(json.dumps(wrk_summary(a.path, a.url)))
    elif a.cmd == "assemble":
        assemble(a)
    elif a.cmd == "markdown":
        with open(a.latest) as f:
            rewrite_sections(a.path, json.load(f), a.sections.split())
    return 0


if __name__ == "__main__":
    sys.exit(main())
