#!/usr/bin/env python3
"""polyfeed against Python feedparser's own test suite (issue 14).

Every test document of feedparser's suite carries the value feedparser
expects in a header comment, as a Python expression over feedparser's
result (`Expect: not bozo and entries[0]['title'] == '...'`). This script

1. downloads the suite (feedparser's sdist from PyPI, with pip) into
   target/conformance/ and installs that feedparser into a venv there (the
   reference: which documents it finds entries in, which ill-formed ones it
   reads, and its date parser);
2. polls every well-formed, encoding, entity and ill-formed document with the
   real polyfeed binary (one feeds.toml, local file sources; the `http`
   documents, whose Expect depends on HTTP headers, are served from a
   loopback server that sends the headers the document names, as
   feedparser's runner does);
3. reads what polyfeed stored (the SQLite file), builds a feedparser-shaped
   result from it, and evaluates each Expect line against it, for the fields
   polyfeed keeps;
4. prints a table per field and fails when a figure is below the ratchet
   (tests/conformance/baseline.json, the level reached so far) or, with
   --strict, below the issue's bar (97 %).

Comparisons: text fields compare as text (markup removed, entities decoded,
white space collapsed: polyfeed stores titles as plain text and bodies as
sanitised HTML, feedparser keeps escaped markup); dates compare as instants
(feedparser's own date parser reads the expected string); authors match on
name, email or feedparser's "name (email)" form; languages ignore case.
Documents whose Expect reads anything polyfeed does not keep (e.g.
`title_detail['type']`, `feed['generator']`, `encoding`) count only for
acceptance and entries. Reasoned differences are listed in DIFFERENCES.

Usage: feedparser_suite.py --binary target/debug/polyfeed [--update-baseline]
       [--markdown CONFORMANCE.md] [--show FIELD] [--strict]
"""

import argparse
import ast
import html
import html.parser
import http.server
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

VERSION = "6.0.12"
ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BAR = 0.97

# Formats we decide not to read (see README "Formats").
SKIPPED_FORMATS = {
    "wellformed/cdf": "CDF (Microsoft's Channel Definition Format, 1997, never a feed format on the web)",
}

# Documents where polyfeed differs from feedparser on purpose; each counts
# as agreement and is listed with its reason.
REPEAT = "an entry repeated verbatim in one document (same id or none, same link, title and text) is one entry"
# RFC 7231 (Appendix B; RFC 9110 §8.7 keeps it) took away Content-Location's
# effect on the base URI: polyfeed resolves relative references against the
# URL that answered, feedparser against the Content-Location header.
CONTENT_LOCATION = ("relative references resolve against the URL that answered, not the Content-Location header "
                    "(RFC 7231 Appendix B, RFC 9110 §8.7)")
DIFFERENCES = {
    "wellformed/base/http_channel_link_base_content_location.xml": CONTENT_LOCATION,
    "wellformed/base/http_item_link_base_content_location.xml": CONTENT_LOCATION,
    "wellformed/base/http_entry_author_url_base_content_location.xml": CONTENT_LOCATION,
    "wellformed/base/http_entry_id_base_content_location.xml": CONTENT_LOCATION,
    "wellformed/http/headers_content_location-relative.xml": CONTENT_LOCATION,
    "wellformed/rss/item_guid_not_permalink.xml":
        "an item without a link is published with its guid as link when the guid is an http(s) URL",
    # Two entries with the same id (or none), no link, and the same title and
    # text (the
    # documents test which child element wins): a verbatim repeat, stored once.
    "wellformed/node_precedence/atom10_title.xml": REPEAT,
    "wellformed/node_precedence/atom10_id.xml": REPEAT,
}

# ---------- the suite and the reference feedparser ----------


def ensure_suite(work):
    suite = work / f"feedparser-{VERSION}"
    if (suite / "tests").is_dir():
        return suite
    work.mkdir(parents=True, exist_ok=True)
    sdist = work / f"feedparser-{VERSION}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             f"feedparser=={VERSION}", "-d", str(work)],
            check=True,
        )
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
        tar.extractall(work, members=members)
    return suite


