"""What the bench scripts share about labelled corpora: reading one, turning a document into a
feed item's HTML, and scoring stories pairwise against its translation groups.

A corpus is the format `polyfeed eval-dedup` reads (src/cli/eval_dedup.rs): JSON lines with
id, group (the translation group; null for a document that is no one's version), lang, url,
title, published, author, text and/or html, source. Used by bench/news_feeds.py (the corpus
as grouped feeds, polled end to end), bench/real_farm.py (the real-text benchmark farm) and
bench/score_farm.py (stories of a polled farm against its truth).

Scoring counts pairs as `polyfeed eval-dedup` does (`score_pairs.py`): every pair of items in
one predicted story is a predicted pair, every pair in one gold group a gold pair, every pair
in both a true positive; counts are kept per language pair (`en-fi`, and `en-en` for two
items of one language). Python 3 standard library only.
"""

import collections
import datetime
import email.utils
import html
import json


def load(path):
    """The corpus's documents, in file order."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def rss_date(published):
    """An RFC 822 date for a full date or time; None for a month, a year or nothing."""
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
    """The document's HTML as given, or its plain text as `<p>` blocks with `<br>` line
    breaks (paragraphs are separated by a blank line), as eval-dedup reads it."""
    if doc.get("html"):
        return doc["html"]
    blocks = [b.strip() for b in (doc.get("text") or "").split("\n\n") if b.strip()]
    return "".join("<p>" + "<br>".join(html.escape(l.strip()) for l in b.splitlines()) + "</p>" for b in blocks)


def story_index(stories):
    """`stories --json` as a map from every member's entry key and URL to its story id."""
    out = {}
    for s in stories:
        for v in s.get("versions", []) + s.get("duplicates", []):
            for k in (v.get("entry_key"), v.get("url")):
                if k:
                    out.setdefault(k, s["id"])
    return out


def pair_counts(items):
    """items: (lang, gold group or None, story id) per scored item. Returns
    {lang pair: [true positive, predicted, gold]} pairs."""
    cells = [collections.defaultdict(collections.Counter) for _ in range(3)]
    for lang, gold, story in items:
        cells[1][(None, story)][lang] += 1
        if gold is not None:
            cells[2][(gold, None)][lang] += 1
            cells[0][(gold, story)][lang] += 1
    counts = collections.defaultdict(lambda: [0, 0, 0])
    for k, table in enumerate(cells):
        for langs in table.values():
            items = sorted(langs.items())
            for i, (x, nx) in enumerate(items):
                counts[f"{x}-{x}"][k] += nx * (nx - 1) // 2
                for y, ny in items[i + 1 :]:
                    counts[f"{x}-{y}"][k] += nx * ny
    return dict(counts)


def prf(tp, predicted, gold):
    """Precision, recall and F1 (1.0 for an empty side)."""
    p = tp / predicted if predicted else 1.0
    r = tp / gold if gold else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def summary(counts):
    """The totals of pair_counts as a JSON-ready dict, with the per-pair cells."""
    tp = sum(c[0] for c in counts.values())
    pp = sum(c[1] for c in counts.values())
    gp = sum(c[2] for c in counts.values())
    p, r, f1 = prf(tp, pp, gp)
    return {
        "tp": tp,
        "fp": pp - tp,
        "fn": gp - tp,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "pairs": {k: {"tp": c[0], "fp": c[1] - c[0], "fn": c[2] - c[0]} for k, c in sorted(counts.items()) if c[1] or c[2]},
    }


def table(counts):
    """The per-pair lines and the overall line, as news_feeds.py has always printed them."""
    lines = [f"{'langs':8} {'tp':>7} {'fp':>7} {'fn':>7} {'precision':>9} {'recall':>7}"]
    for key in sorted(counts):
        tp, pp, gp = counts[key]
        if pp or gp:
            p, r, _ = prf(tp, pp, gp)
            lines.append(f"{key:8} {tp:7} {pp - tp:7} {gp - tp:7} {p:9.4f} {r:7.4f}")
    s = summary(counts)
    lines.append(f"pairs: precision={s['precision']:.4f} recall={s['recall']:.4f} f1={s['f1']:.4f}")
    return lines
