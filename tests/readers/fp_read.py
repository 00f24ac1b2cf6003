"""fp-read: what Python feedparser (third-party, from PyPI) reads in one feed.

    fp-read [--json] FILE|URL

Prints one JSON object (with or without --json, which is accepted for
symmetry with the other readers): feedparser's version, its bozo flag and
reason (bozo=1: feedparser found the feed ill-formed or mis-declared), the
format it detected, the feed's title, id, language and links, and per entry
its id, title, link, language (xml:lang), dates, author, tags and the links
that carry an hreflang. Exit status: 0 bozo=0, 1 bozo=1, 2 usage or nothing
parsed. Only loopback http(s) URLs are fetched: the tests never leave the
machine.
"""
import ipaddress
import json
import os
import sys
import urllib.parse

import feedparser


def loopback(url):
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def links(items, only_hreflang=False):
    keep = ("rel", "type", "hreflang", "href")
    return [{k: l[k] for k in keep if l.get(k) is not None}
            for l in items if l.get("hreflang") or not only_hreflang]


def language(e):
    for key in ("title_detail", "summary_detail"):
        lang = (e.get(key) or {}).get("language")
        if lang:
            return lang
    return None


def main(argv):
    targets = [a for a in argv if not a.startswith("--")]
    if len(targets) != 1 or any(a not in ("--json",) for a in argv if a.startswith("--")):
        sys.stderr.write("usage: fp-read [--json] FILE|URL\n")
        return 2
    target = targets[0]
    if target.startswith(("http://", "https://")):
        if not loopback(target):
            sys.stderr.write("fp-read: %s is not on this machine; refused\n" % target)
            return 2
    elif not os.path.isfile(target):
        sys.stderr.write("fp-read: no such file: %s\n" % target)
        return 2
    d = feedparser.parse(target)
    f = d.feed
    out = {
        "feedparser": feedparser.__version__,
        "bozo": int(bool(d.get("bozo"))),
        "bozo_exception": repr(d.get("bozo_exception")) if d.get("bozo") else None,
        "version": d.get("version") or None,
        "http_status": d.get("status"),
        "feed": {
            "title": f.get("title"),
            "id": f.get("id"),
            "language": f.get("language") or language(f),
            "links": links(f.get("links", [])),
        },
        "entries": [{
            "id": e.get("id"),
            "title": e.get("title"),
            "link": e.get("link"),
            "language": language(e),
            "published": e.get("published"),
            "updated": e.get("updated"),
            "author": e.get("author"),
            "tags": [t.get("term") for t in e.get("tags", [])],
            "hreflang_links": links(e.get("links", []), only_hreflang=True),
        } for e in d.entries],
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    if not out["version"] and not out["entries"]:
        return 2
    return out["bozo"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