def ensure_reference(work):
    """Re-executes this script in a venv (target/conformance/venv) holding feedparser VERSION."""
    venv = work / "venv"
    py = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        import feedparser
        if feedparser.__version__ != VERSION:
            sys.exit(f"feedparser {feedparser.__version__} in {venv}, expected {VERSION}")
        return
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = subprocess.run([str(py), "-c", f"import feedparser; assert feedparser.__version__ == '{VERSION}'"],
                           capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", str(work / f"feedparser-{VERSION}.tar.gz")],
                       check=True)
    os.execv(str(py), [str(py), str(Path(__file__).resolve())] + sys.argv[1:])


# ---------- documents ----------

desc_re = re.compile(rb"Description:\s*(.*?)\s*Expect:\s*(.*)\s*-->")
skip_re = re.compile(rb"SkipUnless:\s*(.*?)\n")
header_re = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.MULTILINE)


def convert_to_utf8(data):
    """feedparser's runner reads the Expect line of encoding tests this way."""
    boms = [
        (b"\x4c\x6f\xa7\x94", "cp037", 0), (b"\x00\x00\xfe\xff", "utf-32be", 0),
        (b"\xff\xfe\x00\x00", "utf-32le", 0), (b"\x00\x00\x00\x3c", "utf-32be", 0),
        (b"\x3c\x00\x00\x00", "utf-32le", 0), (b"\x00\x3c\x00\x3f", "utf-16be", 0),
        (b"\x3c\x00\x3f\x00", "utf-16le", 0),
    ]
    for prefix, codec, skip in boms:
        if data[:4] == prefix:
            return data[skip:].decode(codec).encode("utf-8")
    if data[:2] == b"\xfe\xff" and data[2:4] != b"\x00\x00":
        return data[2:].decode("utf-16be").encode("utf-8")
    if data[:2] == b"\xff\xfe" and data[2:4] != b"\x00\x00":
        return data[2:].decode("utf-16le").encode("utf-8")
    if data[:3] == b"\xef\xbb\xbf":
        return data[3:]
    return data


class Doc:
    def __init__(self, tests, path):
        self.path = path
        self.rel = str(path.relative_to(tests))
        self.group = self.rel.split("/")[0]
        self.http = "http" in self.rel
        data = path.read_bytes()
        if self.group == "encoding":
            data = convert_to_utf8(data)
        m = desc_re.search(data)
        self.description, self.expect = (m.group(1).decode("utf-8"), m.group(2).decode("utf-8").strip()) if m else ("", "")
        s = skip_re.search(data)
        self.skip_unless = s.group(1).decode().strip() if s else "1"
        self.skipped_format = next((why for pre, why in SKIPPED_FORMATS.items()
                                    if self.rel.startswith(pre) or path.name.startswith("cdf_")), None)


def documents(tests):
    docs = []
    for group in ("wellformed", "encoding", "entities", "illformed"):
        for p in sorted((tests / group).rglob("*.xml")):
            d = Doc(tests, p)
            if not d.expect:
                continue
            try:
                import feedparser  # noqa: F401  (SkipUnless lines may name it)
                if not eval(d.skip_unless):
                    continue
            except Exception:
                continue
            docs.append(d)
    return docs


# ---------- serving the http documents ----------

class Handler(http.server.BaseHTTPRequestHandler):
    tests = None

    def do_GET(self):
        rel = self.path.split("?")[0]
        if not rel.startswith("/tests/"):
            self.send_error(404)
            return
        path = self.tests / rel[len("/tests/"):]
        try:
            blob = path.read_bytes()
        except OSError:
            self.send_error(404)
            return
        headers = {k.decode().strip(): v.decode().strip() for k, v in header_re.findall(blob)}
        status = int(headers.pop("Status", 200))
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-type", headers.pop("Content-Type", "application/xml")))
        for k, v in headers.items():
            if k.lower() not in ("content-length",):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(blob)))
        self.end_headers()
        self.wfile.write(blob)

    def log_message(self, *args):
        pass


def serve(tests):
    Handler.tests = tests
    # Port 8097 and /tests/ as in feedparser's runner: some Expect lines
    # name the document's own URL.
    try:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 8097), Handler)
    except OSError:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/tests/"


# ---------- feedparser's own reading ----------

