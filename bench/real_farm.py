#!/usr/bin/env python3
"""The real-text benchmark farm: N feeds x M entries of real translated documents, with the
truth of which entries are versions of one post, so that a benchmark run can score the stories
it built as well as time the poll.

    gen_farm.py OUT --corpus CORPUS.jsonl --feeds N --entries M [--seed S] [--start T]
    real_farm.py config FARM BASE_URL          # a polyfeed feeds.toml for the farm, on stdout

CORPUS is a labelled corpus in the format `polyfeed eval-dedup` reads (bench/corpus.py): every
document has a language and a translation group (null: the version of nothing). The synthetic
farm of gen_farm.py draws every post from one 60-word aligned vocabulary, so that with the word
table any two of its posts in different languages look alike; this farm is made of the corpus's
own texts, so that story assignment does the work it does on real feeds and its decisions can be
judged. Keep the synthetic farm for raw parsing speed (bigger entries, no corpus needed).

Design:

- **Units.** Every translation group of the corpus is one unit (all its language versions);
  every document without a group is a unit of one: an unrelated post on a neighbouring topic
  (GNOME Help's other pages, news-dev's hard negatives: other quarters of one report, other
  publishers' rewrites).
- **Feeds and publishers.** The N feeds are shared out between the corpus's languages in
  proportion to its documents per language (largest remainders; a language whose share rounds
  to no feed is left out, and so are its documents). Publisher p has a feed in language l when
  p < (feeds of l): publisher 0 publishes in every language, the last ones only in the most
  common. Feeds are numbered publisher by publisher; even feeds are RSS 2.0, odd ones Atom 1.0
  (gen_farm.py's renderers), each on its own host `pNNNN.example` for its publisher.
- **Posting.** A unit is posted again and again, as copies: copy k of unit u at time t(u, k),
  with t(u, 0) uniform in the first 12 days after `--start` and each next copy 8 to 12 days
  after the one before (uniform). A copy goes to one publisher: the one with the emptiest feed
  in the copy's rarest language among those whose feed in that language still has room; each
  version of the copy goes into that publisher's feed for its language, minutes apart (0 to 90
  minutes after t), and is dropped when the publisher has no such feed or the feed is full.
  Copies are dealt in time order until every feed holds M entries, so every feed spans the
  whole farm's dates (about 3.5 months at N = 100, 2.75 years at N = 1,000 on GNOME Help's 530
  documents, where each feed posts every 20 days or so, like a small publisher's). Dates stay
  before 2026-10-01 (`LATEST`): a farm that would run past it (27 years at N = 10,000) is moved
  back as a whole, same gaps, so that its last post is on that day; a reader takes a date in
  the future for the time it reads it, which would pile the later posts onto one moment.
- **Reuse.** The corpus is small, so a document appears many times (about N x M / documents
  times). Every copy is a post of its own: its own guid, link (the document's slug and the entry
  number) and gold group (the unit's group and the copy number). Two copies of one unit are at
  least 8 days minus 90 minutes apart, beyond the 7 days within which the story rules compare
  entries by content (`dedup::WINDOW_DAYS`; `decide` scores 0 further apart), and they share no
  identity key (guid, URL, numeric id, language-stripped URL), so the rules cannot join them
  without a mistake: a story holding two copies counts as false pairs, as it should.
- **Links carry no shared id**: a version's link is `https://pNNNN.example/LANG/SLUG-TOKEN`,
  with the slug of the document's own URL (or title) and an entry token, so versions are found
  by their content (and the publisher), not by structural evidence; a corpus whose versions
  share a slug shares a language-stripped URL key, as on a real site.
- **Dates and text** of the corpus are not used: the farm's own dates replace them, and the text
  is the document's HTML (or its text as `<p>` blocks), its title and author as given.

Writes into OUT: the feed files `f00000.xml` ..., `urls.txt`, `manifest.json` (parameters, per
feed its publisher, language, size and entries; totals; the units dealt and versions dropped)
and `truth.jsonl`, one line per entry: guid, link, published, feed, lang, doc (the corpus id), unit,
copy and gold (`GROUP#COPY`, or null for a unit of one). bench/score_farm.py scores stories against
it. Same corpus and arguments, same bytes. Python 3 standard library only.
"""

import datetime as dt
import hashlib
import heapq
import json
import os
import random
import re
import sys
import unicodedata
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

GUID_PREFIX = "urn:realfarm:"
# Copies of one unit: the next one GAP_DAYS to GAP_DAYS + JITTER_DAYS after the one before.
GAP_DAYS = 8.0
JITTER_DAYS = 4.0
# Versions of one copy: 0 to LAG_MINUTES after the copy's time.
LAG_MINUTES = 90
# The latest date a farm may have: later ones would be in the future when polled,
# and a reader takes a date in the future for the time it reads it (polyfeed does,
# 10 minutes on), which would pile a large farm's later posts onto one moment.
LATEST = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
TOPICS = ("news", "help", "notices", "events", "services", "reports")


