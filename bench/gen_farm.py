#!/usr/bin/env python3
"""Generate a reproducible farm of feed files for polyfeed's benchmarks.

    gen_farm.py OUT --feeds N --entries M [--seed S] [--triple-every K]
                    [--start 2024-01-01T00:00:00Z] [--guid-prefix urn:farm:]
    gen_farm.py OUT --touch-percent P
    gen_farm.py OUT --corpus CORPUS.jsonl --feeds N --entries M [--seed S] [--start T]

Generate mode writes into OUT (created; existing f*.xml files are replaced):

- ``f00000.xml`` ... one file per feed: RSS 2.0 for even feed numbers, Atom 1.0
  for odd ones, each with M entries of about 2 KB of HTML (paragraphs, links,
  emphasis, a list), newest first, with guid/id, link, dates, one category.
- ``urls.txt``: the file names, one a line, relative to OUT.
- ``manifest.json``: the parameters, per-feed size, entry and language facts,
  and the totals (bytes, entries) that the benchmark divides by.

Feeds come in consecutive groups of three (feeds 3g, 3g+1, 3g+2, in the
languages fi, sv and en). Every K-th group (``--triple-every``, default 3, so
a third of the feeds) is a translation triple: the three feeds carry the same
posts, with the same dates, names and numbers, the text word-for-word
translated through aligned word lists and different titles and slugs, which
is what polyfeed's cross-language story assignment has to recognise. The
other groups carry unrelated posts, one language per feed.

Touch mode (``--touch-percent P``) reads OUT/manifest.json, picks P % of the
feeds (at least one; the choice depends on the seed and on how many touches
came before), and rewrites each with one new entry at the top and the oldest
one dropped, as a real feed does; then updates the manifest. It prints a JSON
line: the touch number, the feeds touched, the new entries, and the bytes and
entries of the rewritten files (what a poller downloads and parses).

``--start`` moves every date (entry j of a feed is published about j x 1000
minutes after it; default 2024-01-01T00:00:00Z) and ``--guid-prefix`` replaces
the ``urn:farm:`` that guids and Atom feed ids start with, so a second farm
can be polled into a database holding the first as newer entries that share
no identity with it (bench/assign_scale.sh). Both are kept in the manifest
for touches; with the defaults the output is byte-identical to a farm
generated without them.

Corpus mode (``--corpus``) writes the real-text farm instead: the same N x M shape made of the
translated documents of a labelled corpus (the format ``polyfeed eval-dedup`` reads), with a
``truth.jsonl`` of which entries are versions of one post; bench/real_farm.py describes it. The
synthetic farm stays for raw parsing speed: with the word table, any two of its posts in
different languages look alike (one 60-word aligned vocabulary), so its stories are not a
measure of anything (bench/score_farm.py scores them against its triples all the same).

Output depends only on the arguments (and, for touches, on the number of
earlier touches): same seed, same bytes. Python 3 standard library only.
"""

import argparse
import datetime as dt
import html
import json
import os
import random
import sys

LANGS = ("fi", "sv", "en")

# Word lists aligned by index: WORDS[lang][k] translates WORDS[other][k].
WORDS = {
    "fi": (
        "kaupunki asukas palvelu kehitys hanke tieto yhteistyö tavoite muutos päätös valtuusto "
        "kirjasto koulu päiväkoti liikenne katu silta puisto ranta metsä vesi sähkö energia "
        "ilmasto rakennus asunto vuokra tontti kaava lupa hakemus maksu talous budjetti vero "
        "avustus työ työpaikka yritys matkailu kulttuuri museo teatteri konsertti tapahtuma "
        "kesä talvi syksy kevät ilta aamu viikko kuukausi vuosi uusi vanha suuri pieni nopea "
        "turvallinen avoin yhteinen paikallinen alueellinen kansallinen digitaalinen sujuva"
    ).split(),
    "sv": (
        "stad invånare tjänst utveckling projekt information samarbete mål förändring beslut fullmäktige "
        "bibliotek skola daghem trafik gata bro park strand skog vatten el energi "
        "klimat byggnad bostad hyra tomt plan tillstånd ansökan avgift ekonomi budget skatt "
        "bidrag arbete arbetsplats företag turism kultur museum teater konsert evenemang "
        "sommar vinter höst vår kväll morgon vecka månad år ny gammal stor liten snabb "
        "trygg öppen gemensam lokal regional nationell digital smidig"
    ).split(),
    "en": (
        "city resident service development project information cooperation goal change decision council "
        "library school daycare traffic street bridge park shore forest water electricity energy "
        "climate building housing rent plot plan permit application fee economy budget tax "
        "grant work workplace company tourism culture museum theatre concert event "
        "summer winter autumn spring evening morning week month year new old large small fast "
        "safe open shared local regional national digital smooth"
    ).split(),
}
assert len({len(w) for w in WORDS.values()}) == 1, "word lists must stay aligned"