def reference(docs, base):
    import feedparser
    import warnings
    warnings.simplefilter("ignore")
    out = {}
    for d in docs:
        r = feedparser.parse(base + d.rel if d.http else str(d.path))
        try:
            ok = bool(eval(d.expect, {"feedparser": feedparser}, r))
        except Exception:
            ok = False
        out[d.rel] = {
            "bozo": bool(r.get("bozo")),
            "entries": len(r.get("entries", [])),
            "reads": bool(r.get("entries")) or bool(r.get("feed", {}).get("title")),
            "expect_ok": ok,
        }
    return out


# ---------- polyfeed ----------

def toml_str(s):
    return json.dumps(s)


def run_polyfeed(binary, docs, base, work):
    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    lines = [
        "[settings]",
        'database = "polyfeed.db"',
        'output_dir = "public"',
        "concurrency = 32",
        "per_host_concurrency = 32",
        'per_host_delay = "0s"',
        "",
    ]
    for d in docs:
        url = base + d.rel if d.http else str(d.path)
        lines += ["[[source]]", f"url = {toml_str(url)}", ""]
    (run / "feeds.toml").write_text("\n".join(lines))
    t0 = time.monotonic()
    p = subprocess.run([str(binary), "--config", str(run / "feeds.toml"), "poll", "-q"],
                       capture_output=True, text=True, timeout=900, env=dict(os.environ, NO_COLOR="1"))
    elapsed = time.monotonic() - t0
    if p.returncode not in (0, 3):
        sys.exit(f"polyfeed poll exited with {p.returncode} (a crash?)\n{p.stderr[-4000:]}")
    return run / "polyfeed.db", elapsed, p.returncode


class Text(str):
    """A plain-text value (a title): equal to an expected value with the same
    text, the expected value read as HTML or (feedparser's text/plain) as is."""

    def __eq__(self, other):
        return isinstance(other, str) and squash(str(self)) in (as_text(other), squash(other))

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


class Html(str):
    """Sanitised HTML (a summary or content): compared as text, the expected
    value read as HTML or (feedparser's text/plain) as is."""

    def __eq__(self, other):
        return isinstance(other, str) and as_text(str(self)) in (as_text(other), squash(other))

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


class Date(str):
    """An instant (RFC 3339): equal to any date string feedparser reads as the same instant."""

    def __eq__(self, other):
        if not isinstance(other, str):
            return False
        from feedparser.datetimes import _parse_date
        t = _parse_date(other)
        return t is not None and tuple(t)[:6] == tuple(struct(self))[:6]

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


class Author(str):
    def __new__(cls, name, email):
        shown = f"{name} ({email})" if name and email else (name or email or "")
        s = super().__new__(cls, shown)
        s.forms = {f for f in (name, email, shown, f"{email} ({name})" if name and email else None) if f}
        return s

    def __eq__(self, other):
        return isinstance(other, str) and squash(other) in {squash(f) for f in self.forms}

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


