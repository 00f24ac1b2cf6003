#!/usr/bin/env python3
"""Grow a polyfeed database by replicating its history backwards in time.

    grow_db.py BASE.db OUT.db --entries N

BASE is a database written by a real ``polyfeed poll`` (for the benchmark:
a farm of 200 feeds x 50 entries, 10,000 entries). OUT gets about N entries
(``round(N / entries of BASE)`` copies of BASE's entries, at least one): copy
0 is BASE itself, copy k (k = 1, 2, ...) is every entry of BASE again with
every date moved back by k x (span of BASE's publication dates + 1 day). The
entries per day stay those of BASE: a bigger database is a longer history of
the same feeds, not more feeds in the same week, so the entries near any
date, which story assignment looks at, are as many as in BASE.

What a copy k changes (k = 0 is BASE verbatim), so that copies never match
each other or anything new by identity and every table stays consistent:

- row ids: entries, entry_revisions, story_log and story_events ids get a
  per-copy offset. The oldest copy is written first and BASE last, so ids
  grow with time as in a database that polled for years; every reference
  (story_entries.entry_id/matched_entry, entry_features, entry_keys,
  entry_links, entry_categories, entry_pages, story_recheck, the entry ids
  in story_events.entries) follows.
- identities get the suffix ``~cK``: entries.key (UNIQUE per source; the
  sources stay the same 200 rows), guid, url, entry_links.href, the keys in
  entry_keys, and in entry_features the guid, url_key, id_keys, alternates
  and pattern_ids (the farm's URLs have no query and no trailing slash, so
  the suffixed URL still folds to the suffixed url_key); story ids too.
  entry_features is read in all its stored forms: the binary ones (format
  byte 1 or 2, then postcard; rewritten by ``features_blob``, the sketch and
  content features copied byte for byte) and the JSON of earlier versions;
  any other format stops the run.
- dates, RFC 3339 ``YYYY-MM-DDTHH:MM:SSZ`` as polyfeed stores them: entries
  published_at, updated_at, first_seen_at, last_seen_at; the ``published``
  field of entry_features (what ``dedup::decide`` compares); the
  raw JSON's entry.published/entry.updated (with its guid and link hrefs);
  stories.created_at, story_entries.joined_at, story_log.at,
  story_events.at, entry_revisions.replaced_at, entry_pages.fetched_at.
- the publishing index of schema 9 (story_index, story_dirty) is copied
  like the rest (story ids suffixed, first publication times shifted; the
  category and source keys stay), and its triggers are created after the
  copies, so a grown database needs no refresh.

Copied once, as they are: sources (so their fetch state, validators and
next due times are BASE's), fetches, poll_state, rule_state. story_log.detail
text ("entry 250 ...") is not rewritten. Not copied: the nodes and their
host leases (who polls now; nobody, in a grown database) and story_pending
(empty: BASE must have every entry assigned). Any other table stops the run
if it has rows (the schema grew: teach this script about it).

Each copy is one INSERT ... SELECT per table in one transaction (the
database is written with journal_mode=OFF, then switched to WAL as polyfeed
keeps it); the result is written to OUT.tmp and renamed when complete.
Python 3 standard library only (sqlite3 with its JSON functions).
"""

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
import time

TS = "%Y-%m-%dT%H:%M:%SZ"

# Tables copied once, verbatim (not per entry).
ONCE = ("sources", "fetches", "poll_state", "rule_state")
# Tables left empty: who polls now (nobody, in a grown database), and the
# entries waiting for a story (none: checked below).
SKIP = ("nodes", "host_leases", "story_pending")
# Tables written per copy, in this order (parents before children).
PER_COPY = (
    "entries",
    "entry_links",
    "entry_categories",
    "entry_revisions",
    "entry_features",
    "entry_keys",
    "entry_pages",
    "stories",
    "story_entries",
    "story_log",
    "story_events",
    "story_recheck",
    "story_index",
    "story_dirty",
)