# Same meaning in each language; categories are published as tags.
TOPICS = {
    "fi": ["liikenne", "kulttuuri", "asuminen", "talous", "ympäristö", "koulutus"],
    "sv": ["trafik", "kultur", "boende", "ekonomi", "miljö", "utbildning"],
    "en": ["traffic", "culture", "housing", "economy", "environment", "education"],
}
NAMES = ["Elina Wahl", "Linda Macken", "Juha Korhonen", "Anna Lindqvist", "Mikko Virtanen", "Sara Nieminen"]
PLACES = ["Porvoo", "Lahti", "Vaasa", "Turku", "Espoo", "Kokkola", "Raasepori", "Loviisa"]
SAYS = {"fi": "kertoo", "sv": "säger", "en": "says"}
READ_MORE = {"fi": "Lue lisää", "sv": "Läs mer", "en": "Read more"}
ASCII_SLUG = str.maketrans("äöå", "aoa")
BASE_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
GUID_PREFIX = "urn:farm:"
PARAGRAPHS = 5
WORDS_PER_PARAGRAPH = 34


def is_triple(group, triple_every):
    return triple_every > 0 and group % triple_every == 0


def post_key(feed, triple_every):
    """What the posts of a feed are derived from: shared within a triple."""
    group = feed // 3
    return f"t{group}" if is_triple(group, triple_every) else f"f{feed}"


def make_entry(seed, feed, j, triple_every, start=BASE_TIME, guid_prefix=GUID_PREFIX):
    """Entry number j (0 = oldest ever) of a feed, as a dict of plain values."""
    lang = LANGS[feed % 3]
    key = post_key(feed, triple_every)
    shared = random.Random(f"{seed}:{key}:{j}")  # same across a triple
    words = WORDS[lang]
    n = len(words)
    # Posts are about 17 hours apart on average; the fi/sv/en versions of one
    # post share the time, give or take a few minutes.
    when = start + dt.timedelta(minutes=j * 1000 + shared.randrange(0, 900))
    when += dt.timedelta(minutes=random.Random(f"{seed}:{feed}:{j}:lag").randrange(0, 20))
    number = shared.randrange(10, 99999)
    name = shared.choice(NAMES)
    place = shared.choice(PLACES)
    topic = shared.randrange(len(TOPICS[lang]))
    title_idx = shared.choices(range(n), k=7)
    paras = [shared.choices(range(n), k=WORDS_PER_PARAGRAPH) for _ in range(PARAGRAPHS)]
    title = " ".join(words[k] for k in title_idx).capitalize() + f": {place} {number}"
    slug = "-".join(words[k] for k in title_idx[:4]).translate(ASCII_SLUG) + f"-{number}"
    link = f"https://www.{place.lower()}.example/{lang}/news/{slug}"
    body = []
    for p, idx in enumerate(paras):
        text = " ".join(words[k] for k in idx)
        if p == 0:
            body.append(f"<p><strong>{html.escape(place)}</strong> {text}, {SAYS[lang]} {html.escape(name)}.</p>")
        elif p == 2:
            items = "".join(f"<li>{words[k]} {number + i}</li>" for i, k in enumerate(idx[:4]))
            body.append(f"<p>{text}.</p><ul>{items}</ul>")
        else:
            body.append(f"<p>{text} <em>{number}</em>.</p>")
    body.append(f'<p><a href="{link}">{READ_MORE[lang]}</a></p>')
    return {
        "guid": f"{guid_prefix}{feed}:{j}",
        "title": title,
        "link": link,
        "when": when,
        "category": TOPICS[lang][topic],
        "author": name,
        "html": "".join(body),
    }