class Url(str):
    """A URL: scheme and host compare ignoring case (polyfeed stores them lower case)."""

    def __eq__(self, other):
        return isinstance(other, str) and url_key(self) == url_key(other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


def url_key(u):
    from urllib.parse import urlsplit
    try:
        p = urlsplit(u.strip())
        return (p.scheme.lower(), p.netloc.lower(), p.path, p.query, p.fragment)
    except ValueError:
        return u


class Lang(str):
    def __eq__(self, other):
        return isinstance(other, str) and other.strip().lower() == self.lower()

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


def struct(rfc3339):
    from datetime import datetime, timezone
    dt = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(timezone.utc)
    return dt.utctimetuple()


class _TextOf(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def squash(s):
    return " ".join(s.split())


def as_text(s):
    p = _TextOf()
    p.feed(s)
    p.close()
    return squash("".join(p.out))


def stored(db, docs, base):
    """A feedparser-shaped result per document, from what polyfeed stored."""
    from feedparser.util import FeedParserDict as D
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    by_url = {r["key"]: r for r in con.execute("SELECT * FROM sources")}
    out = {}
    for d in docs:
        key = base + d.rel if d.http else str(d.path)
        s = by_url.get(key)
        if s is None:
            s = next((r for k, r in by_url.items() if k.endswith(d.rel)), None)
        res = {"accepted": bool(s) and s["last_outcome"] in ("ok", "not_modified"),
               "error": s["last_error"] if s else "not polled"}
        feed = D()
        if s is not None:
            if s["feed_title"]:
                feed["title"] = Text(s["feed_title"])
                feed["title_detail"] = D(value=feed["title"])
            if s["feed_link"]:
                feed["link"] = Url(s["feed_link"])
            if s["feed_lang"]:
                feed["language"] = Lang(s["feed_lang"])
        entries = []
        if s is not None:
            for e in con.execute("SELECT * FROM entries WHERE source_id = ? ORDER BY id", (s["id"],)):
                entries.append(entry(con, e, D))
        res["feed"], res["entries"] = feed, entries
        out[d.rel] = res
    return out


def entry(con, e, D):
    raw = json.loads(e["raw"])
    raw = raw.get("entry", raw)
    x = D()
    if raw.get("title") is not None:
        x["title"] = Text(e["title"])
        x["title_detail"] = D(value=x["title"])
    if e["url"]:
        x["link"] = Url(e["url"])
    if e["guid"]:
        x["id"] = e["guid"]
    summary, content = e["summary_html"], e["content_html"]
    if summary or content:
        x["summary"] = Html(summary or content)
        x["summary_detail"] = D(value=x["summary"])
    if content:
        x["content"] = [D(value=Html(content))]
    authors = json.loads(e["authors"] or "[]")
    if authors:
        a = authors[0]
        x["author"] = Author(a.get("name"), a.get("email"))
        x["author_detail"] = D({k: v for k, v in (("name", a.get("name")), ("email", a.get("email")),
                                                  ("href", a.get("uri"))) if v})
        x["authors"] = [D({k: v for k, v in (("name", p.get("name")), ("email", p.get("email")),
                                             ("href", p.get("uri"))) if v}) for p in authors]
    for k in ("published", "updated"):
        if raw.get(k):
            x[k] = Date(raw[k])
            x[k + "_parsed"] = struct(raw[k])
    # polyfeed keeps an entry's categories as a set; the order compared is
    # the document's, as the stored raw record holds it.
    cats = [r[0] for r in con.execute("SELECT term FROM entry_categories WHERE entry_id = ?", (e["id"],))]
    order = [" ".join(html.unescape(c).split()).lower() for c in raw.get("categories") or []]
    cats.sort(key=lambda c: order.index(c.lower()) if c.lower() in order else len(order))
    if cats:
        x["tags"] = [D(term=c) for c in cats]
    links = [D({k: v for k, v in (("rel", r["rel"] or "alternate"), ("href", r["href"]), ("type", r["mime"]),
                                  ("hreflang", r["hreflang"]), ("title", r["title"])) if v})
             for r in con.execute("SELECT * FROM entry_links WHERE entry_id = ?", (e["id"],))]
    for enc in json.loads(e["enclosures"] or "[]"):
        links.append(D({k: v for k, v in (("rel", "enclosure"), ("href", enc.get("url")), ("type", enc.get("mime")),
                                          ("length", str(enc["length"]) if enc.get("length") is not None else None))
                        if v}))
    x["links"] = links
    return x


# ---------- which field an Expect line is about ----------

ALIASES = {"channel": "feed", "items": "entries", "guid": "id", "date": "updated", "date_parsed": "updated_parsed",
           "modified": "updated", "modified_parsed": "updated_parsed", "issued": "published",
           "issued_parsed": "published_parsed", "copyright": "rights", "copyright_detail": "rights_detail",
           "tagline": "subtitle", "tagline_detail": "subtitle_detail", "url": "href", "category": "tags"}

FIELDS = {
    ("feed", "title"): "feed title", ("feed", "title_detail", "value"): "feed title",
    ("feed", "link"): "feed link",
    ("feed", "language"): "feed language",
    ("entries", "title"): "entry title", ("entries", "title_detail", "value"): "entry title",
    ("entries", "link"): "entry link",
    ("entries", "id"): "entry id",
    ("entries", "author"): "entry author", ("entries", "author_detail", "name"): "entry author",
    ("entries", "author_detail", "email"): "entry author", ("entries", "author_detail", "href"): "entry author",
    ("entries", "authors", "name"): "entry author", ("entries", "authors", "email"): "entry author",
    ("entries", "authors", "href"): "entry author",
    ("entries", "published"): "entry published", ("entries", "published_parsed"): "entry published",
    ("entries", "updated"): "entry updated", ("entries", "updated_parsed"): "entry updated",
    ("entries", "summary"): "entry summary/content", ("entries", "summary_detail", "value"): "entry summary/content",
    ("entries", "content", "value"): "entry summary/content", ("entries", "content"): "entry summary/content",
    ("entries", "tags", "term"): "entry categories", ("entries", "tags"): "entry categories",
    ("entries", "enclosures", "href"): "entry enclosures", ("entries", "enclosures", "type"): "entry enclosures",
    ("entries", "enclosures", "length"): "entry enclosures", ("entries", "enclosures"): "entry enclosures",
}
FIELD_ORDER = ["feed title", "feed link", "feed language", "entry title", "entry link", "entry id", "entry author",
               "entry published", "entry updated", "entry summary/content", "entry categories", "entry enclosures"]
NEUTRAL = {("bozo",), ("entries",), ("feed",)}
METHODS = {"get", "has_key", "keys", "items", "values"}


def paths(expr):
    """Key paths an Expect expression reads, aliases resolved."""
    found = []

    def chain(node):
        keys = []
        while True:
            if isinstance(node, ast.Subscript):
                sl = node.slice
                if isinstance(sl, ast.Constant) and isinstance(sl.value, str):
                    keys.append(sl.value)
                node = node.value
            elif isinstance(node, ast.Attribute):
                if node.attr not in METHODS:
                    keys.append(node.attr)
                node = node.value
            elif isinstance(node, ast.Call):
                node = node.func
            elif isinstance(node, ast.Name):
                keys.append(node.id)
                return list(reversed(keys))
            else:
                return None

    def canon(keys):
        out = []
        for k in keys:
            k = ALIASES.get(k, k)
            if k == "description":
                k = "summary" if out and out[0] == "entries" else "subtitle"
            if k == "description_detail":
                k = "summary_detail" if out and out[0] == "entries" else "subtitle_detail"
            out.append(k)
        if out[-1:] == ["tags"] and len(out) == 2:
            out.append("term")
        return tuple(out)

    tree = ast.parse(expr, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "has_key"):
            base = chain(node.func.value)
            if base and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append(canon(base + [node.args[0].value]))
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str) \
                and any(isinstance(o, (ast.In, ast.NotIn)) for o in node.ops):
            base = chain(node.comparators[0])
            if base:
                found.append(canon(base + [node.left.value]))
        if isinstance(node, (ast.Subscript, ast.Attribute, ast.Name)):
            keys = chain(node)
            if keys and keys[0] in ("feed", "entries", "bozo", "encoding", "version", "namespaces", "headers",
                                    "status", "href", "etag", "modified", "bozo_exception", "channel", "items"):
                found.append(canon(keys))
    # keep only the longest paths (a prefix read on the way is not a field)
    uniq = set(found)
    return {p for p in uniq if not any(q != p and q[:len(p)] == p for q in uniq)}


def fields_of(expr):
    """(fields, kept): the fields the line states; kept is False when it reads anything polyfeed does not keep."""
    fs, kept = set(), True
    for p in paths(expr):
        if p in NEUTRAL:
            continue
        f = FIELDS.get(p)
        if f is None:
            kept = False
        else:
            fs.add(f)
    return fs, kept


# ---------- evaluation and report ----------

EMPTY_TEXT = "markup without any text (an image, an empty element): polyfeed stores no value where feedparser keeps the markup"


def holds(expect, feed, entries, bozo):
    import feedparser
    from feedparser.util import FeedParserDict as D
    try:
        return bool(eval(expect, {"feedparser": feedparser}, D(feed=feed, entries=entries, bozo=bozo)))
    except Exception:
        return False


def with_empty_text(o):
    """The stored result with absent titles and bodies of what was stored as empty text (no entry is made up)."""
    from feedparser.util import FeedParserDict as D
    feed = D(o["feed"])
    feed.setdefault("title", Text(""))
    feed.setdefault("title_detail", D(value=feed["title"]))
    entries = []
    for e in o["entries"]:
        e = D(e)
        e.setdefault("title", Text(""))
        e.setdefault("title_detail", D(value=e["title"]))
        e.setdefault("summary", Html(""))
        e.setdefault("summary_detail", D(value=e["summary"]))
        e.setdefault("content", [D(value=Html(""))])
        entries.append(e)
    return feed, entries


def evaluate(docs, ref, ours):
    import feedparser
    from feedparser.util import FeedParserDict as D
    import warnings
    warnings.simplefilter("ignore")
    res = {"fields": {f: {"stated": 0, "agree": 0, "reasoned": 0, "reasons": {}, "failures": []} for f in FIELD_ORDER}}
    acc = {"documents": 0, "accepted": 0, "skipped_format": 0, "rejected": []}
    ent = {"documents": 0, "stored": 0, "missing": []}
    ill = []
    for d in docs:
        o, r = ours[d.rel], ref[d.rel]
        if d.skipped_format:
            acc["skipped_format"] += 1
            continue
        if d.group == "illformed" or r["bozo"]:
            ill.append(d)  # feedparser itself calls it ill-formed
        else:
            acc["documents"] += 1
            if o["accepted"]:
                acc["accepted"] += 1
            else:
                acc["rejected"].append((d.rel, o["error"]))
            if r["entries"]:
                ent["documents"] += 1
                if o["entries"]:
                    ent["stored"] += 1
                else:
                    ent["missing"].append((d.rel, o["error"] if not o["accepted"] else "accepted, no entries"))
        if d.group == "illformed":
            continue
        fs, kept = fields_of(d.expect)
        if not fs or not kept or not r["expect_ok"]:
            continue
        ok = holds(d.expect, o["feed"], o["entries"], r["bozo"])
        reason = None
        if not ok:
            reason = DIFFERENCES.get(d.rel)
            if reason is None and o["accepted"] and holds(d.expect, *with_empty_text(o), r["bozo"]):
                reason = EMPTY_TEXT
        for f in fs:
            row = res["fields"][f]
            row["stated"] += 1
            if ok:
                row["agree"] += 1
            elif reason:
                row["reasoned"] += 1
                row["reasons"][reason] = row["reasons"].get(reason, 0) + 1
            else:
                row["failures"].append(d)
    def read(d):
        return ours[d.rel]["accepted"] and (ours[d.rel]["entries"] or ours[d.rel]["feed"])
    res["illformed"] = {"documents": len(ill), "ours": sum(1 for d in ill if read(d)),
                        "feedparser": sum(1 for d in ill if ref[d.rel]["reads"]),
                        "unread": [(d.rel, ours[d.rel]["error"]) for d in ill if ref[d.rel]["reads"] and not read(d)]}
    res["accepted"], res["entries"] = acc, ent
    return res


def pct(a, b):
    return f"{100.0 * a / b:.1f} %" if b else "-"


def table(res, elapsed):
    acc, ent, ill = res["accepted"], res["entries"], res["illformed"]
    lines = [
        "| measure | polyfeed | of | share |",
        "|---|---:|---:|---:|",
        f"| well-formed documents accepted | {acc['accepted']} | {acc['documents']} | {pct(acc['accepted'], acc['documents'])} |",
        f"| entries stored where feedparser finds entries | {ent['stored']} | {ent['documents']} | {pct(ent['stored'], ent['documents'])} |",
    ]
    for f in FIELD_ORDER:
        row = res["fields"][f]
        good = row["agree"] + row["reasoned"]
        extra = f" ({row['reasoned']} reasoned)" if row["reasoned"] else ""
        lines.append(f"| {f}: agrees{extra} | {good} | {row['stated']} | {pct(good, row['stated'])} |")
    lines.append(f"| ill-formed documents read (feedparser reads {ill['feedparser']}) | {ill['ours']} | {ill['documents']} | {pct(ill['ours'], ill['documents'])} |")
    reasons = {}
    for f in FIELD_ORDER:
        for why, n in res["fields"][f]["reasons"].items():
            reasons.setdefault(why, []).append(f"{f} {n}")
    if reasons:
        lines += ["", "Reasoned differences, counted as agreement:"]
        lines += [f"- {why} ({', '.join(where)})" for why, where in reasons.items()]
    return "\n".join(lines)


def figures(res):
    fig = {"accepted": res["accepted"]["accepted"], "entries": res["entries"]["stored"],
           "illformed": res["illformed"]["ours"]}
    for f in FIELD_ORDER:
        fig[f] = res["fields"][f]["agree"] + res["fields"][f]["reasoned"]
    return fig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target" / "debug" / "polyfeed"))
    ap.add_argument("--work", default=str(ROOT / "target" / "conformance"))
    ap.add_argument("--baseline", default=str(HERE / "baseline.json"))
    ap.add_argument("--update-baseline", action="store_true")
    ap.add_argument("--markdown", help="rewrite the table between the markers in this file")
    ap.add_argument("--show", action="append", default=[], help="list the documents failing FIELD (or 'rejected', 'entries', "
                    "'illformed': ill-formed documents feedparser reads and polyfeed does not)")
    ap.add_argument("--strict", action="store_true", help="fail below the issue's bar, not only below the ratchet")
    ap.add_argument("--fetch-only", action="store_true", help="download the suite and the reference, then stop")
    args = ap.parse_args()
    work = Path(args.work).resolve()
    ensure_suite(work)
    ensure_reference(work)
    if args.fetch_only:
        return 0
    tests = work / f"feedparser-{VERSION}" / "tests"
    docs = documents(tests)
    httpd, base = serve(tests)
    ref = reference(docs, base)
    db, elapsed, code = run_polyfeed(Path(args.binary), docs, base, work)
    ours = stored(db, docs, base)
    httpd.shutdown()
    res = evaluate(docs, ref, ours)
    t = table(res, elapsed)
    print(f"feedparser {VERSION} suite: {len(docs)} documents, polled in {elapsed:.1f} s (exit {code})\n")
    print(t)
    for what in args.show:
        if what == "rejected":
            for rel, err in res["accepted"]["rejected"]:
                print(f"  rejected {rel}: {err}")
        elif what == "illformed":
            for rel, err in res["illformed"]["unread"]:
                print(f"  not read (feedparser reads it) {rel}: {err or 'no title, no entries'}")
        elif what == "entries":
            for rel, why in res["entries"]["missing"]:
                print(f"  no entries {rel}: {why}")
        else:
            for d in res["fields"][what]["failures"]:
                o = ours[d.rel]
                print(f"  {d.rel}\n    expect: {d.expect}\n    ours: feed={dict(o['feed'])} entries[0]="
                      f"{dict(o['entries'][0]) if o['entries'] else None}")
    fig = figures(res)
    base_path = Path(args.baseline)
    if args.update_baseline:
        base_path.write_text(json.dumps(fig, indent=2) + "\n")
    if args.markdown:
        md = Path(args.markdown)
        text = md.read_text()
        start, end = "<!-- table:begin -->", "<!-- table:end -->"
        i, j = text.index(start) + len(start), text.index(end)
        md.write_text(text[:i] + f"\nfeedparser {VERSION}, {len(docs)} documents\n\n" + t + "\n\n" + text[j:])
    failed = []
    if base_path.exists():
        baseline = json.loads(base_path.read_text())
        failed += [f"{k}: {fig.get(k)} < ratchet {v}" for k, v in baseline.items() if fig.get(k, 0) < v]
    if args.strict:
        acc, ent = res["accepted"], res["entries"]
        if acc["accepted"] < acc["documents"]:
            failed.append("not every well-formed document accepted")
        if ent["stored"] < ent["documents"]:
            failed.append("entries missing where feedparser finds them")
        for f in FIELD_ORDER:
            row = res["fields"][f]
            if row["stated"] and (row["agree"] + row["reasoned"]) < BAR * row["stated"]:
                failed.append(f"{f} below {BAR:.0%}")
        if res["illformed"]["ours"] < res["illformed"]["feedparser"]:
            failed.append("fewer ill-formed documents read than feedparser")
    if failed:
        print("\nFAILED:\n  " + "\n  ".join(failed))
        return 1
    print("\nok (at or above the ratchet" + (" and the bar)" if args.strict else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
