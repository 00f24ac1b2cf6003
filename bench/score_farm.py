#!/usr/bin/env python3
"""Scores the stories polyfeed built from a benchmark farm against the farm's truth: pairwise
precision and recall, counted as `polyfeed eval-dedup` counts them (bench/corpus.py).

    score_farm.py FARM STORIES.json [--table]

STORIES.json is the output of `polyfeed stories --json --limit L` (L at least the entries
stored) on the database that polled FARM. Prints one JSON object: tp, fp, fn, precision, recall,
f1, the per-language-pair cells, the entries scored and those not found in any story (each then
counts as a story of its own). `--table` prints the per-pair table as news_feeds.py does instead.

The truth:

- a real-text farm (gen_farm.py --corpus) lists it in `truth.jsonl`: entries of one unit's copy
  are one gold group; copies of one document are different posts, so a story joining two of
  them counts false pairs;
- a synthetic farm's is its translation triples (gen_farm.py): the entries j of the three feeds
  of a triple group are one post; every other entry is a post of its own. Computed from
  `manifest.json` for the entries the feeds hold now (after touches, the current ones).

Python 3 standard library only.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402


def truth(farm):
    """[(guid, link or None, lang, gold or None)] for every entry the farm holds."""
    with open(os.path.join(farm, "manifest.json")) as f:
        m = json.load(f)
    if m.get("kind") == "real":
        with open(os.path.join(farm, "truth.jsonl"), encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [(r["guid"], r["link"], r["lang"], r["gold"]) for r in rows]
    import gen_farm

    prefix = m.get("guid_prefix", gen_farm.GUID_PREFIX)
    out = []
    for feed in range(m["feeds"]):
        group = feed // 3
        triple = gen_farm.is_triple(group, m["triple_every"])
        first = m["first_entry"][feed]
        for j in range(first, first + m["entries_per_feed"]):
            gold = f"t{group}:{j}" if triple else None
            out.append((f"{prefix}{feed}:{j}", None, gen_farm.LANGS[feed % 3], gold))
    return out


def score(farm, stories):
    index = corpus.story_index(stories)
    rows = truth(farm)
    items, missing = [], 0
    for guid, link, lang, gold in rows:
        story = index.get(guid) or (index.get(link) if link else None)
        if story is None:
            missing += 1
            story = "missing:" + guid
        items.append((lang, gold, story))
    counts = corpus.pair_counts(items)
    out = corpus.summary(counts)
    out.update({"entries": len(rows), "missing": missing, "stories": len({s for _, _, s in items})})
    return out, counts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("farm")
    ap.add_argument("stories", help="the output of `polyfeed stories --json`")
    ap.add_argument("--table", action="store_true", help="print the per-pair table instead of JSON")
    a = ap.parse_args(argv)
    with open(a.stories, encoding="utf-8") as f:
        stories = json.load(f)
    out, counts = score(a.farm, stories)
    if a.table:
        print("\n".join(corpus.table(counts)))
        print(f"{out['entries']} entries, {out['stories']} stories, {out['missing']} not found")
    else:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
