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
import argparse, collections, shutil, html, json, os, subprocess, sys, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402  (bench/corpus.py: reading, item HTML and pairwise scoring, shared)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--bin", default="target/debug/polyfeed")
    ap.add_argument("--work", default="target/news-feeds")
    a = ap.parse_args()
    docs = corpus.load(a.corpus)
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
            date = corpus.rss_date(d.get("published"))
            out.append("<item>" + f"<title>{html.escape(d.get('title') or '')}</title>"
                       + f"<link>{html.escape(d['url'])}</link><guid isPermaLink=\"true\">{html.escape(d['url'])}</guid>"
                       + (f"<pubDate>{date}</pubDate>" if date else "")
                       + (f"<dc:creator>{html.escape(d['author'])}</dc:creator>" if d.get("author") else "")
                       + f"<description>{html.escape(corpus.body(d))}</description></item>")
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
    by_url = {d["url"] for d in docs}
    # The guid is the document's URL as given; the entry's url may have lost
    # tracking parameters (fbclid, utm_*) on the way in: both are looked up.
    story_of = {k: v for k, v in corpus.story_index(stories).items() if k in by_url}
    counts = corpus.pair_counts(
        (d["lang"], d["group"] or None, story_of.get(d["url"], "missing:" + d["id"])) for d in docs
    )
    lines = corpus.table(counts)
    print("\n".join(lines[:-1]))
    print(f"{lines[-1]} ({len(feeds)} feeds, {len(story_of)} of {len(docs)} documents stored)")


if __name__ == "__main__":
    main()