def log(msg):
    print(f"[grow_db {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def shifted(col, k):
    """SQL: the RFC 3339 text `col` moved back by copy k's shift (NULL stays NULL)."""
    if k == 0:
        return col
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE strftime('{TS}', {col}, '-' || (:shift) || ' seconds') END"


def suffixed(col, k):
    return col if k == 0 else f"({col} || :sfx)"


def suffixed_array(doc, path):
    """SQL: the JSON array at `path` of `doc` with the copy suffix on every string."""
    return f"(SELECT json_group_array(value || :sfx) FROM json_each({doc}, '{path}'))"


def field(doc, path):
    return f"json_extract({doc}, '{path}')"


def raw_expr(col, k):
    """The raw JSON (what normalise reads again): guid, dates and link hrefs of the copy."""
    if k == 0:
        return col
    links = (
        f"(SELECT json_group_array(json(json_set(l.value, '$.href', json_extract(l.value, '$.href') || :sfx)))"
        f" FROM json_each({col}, '$.entry.links') l)"
    )
    return (
        f"json_replace({col},"
        f" '$.entry.guid', json_extract({col}, '$.entry.guid') || :sfx,"
        f" '$.entry.published', {shifted(field(col, '$.entry.published'), k)},"
        f" '$.entry.updated', {shifted(field(col, '$.entry.updated'), k)},"
        f" '$.entry.links', json({links}))"
    )


# ---------------------------------------------------------------- binary features
# polyfeed stores entry_features as [FORMAT] + postcard (serde's compact
# binary encoding) of dedup::Features (src/dedup/features.rs); earlier
# versions stored JSON text, handled in SQL below. The fields a copy changes
# all come before the sketch and the content features, which are copied
# byte for byte: lang, published, source_id, group, host, guid, url_key,
# id_keys, pattern_ids, alternates. Format 2 (FORMAT_PACKED) is format 1
# with the sketch and content packed smaller: the same fields before them.
FEATURES_FORMATS = (1, 2)


def varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i
        shift += 7


def put_varint(out, n):
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def get_str(buf, i):
    n, i = varint(buf, i)
    return bytes(buf[i : i + n]), i + n


def put_str(out, b):
    put_varint(out, len(b))
    out += b


def shift_rfc3339(text, seconds):
    """polyfeed's time text (chrono: 2024-02-04T13:22:00Z, maybe with a fraction) moved back."""
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) - dt.timedelta(seconds=seconds)
    out = t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        out += f".{t.microsecond:06d}".rstrip("0")
    return out + "Z"


def features_blob(blob, seconds, sfx):
    """A copy's binary features: `published` moved back, identities suffixed."""
    buf = bytes(blob)
    if not buf or buf[0] not in FEATURES_FORMATS:
        raise ValueError(f"entry_features in an unknown format (first byte {buf[:1].hex()}): update grow_db.py")
    sfx = sfx.encode()
    out = bytearray(buf[:1])
    i = 1

    def option(transform):
        nonlocal i
        tag = buf[i]
        i += 1
        out.append(tag)
        if tag == 1:
            v, i = get_str(buf, i)
            put_str(out, transform(v))
        elif tag != 0:
            raise ValueError("unexpected Option tag in entry_features")

    def strings(transform):
        nonlocal i
        n, i = varint(buf, i)
        put_varint(out, n)
        for _ in range(n):
            v, i = get_str(buf, i)
            put_str(out, transform(v))

    same = lambda v: v  # noqa: E731
    add = lambda v: v + sfx  # noqa: E731
    option(same)  # lang
    published, i = get_str(buf, i)
    put_str(out, shift_rfc3339(published.decode(), seconds).encode())
    start = i
    _, i = varint(buf, i)  # source_id (zigzag varint): the same sources
    out += buf[start:i]
    option(same)  # group
    option(same)  # host
    option(add)  # guid
    option(add)  # url_key
    strings(add)  # id_keys
    strings(add)  # pattern_ids
    strings(add)  # alternates
    out += buf[i:]  # sketch, content
    return bytes(out)


def features_expr(col, k):
    if k == 0:
        return col
    return f"CASE WHEN typeof({col}) = 'blob' THEN pf_features({col}, :shift, :sfx) ELSE {json_features_expr(col, k)} END"


def json_features_expr(col, k):
    return (
        f"json_replace({col},"
        f" '$.published', {shifted(field(col, '$.published'), k)},"
        f" '$.guid', json_extract({col}, '$.guid') || :sfx,"
        f" '$.url_key', json_extract({col}, '$.url_key') || :sfx,"
        f" '$.id_keys', json({suffixed_array(col, '$.id_keys')}),"
        f" '$.alternates', json({suffixed_array(col, '$.alternates')}),"
        f" '$.pattern_ids', json({suffixed_array(col, '$.pattern_ids')}))"
    )