def rfc822(t):
    return t.strftime("%a, %d %b %Y %H:%M:%S +0000")


def render_rss(feed, lang, entries):
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>\n'
        f"<title>Farm feed {feed} ({lang})</title><link>https://farm.example/{lang}/{feed}/</link>"
        f"<description>Benchmark feed {feed}</description><language>{lang}</language>"
        f"<lastBuildDate>{rfc822(entries[0]['when'])}</lastBuildDate>\n"
    ]
    for e in entries:
        out.append(
            f"<item><title>{html.escape(e['title'])}</title><link>{e['link']}</link>"
            f'<guid isPermaLink="false">{e["guid"]}</guid><pubDate>{rfc822(e["when"])}</pubDate>'
            f"<category>{e['category']}</category><description>{html.escape(e['html'])}</description></item>\n"
        )
    out.append("</channel></rss>\n")
    return "".join(out)


def render_atom(feed, lang, entries, guid_prefix=GUID_PREFIX):
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">'
        f"<title>Farm feed {feed} ({lang})</title><id>{guid_prefix}feed:{feed}</id>"
        f"<updated>{entries[0]['when'].isoformat()}</updated>"
        f'<link rel="alternate" href="https://farm.example/{lang}/{feed}/"/>\n'
    ]
    for e in entries:
        stamp = e["when"].isoformat()
        out.append(
            f"<entry><title>{html.escape(e['title'])}</title><id>{e['guid']}</id>"
            f'<link rel="alternate" href="{e["link"]}"/><published>{stamp}</published><updated>{stamp}</updated>'
            f"<author><name>{html.escape(e['author'])}</name></author>"
            f'<category term="{e["category"]}"/><content type="html">{html.escape(e["html"])}</content></entry>\n'
        )
    out.append("</feed>\n")
    return "".join(out)


def file_name(feed):
    return f"f{feed:05d}.xml"


def write_feed(out_dir, seed, feed, entries, first, triple_every, start=BASE_TIME, guid_prefix=GUID_PREFIX):
    """Writes the feed with entries first .. first+entries-1, newest first."""
    lang = LANGS[feed % 3]
    items = [
        make_entry(seed, feed, j, triple_every, start, guid_prefix) for j in range(first + entries - 1, first - 1, -1)
    ]
    if feed % 2 == 0:
        text = render_rss(feed, lang, items)
    else:
        text = render_atom(feed, lang, items, guid_prefix)
    data = text.encode("utf-8")
    path = os.path.join(out_dir, file_name(feed))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)  # a server never sees half a file
    return len(data)


