#!/usr/bin/env python3
"""The merge end to end: a labelled corpus (the format `polyfeed eval-dedup` reads) as feeds,
polled by the real binary, read back with `stories --json`, scored pairwise like eval-dedup.

    bench/news_feeds.py CORPUS.jsonl [--bin target/release/polyfeed] [--work DIR]

One RSS 2.0 feed per site (URL host) and language, each site's feeds in one `group`, local
files (no network). A document's `published` becomes the item's pubDate when it is a full
date; a month, a year or none gives an item without a date (seen when polled). Plain text
becomes `<p>` blocks with `<br>` line breaks, as eval-dedup reads it. Prints the per-pair
table and the overall line. Python 3 standard library only.
"""
import argparse, collections, shutil, email.utils, html, json, os, subprocess, sys, datetime, urllib.parse


def rss_date(published):
    if not published or len(published) < 10:
        return None
    try:
        d = datetime.datetime.fromisoformat(published.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(hour=12, tzinfo=datetime.timezone.utc)
    return email.utils.format_datetime(d.astimezone(datetime.timezone.utc))


def body(doc):
    if doc.get("html"):
        return doc["html"]
    blocks = [b.strip() for b in (doc.get("text") or "").split("\n\n") if b.strip()]
    return "".join("<p>" + "<br>".join(html.escape(l.strip()) for l in b.splitlines()) + "</p>" for b in blocks)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--bin", default="target/debug/polyfeed")
    ap.add_argument("--work", default="target/news-feeds")
    a = ap.parse_args()
    docs = [json.loads(l) for l in open(a.corpus, encoding="utf-8") if l.strip()]
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    feeds = collections.defaultdict(list)
    for d in docs:
        host = urllib.parse.urlsplit(d["url"]).hostname or "unknown"
        feeds[(host.removeprefix("www."), d["lang"])].append(d)
    toml = ['[settings]\ndatabase = "polyfeed.db"\noutput_dir = "public"\nitems = 10\n']
    for n, ((site, lang), items) in enumerate(sorted(feeds.items())):
        name = f"feed{n}.xml"
        out = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
               f"<title>{html.escape(site)} ({lang})</title><link>https://{html.escape(site)}/</link><language>{lang}</language>"]
        for d in items:
            date = rss_date(d.get("published"))
            out.append("<item>" + f"<title>{html.escape(d.get('title') or '')}</title>"
                       + f"<link>{html.escape(d['url'])}</link><guid isPermaLink=\"true\">{html.escape(d['url'])}</guid>"
                       + (f"<pubDate>{date}</pubDate>" if date else "")
                       + (f"<dc:creator>{html.escape(d['author'])}</dc:creator>" if d.get("author") else "")
                       + f"<description>{html.escape(body(d))}</description></item>")
        out.append("</channel></rss>\n")
        open(os.path.join(a.work, name), "w", encoding="utf-8").write("".join(out))
        toml.append(f'[[source]]\nurl = "{name}"\nname = "{site} {lang}"\nlang = "{lang}"\ngroup = "{site}"\n')
    cfg = os.path.join(a.work, "feeds.toml")
    open(cfg, "w", encoding="utf-8").write("\n".join(toml))
    run = lambda *args: subprocess.run([a.bin, "--config", cfg, *args], capture_output=True, text=True)
    p = run("poll")
    if p.returncode not in (0, 3):
        sys.exit(p.stderr)
    stories = json.loads(run("stories", "--json", "--limit", "100000").stdout)
    by_url = {d["url"]: d for d in docs}
    story_of = {}
    for s in stories:
        for v in s.get("versions", []) + s.get("duplicates", []):
            # The guid is the document's URL as given; the entry's url may
            # have lost tracking parameters (fbclid, utm_*) on the way in.
            for u in (v.get("entry_key"), v.get("url")):
                if u in by_url:
                    story_of[u] = s["id"]
    cells = [collections.defaultdict(collections.Counter) for _ in range(3)]
    for d in docs:
        st = story_of.get(d["url"], "missing:" + d["id"])
        cells[1][(None, st)][d["lang"]] += 1
        if d["group"]:
            cells[2][(d["group"], None)][d["lang"]] += 1
            cells[0][(d["group"], st)][d["lang"]] += 1
    counts = collections.defaultdict(lambda: [0, 0, 0])
    for k, table in enumerate(cells):
        for langs in table.values():
            items = sorted(langs.items())
            for i, (x, nx) in enumerate(items):
                counts[f"{x}-{x}"][k] += nx * (nx - 1) // 2
                for y, ny in items[i + 1:]:
                    counts[f"{x}-{y}"][k] += nx * ny
    prf = lambda tp, pp, gp: (tp / pp if pp else 1.0, tp / gp if gp else 1.0)
    print(f"{'langs':8} {'tp':>7} {'fp':>7} {'fn':>7} {'precision':>9} {'recall':>7}")
    tot = [0, 0, 0]
    for key in sorted(counts):
        tp, pp, gp = counts[key]
        tot = [tot[0] + tp, tot[1] + pp, tot[2] + gp]
        if pp or gp:
            p, r = prf(tp, pp, gp)
            print(f"{key:8} {tp:7} {pp - tp:7} {gp - tp:7} {p:9.4f} {r:7.4f}")
    p, r = prf(*tot)
    print(f"pairs: precision={p:.4f} recall={r:.4f} f1={2 * p * r / (p + r) if p + r else 0:.4f}"
          f" ({len(feeds)} feeds, {len(story_of)} of {len(docs)} documents stored)")


if __name__ == "__main__":
    main()