def page_links_expr(col, k):
    """entry_pages.links: JSON [[hreflang, href]]."""
    if k == 0:
        return col
    return (
        f"(SELECT json_group_array(json_array(json_extract(value, '$[0]'), json_extract(value, '$[1]') || :sfx))"
        f" FROM json_each({col}))"
    )


def transforms(k):
    """Per table, the SQL expression of each column that a copy changes."""
    eid = "entry_id + :eoff"
    return {
        "entries": {
            "id": "id + :eoff",
            "key": suffixed("key", k),
            "guid": suffixed("guid", k),
            "url": suffixed("url", k),
            "published_at": shifted("published_at", k),
            "updated_at": shifted("updated_at", k),
            "first_seen_at": shifted("first_seen_at", k),
            "last_seen_at": shifted("last_seen_at", k),
            "raw": raw_expr("raw", k),
        },
        "entry_links": {"entry_id": eid, "href": suffixed("href", k)},
        "entry_categories": {"entry_id": eid},
        "entry_revisions": {
            "id": "id + :roff",
            "entry_id": eid,
            "replaced_at": shifted("replaced_at", k),
            "raw": raw_expr("raw", k),
        },
        "entry_features": {"entry_id": eid, "features": features_expr("features", k)},
        "entry_keys": {"entry_id": eid, "key": suffixed("key", k)},
        "entry_pages": {
            "entry_id": eid,
            "url": suffixed("url", k),
            "fetched_at": shifted("fetched_at", k),
            "links": page_links_expr("links", k),
        },
        "stories": {"id": suffixed("id", k), "created_at": shifted("created_at", k)},
        "story_entries": {
            "entry_id": eid,
            "story_id": suffixed("story_id", k),
            "matched_entry": "matched_entry + :eoff",
            "joined_at": shifted("joined_at", k),
        },
        "story_log": {"id": "id + :loff", "at": shifted("at", k), "story_id": suffixed("story_id", k)},
        "story_events": {
            "id": "id + :voff",
            "at": shifted("at", k),
            "story_id": suffixed("story_id", k),
            "other_id": suffixed("other_id", k),
            "entries": "(SELECT json_group_array(value + :eoff) FROM json_each(entries))",
        },
        "story_recheck": {"entry_id": eid},
        "story_index": {"story_id": suffixed("story_id", k), "published": shifted("published", k)},
        "story_dirty": {"story_id": suffixed("story_id", k)},
    }


# Row-id columns that get an offset, and the parameter holding it.
OFFSETS = {"entries": "eoff", "entry_revisions": "roff", "story_log": "loff", "story_events": "voff"}