def generate(a):
    os.makedirs(a.out, exist_ok=True)
    sizes = []
    for feed in range(a.feeds):
        sizes.append(write_feed(a.out, a.seed, feed, a.entries, 0, a.triple_every, a.start, a.guid_prefix))
    with open(os.path.join(a.out, "urls.txt"), "w") as f:
        f.write("".join(file_name(i) + "\n" for i in range(a.feeds)))
    triples = sum(1 for g in range((a.feeds + 2) // 3) if is_triple(g, a.triple_every))
    manifest = {
        "seed": a.seed,
        "feeds": a.feeds,
        "entries_per_feed": a.entries,
        "triple_every": a.triple_every,
        "triple_groups": triples,
        "formats": {"rss2": (a.feeds + 1) // 2, "atom": a.feeds // 2},
        "touches": 0,
        "first_entry": [0] * a.feeds,
        "sizes": sizes,
        "total_bytes": sum(sizes),
        "total_entries": a.feeds * a.entries,
    }
    # Only when not the defaults, so that a default manifest stays byte-identical.
    if a.start != BASE_TIME:
        manifest["start"] = a.start.isoformat()
    if a.guid_prefix != GUID_PREFIX:
        manifest["guid_prefix"] = a.guid_prefix
    save_manifest(a.out, manifest)
    summary = {k: manifest[k] for k in ("feeds", "entries_per_feed", "triple_groups", "total_bytes", "total_entries")}
    summary["avg_entry_bytes"] = round(manifest["total_bytes"] / max(1, manifest["total_entries"]))
    print(json.dumps(summary))


def save_manifest(out_dir, manifest):
    path = os.path.join(out_dir, "manifest.json")
    with open(path + ".tmp", "w") as f:
        json.dump(manifest, f)
    os.replace(path + ".tmp", path)


def touch(a):
    with open(os.path.join(a.out, "manifest.json")) as f:
        m = json.load(f)
    if m.get("kind") == "real":
        raise SystemExit(f"{a.out} is a real-text farm (--corpus): --touch-percent rewrites synthetic farms only")
    m["touches"] += 1
    n = m["feeds"]
    count = max(1, round(n * a.touch_percent / 100.0)) if a.touch_percent > 0 else 0
    chosen = sorted(random.Random(f"{m['seed']}:touch:{m['touches']}").sample(range(n), min(count, n)))
    size = 0
    for feed in chosen:
        m["first_entry"][feed] += 1
        m["sizes"][feed] = write_feed(
            a.out,
            m["seed"],
            feed,
            m["entries_per_feed"],
            m["first_entry"][feed],
            m["triple_every"],
            parse_start(m["start"]) if "start" in m else BASE_TIME,
            m.get("guid_prefix", GUID_PREFIX),
        )
        size += m["sizes"][feed]
    m["total_bytes"] = sum(m["sizes"])
    save_manifest(a.out, m)
    print(
        json.dumps(
            {
                "touch": m["touches"],
                "feeds_touched": len(chosen),
                "new_entries": len(chosen),
                "bytes": size,
                "entries": len(chosen) * m["entries_per_feed"],
                "feeds": chosen if len(chosen) <= 20 else chosen[:20] + ["..."],
            }
        )
    )


def parse_start(text):
    """An RFC 3339 / ISO 8601 time (a date alone is midnight UTC); UTC when no offset is given."""
    t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output directory")
    ap.add_argument("--feeds", type=int, default=100, help="number of feeds N (default 100)")
    ap.add_argument("--entries", type=int, default=50, help="entries per feed M (default 50)")
    ap.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    ap.add_argument(
        "--triple-every",
        type=int,
        default=3,
        help="every K-th group of three feeds is a fi/sv/en translation triple (default 3; 1: all; 0: none)",
    )
    ap.add_argument(
        "--start",
        type=parse_start,
        default=BASE_TIME,
        help="time entry 0 of every feed is published after, give or take 15 hours (default 2024-01-01T00:00:00Z)",
    )
    ap.add_argument(
        "--guid-prefix",
        default=GUID_PREFIX,
        help="what guids and Atom feed ids start with (default urn:farm:); a second farm needs its own",
    )
    ap.add_argument(
        "--corpus",
        help="write the real-text farm from this labelled corpus (JSON lines, as eval-dedup reads) instead",
    )
    ap.add_argument(
        "--touch-percent",
        type=float,
        help="instead of generating: rewrite this percentage of an existing farm's feeds with one new entry each",
    )
    a = ap.parse_args(argv)
    if a.touch_percent is not None:
        touch(a)
    else:
        if a.feeds < 1 or a.entries < 1:
            ap.error("--feeds and --entries must be at least 1")
        if a.corpus:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import real_farm

            real_farm.generate(a)
        else:
            generate(a)


if __name__ == "__main__":
    sys.exit(main())
