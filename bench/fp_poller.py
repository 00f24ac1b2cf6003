#!/usr/bin/env python3
"""A feed poller the way people commonly script one: the peer polyfeed is
compared with in bench/run.sh.

    fp_poller.py URLS_FILE DB [--workers 16] [--timeout 60]

A ThreadPoolExecutor runs ``feedparser.parse(url, etag=..., modified=...)``
for every URL (feedparser does the conditional GET and sanitises the HTML);
the main thread stores each result in SQLite as it completes: the feed's new
validators and its entries (``INSERT OR IGNORE`` through ``executemany``), one
transaction per feed. Prints one JSON line: feeds, ok, not_modified, failed,
new entries, seconds.
"""

import argparse
import json
import socket
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import feedparser

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, etag TEXT, modified TEXT, title TEXT, last_status INTEGER
);
CREATE TABLE IF NOT EXISTS entries (
    feed_url TEXT NOT NULL, guid TEXT NOT NULL, title TEXT, link TEXT, published TEXT,
    author TEXT, summary TEXT, content TEXT, tags TEXT,
    PRIMARY KEY (feed_url, guid)
);
"""


def fetch(url, etag, modified):
    """Runs on a worker thread: the conditional GET and the parse."""
    return url, feedparser.parse(url, etag=etag, modified=modified, agent="fp_poller/1 (+benchmark)")


def rows(url, parsed):
    for e in parsed.entries:
        guid = e.get("id") or e.get("link") or e.get("title")
        if not guid:
            continue
        content = e.get("content")
        yield (
            url,
            guid,
            e.get("title"),
            e.get("link"),
            e.get("published") or e.get("updated"),
            e.get("author"),
            e.get("summary"),
            content[0].get("value") if content else None,
            ",".join(t.get("term", "") for t in e.get("tags", [])),
        )


def store(db, url, parsed):
    """One transaction per feed: validators, then the entries."""
    status = parsed.get("status")
    with db:
        db.execute(
            "INSERT INTO feeds (url, etag, modified, title, last_status) VALUES (?1, ?2, ?3, ?4, ?5) "
            "ON CONFLICT (url) DO UPDATE SET etag = COALESCE(?2, etag), modified = COALESCE(?3, modified), "
            "title = COALESCE(?4, title), last_status = ?5",
            (url, parsed.get("etag"), parsed.get("modified"), parsed.feed.get("title"), status),
        )
        if status == 304:
            return 0
        before = db.total_changes
        db.executemany("INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows(url, parsed))
        return db.total_changes - before


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("urls", help="file with one URL a line")
    ap.add_argument("db", help="SQLite file (created)")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args(argv)
    started = time.monotonic()
    socket.setdefaulttimeout(a.timeout)
    with open(a.urls) as f:
        urls = [line.strip() for line in f if line.strip()]
    db = sqlite3.connect(a.db, isolation_level=None)
    db.executescript(SCHEMA)
    db.isolation_level = ""  # `with db:` opens and commits one transaction
    known = dict(((u, (e, m)) for u, e, m in db.execute("SELECT url, etag, modified FROM feeds")))
    counts = {"feeds": len(urls), "ok": 0, "not_modified": 0, "failed": 0, "new_entries": 0}
    with ThreadPoolExecutor(max_workers=a.workers) as pool:
        jobs = [pool.submit(fetch, u, *known.get(u, (None, None))) for u in urls]
        for job in as_completed(jobs):
            try:
                url, parsed = job.result()
            except Exception as e:  # a worker's failure is one failed feed
                print(f"failed: {e}", file=sys.stderr)
                counts["failed"] += 1
                continue
            status = parsed.get("status")
            if status == 304:
                counts["not_modified"] += 1
            elif status == 200 and (parsed.entries or not parsed.get("bozo_exception")):
                counts["ok"] += 1
            else:
                counts["failed"] += 1
                print(f"failed: {url}: {status} {parsed.get('bozo_exception')}", file=sys.stderr)
                continue
            counts["new_entries"] += store(db, url, parsed)
    db.close()
    counts["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(counts))
    return 0 if counts["failed"] == 0 else 3


if __name__ == "__main__":
    sys.exit(main())