def columns(conn, schema, table):
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="database written by polyfeed poll")
    ap.add_argument("out", help="database to write (replaced)")
    ap.add_argument("--entries", type=int, required=True, help="about how many entries OUT should hold")
    ap.add_argument("--cache-mib", type=int, default=1024, help="SQLite page cache while writing (default 1024)")
    a = ap.parse_args(argv)
    started = time.monotonic()

    base = sqlite3.connect(f"file:{a.base}?mode=ro", uri=True)
    n_base = base.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    if n_base == 0:
        ap.error(f"{a.base} holds no entries")
    unassigned = base.execute(
        "SELECT COUNT(*) FROM entries e WHERE NOT EXISTS (SELECT 1 FROM story_entries s WHERE s.entry_id = e.id)"
    ).fetchone()[0]
    if unassigned:
        ap.error(f"{a.base}: {unassigned} entries have no story (an interrupted poll?); poll it once more first")
    lo, hi = base.execute("SELECT MIN(published_at), MAX(published_at) FROM entries").fetchone()
    span = base.execute("SELECT CAST(strftime('%s', ?2) AS INTEGER) - CAST(strftime('%s', ?1) AS INTEGER)", (lo, hi))
    span = span.fetchone()[0]
    step = span + 86400
    copies = max(1, round(a.entries / n_base))
    tables = [
        r[0] for r in base.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    ]
    for t in tables:
        if t not in ONCE and t not in PER_COPY and t not in SKIP:
            rows = base.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
            if rows:
                sys.exit(f"grow_db: table {t} ({rows} rows) is unknown to this script; teach it how to copy it")
    maxid = {
        t: base.execute(f"SELECT COALESCE(MAX(id), 0) FROM {t}").fetchone()[0]
        for t in OFFSETS
        if t in tables
    }
    schema_sql = [
        r[0]
        for r in base.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND type <> 'trigger'"
            " ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid"
        )
    ]
    # Triggers (schema 9's story_index marks) are created after the copies:
    # story_index is copied with the rest, so nothing needs marking.
    trigger_sql = [
        r[0] for r in base.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' ORDER BY rowid")
    ]
    user_version = base.execute("PRAGMA user_version").fetchone()[0]
    page_size = base.execute("PRAGMA page_size").fetchone()[0]
    base.close()
    log(
        f"{a.base}: {n_base} entries published {lo} .. {hi} (span {span / 86400:.2f} days); "
        f"{copies} copies -> {copies * n_base} entries, copy k moved back k x {step / 86400:.2f} days "
        f"(oldest from {copies - 1} x {step / 86400:.2f} days earlier)"
    )

    tmp = a.out + ".tmp"
    for p in (tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    out = sqlite3.connect(tmp, isolation_level=None)
    out.create_function("pf_features", 3, features_blob, deterministic=True)
    out.execute(f"PRAGMA page_size = {page_size}")
    out.execute("PRAGMA journal_mode = OFF")
    out.execute("PRAGMA synchronous = OFF")
    out.execute(f"PRAGMA cache_size = -{a.cache_mib * 1024}")
    out.execute("PRAGMA temp_store = MEMORY")
    out.execute("ATTACH DATABASE ? AS b", (f"file:{a.base}?mode=ro",))
    out.execute("BEGIN")
    for sql in schema_sql:
        out.execute(sql)
    out.execute(f"PRAGMA user_version = {user_version}")
    for t in ONCE:
        if t in tables:
            out.execute(f'INSERT INTO main."{t}" SELECT * FROM b."{t}"')
    out.execute("COMMIT")

    # Oldest copy first, BASE (k = 0) last: row ids grow with time.
    for order, k in enumerate(range(copies - 1, -1, -1)):
        t0 = time.monotonic()
        params = {
            "shift": k * step,
            "sfx": f"~c{k}",
            "eoff": order * maxid.get("entries", 0),
            "roff": order * maxid.get("entry_revisions", 0),
            "loff": order * maxid.get("story_log", 0),
            "voff": order * maxid.get("story_events", 0),
        }
        tr = transforms(k)
        out.execute("BEGIN")
        for t in PER_COPY:
            if t not in tables:
                continue
            cols = columns(out, "b", t)
            exprs = [tr[t].get(c, c) for c in cols]
            without_rowid = ("entry_categories", "entry_keys", "story_index", "story_dirty")
            order_by = " ORDER BY rowid" if t not in without_rowid else ""
            sql = f'INSERT INTO main."{t}" ({", ".join(cols)}) SELECT {", ".join(exprs)} FROM b."{t}"{order_by}'
            used = {p: v for p, v in params.items() if f":{p}" in sql}
            out.execute(sql, used)
        out.execute("COMMIT")
        log(f"copy {k:>3} (shift {k * step / 86400:7.1f} days) written in {time.monotonic() - t0:5.1f} s")

    for sql in trigger_sql:
        out.execute(sql)
    bad = out.execute("SELECT COUNT(*) FROM entries WHERE published_at IS NULL OR published_at NOT LIKE '____-__-__T__:__:__Z'")
    if bad.fetchone()[0]:
        sys.exit("grow_db: some shifted dates are not RFC 3339 (see entries.published_at)")
    out.execute("DETACH DATABASE b")
    out.execute("PRAGMA journal_mode = WAL")
    stats = {
        "entries": out.execute("SELECT COUNT(*) FROM entries").fetchone()[0],
        "stories": out.execute("SELECT COUNT(*) FROM stories").fetchone()[0],
        "copies": copies,
        "step_days": round(step / 86400, 4),
        "oldest": out.execute("SELECT MIN(published_at) FROM entries").fetchone()[0],
        "newest": out.execute("SELECT MAX(published_at) FROM entries").fetchone()[0],
    }
    out.close()
    for p in (a.out, a.out + "-wal", a.out + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    os.replace(tmp, a.out)
    stats["bytes"] = os.path.getsize(a.out)
    stats["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(stats))


if __name__ == "__main__":
    sys.exit(main())