def shares(counts, n):
    """n split in proportion to counts (largest remainders, ties by key): {key: share}."""
    total = sum(counts.values())
    exact = {k: n * c / total for k, c in counts.items()}
    out = {k: int(v) for k, v in exact.items()}
    rest = n - sum(out.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - out[k]), k))[:rest]:
        out[k] += 1
    return out


def slug(doc):
    """The document's own slug: the last path segment of its URL, else its title, in ASCII."""
    path = urllib.parse.urlsplit(doc.get("url") or "").path
    seg = next((s for s in reversed(path.split("/")) if s and not s.isdigit()), "") or doc.get("title") or "post"
    seg = re.sub(r"\.\w{2,5}$", "", seg)
    text = unicodedata.normalize("NFKD", urllib.parse.unquote(seg)).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].strip("-")
    return text or "post"


def token(n):
    """The entry number in base 36, with a letter first: never a numeric id."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return "e" + out


def layout(docs, n):
    """Feeds per language and the feeds list [(publisher, lang)], publisher by publisher."""
    per_lang = {}
    for d in docs:
        per_lang[d["lang"]] = per_lang.get(d["lang"], 0) + 1
    # A language whose share is under half a feed is left out (with its documents): its one
    # feed would need far more reposts of its few documents than the others, and the farm's
    # dates would stretch to make room for them.
    total = sum(per_lang.values())
    kept = {l: c for l, c in per_lang.items() if n * c / total >= 0.5} or per_lang
    feeds_of = {l: k for l, k in shares(kept, n).items() if k > 0}
    langs = sorted(feeds_of, key=lambda l: (-feeds_of[l], l))
    publishers = max(feeds_of.values())
    feeds = [(p, l) for p in range(publishers) for l in langs if p < feeds_of[l]]
    return langs, feeds_of, feeds


def generate(a):
    """Writes the farm (see the module's doc); a is gen_farm.py's parsed arguments."""
    docs = [d for d in corpus.load(a.corpus) if d.get("lang") and (d.get("html") or d.get("text"))]
    if not docs:
        raise SystemExit(f"{a.corpus}: no document with a language and a text")
    langs, feeds_of, feeds = layout(docs, a.feeds)
    docs = [d for d in docs if d["lang"] in feeds_of]
    units = {}
    for d in docs:
        key = f"g:{d['group']}" if d.get("group") else f"d:{d['id']}"
        units.setdefault(key, []).append(d)
    names = sorted(units)
    rng = random.Random(f"{a.seed}:realfarm:{a.feeds}:{a.entries}")
    feed_of = {pl: i for i, pl in enumerate(feeds)}
    entries = [[] for _ in feeds]
    # Per language, the feeds with room as a heap of (entries, publisher), kept lazily: an
    # entry's count is checked when it comes to the top (counts only grow).
    room = {l: [(0, p) for p in range(feeds_of[l])] for l in langs}
    open_feeds = len(feeds)

    def emptiest(lang):
        h = room[lang]
        while h:
            count, p = h[0]
            now = len(entries[feed_of[(p, lang)]])
            if now >= a.entries:
                heapq.heappop(h)
            elif now != count:
                heapq.heapreplace(h, (now, p))
            else:
                return p
        return None

    rarest = sorted(langs, key=lambda l: (feeds_of[l], l))
    queue = [(rng.uniform(0, GAP_DAYS + JITTER_DAYS), i, 0) for i in range(len(names))]
    heapq.heapify(queue)
    dealt = dropped = serial = 0
    while open_feeds:
        day, u, copy = heapq.heappop(queue)
        heapq.heappush(queue, (day + GAP_DAYS + rng.uniform(0, JITTER_DAYS), u, copy + 1))
        members = units[names[u]]
        unit_langs = {d["lang"] for d in members}
        publisher = next((p for l in rarest if l in unit_langs for p in [emptiest(l)] if p is not None), None)
        if publisher is None:
            continue  # every feed this unit could go to is full
        when = a.start + dt.timedelta(days=day)
        host = f"p{publisher:04d}.example"
        group = names[u][2:] if names[u].startswith("g:") else None
        took = 0
        for d in sorted(members, key=lambda d: (d["lang"], d["id"])):
            f = feed_of.get((publisher, d["lang"]))
            if f is None or len(entries[f]) >= a.entries:
                dropped += 1
                continue
            lag = dt.timedelta(minutes=rng.randrange(0, LAG_MINUTES + 1), seconds=rng.randrange(0, 60))
            entries[f].append(
                {
                    "guid": f"{GUID_PREFIX}{serial}",
                    "title": d.get("title") or "",
                    "link": f"https://{host}/{d['lang']}/{slug(d)}-{token(serial)}",
                    "when": (when + lag).replace(microsecond=0),
                    "category": TOPICS[publisher % len(TOPICS)],
                    "author": d.get("author") or f"Publisher {publisher}",
                    "html": corpus.body(d),
                    "truth": {
                        "doc": d["id"],
                        "unit": names[u],
                        "copy": copy,
                        "gold": f"{group}#{copy}" if group else None,
                    },
                }
            )
            serial += 1
            took += 1
            if len(entries[f]) == a.entries:
                open_feeds -= 1
        dealt += 1 if took else 0
    # A farm that would run past LATEST moves back as a whole (same gaps).
    last = max((e["when"] for items in entries for e in items), default=None)
    if last is not None and last > LATEST:
        back = last - LATEST
        for items in entries:
            for e in items:
                e["when"] -= back
    write(a, docs, langs, feeds_of, feeds, entries, dealt, dropped, len(names))


def write(a, docs, langs, feeds_of, feeds, entries, dealt, dropped, units):
    import gen_farm  # the renderers; imported here, gen_farm imports this module

    os.makedirs(a.out, exist_ok=True)
    sizes, info = [], []
    with open(os.path.join(a.out, "truth.jsonl.tmp"), "w", encoding="utf-8") as truth:
        for i, ((publisher, lang), items) in enumerate(zip(feeds, entries)):
            items.sort(key=lambda e: (e["when"], e["guid"]), reverse=True)  # newest first
            if i % 2 == 0:
                text = gen_farm.render_rss(i, lang, items)
            else:
                text = gen_farm.render_atom(i, lang, items, GUID_PREFIX)
            data = text.encode("utf-8")
            path = os.path.join(a.out, gen_farm.file_name(i))
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.replace(path + ".tmp", path)
            sizes.append(len(data))
            info.append({"publisher": publisher, "lang": lang, "entries": len(items)})
            for e in sorted(items, key=lambda e: e["guid"]):
                line = {"guid": e["guid"], "link": e["link"], "published": e["when"].isoformat(), "feed": i}
                line.update(lang=lang, **e["truth"])
                truth.write(json.dumps(line, ensure_ascii=False) + "\n")
    os.replace(os.path.join(a.out, "truth.jsonl.tmp"), os.path.join(a.out, "truth.jsonl"))
    with open(os.path.join(a.out, "urls.txt"), "w") as f:
        f.write("".join(gen_farm.file_name(i) + "\n" for i in range(len(feeds))))
    dates = [e["when"] for items in entries for e in items]
    total = sum(len(items) for items in entries)
    manifest = {
        "kind": "real",
        "corpus": os.path.basename(a.corpus),
        "corpus_sha256": sha256(a.corpus),
        "corpus_documents": len(docs),
        "seed": a.seed,
        "feeds": len(feeds),
        "entries_per_feed": a.entries,
        "languages": langs,
        "feeds_per_language": feeds_of,
        "publishers": max(feeds_of.values()),
        "units": units,
        "copies_posted": dealt,
        "versions_dropped": dropped,
        "first_date": min(dates).isoformat() if dates else None,
        "last_date": max(dates).isoformat() if dates else None,
        "start": a.start.isoformat(),
        "feed_info": info,
        "touches": 0,
        "sizes": sizes,
        "total_bytes": sum(sizes),
        "total_entries": total,
    }
    gen_farm.save_manifest(a.out, manifest)
    summary = {k: manifest[k] for k in ("feeds", "entries_per_feed", "total_bytes", "total_entries")}
    summary["avg_entry_bytes"] = round(manifest["total_bytes"] / max(1, total))
    for k in ("corpus", "corpus_sha256", "corpus_documents", "languages", "feeds_per_language", "publishers"):
        summary[k] = manifest[k]
    for k in ("copies_posted", "versions_dropped", "first_date", "last_date"):
        summary[k] = manifest[k]
    print(json.dumps(summary))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config(farm, base_url):
    """A polyfeed config polling every feed of the farm at BASE_URL/FILE, as bench/run.sh
    configures the synthetic farm: no politeness delay (one loopback host), the corpus's
    languages in order of feeds; a third of the publishers (p % 3 == 0) configured with `lang`
    and `group` as a publisher would, the others' languages detected."""
    with open(os.path.join(farm, "manifest.json")) as f:
        m = json.load(f)
    with open(os.path.join(farm, "urls.txt")) as f:
        files = [line.strip() for line in f if line.strip()]
    out = [
        "# Generated by bench/real_farm.py: every feed is on one loopback host, so no politeness delay.\n"
        "[settings]\n"
        'database = "polyfeed.db"\n'
        'output_dir = "public"\n'
        f"languages = {json.dumps(m['languages'])}\n"
        'per_host_delay = "0s"\n'
        "per_host_concurrency = 32\n"
        "concurrency = 32\n"
        'timeout = "120s"\n'
    ]
    for name, feed in zip(files, m["feed_info"]):
        p = feed["publisher"]
        extra = f'lang = "{feed["lang"]}"\ngroup = "p{p}"\n' if p % 3 == 0 else ""
        out.append(f'\n[[source]]\nurl = "{base_url.rstrip("/")}/{name}"\n{extra}')
    return "".join(out)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "config":
        sys.stdout.write(config(args[1], args[2]))
        return 0
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
