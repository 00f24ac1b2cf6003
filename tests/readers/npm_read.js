// npm-read: what a third-party Node feed parser reads in one feed.
//
//     node npm_read.js feedsmith|rss-parser [--json] FILE|URL
//
// (installed as bin/feedsmith-read and bin/rssparser-read). Prints one JSON
// object; --json is accepted for symmetry with fp-read. feedsmith (RSS, Atom,
// RDF and JSON Feed) gives `format`, `normalised` (title, language, and per
// item id, title, link, language, dates, authors, tags, hreflang links: one
// shape whatever the format, null where the format or parser gives nothing)
// and `parsed` (feedsmith's own object). rss-parser (xml2js underneath) gives
// the feed's title, link, self link, language and per item guid, id, title,
// link, dates, author, categories. Exit status: 0 at least one item, 1 parse
// or HTTP error or no items, 2 usage. Only loopback URLs are fetched.
'use strict';
const fs = require('fs');
const path = require('path');

const modules = path.join(path.dirname(__dirname), 'node_modules');
const [reader, ...rest] = process.argv.slice(2);
const targets = rest.filter((a) => a !== '--json');
if (!['feedsmith', 'rss-parser'].includes(reader) || targets.length !== 1 || targets[0].startsWith('--')) {
  console.error('usage: npm_read.js feedsmith|rss-parser [--json] FILE|URL');
  process.exit(2);
}
const target = targets[0];
const version = require(path.join(modules, reader, 'package.json')).version;

function loopback(url) {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || /^127\./.test(host) || host === '::1';
}

async function read() {
  if (/^https?:\/\//.test(target)) {
    if (!loopback(target)) {
      console.error(`${reader}: ${target} is not on this machine; refused`);
      process.exit(2);
    }
    const res = await fetch(target, { signal: AbortSignal.timeout(30000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.text();
  }
  if (!fs.existsSync(target)) {
    console.error(`${reader}: no such file: ${target}`);
    process.exit(2);
  }
  return fs.readFileSync(target, 'utf8');
}

const text = (v) => (v == null ? null : typeof v === 'object' ? (v.value ?? JSON.stringify(v)) : String(v));

function normalise(format, feed) {
  if (format === 'atom') {
    return { title: text(feed.title), language: null, items: (feed.entries || []).map((e) => {
      const alternates = (e.links || []).filter((l) => !l.rel || l.rel === 'alternate');
      return { id: e.id ?? null, title: text(e.title), link: alternates.length ? alternates[0].href : null,
        language: null, published: e.published ?? null, updated: e.updated ?? null,
        authors: (e.authors || []).map((a) => a.name), tags: (e.categories || []).map((c) => c.term),
        hreflang_links: (e.links || []).filter((l) => l.hreflang) };
    }) };
  }
  if (format === 'json') {
    return { title: feed.title ?? null, language: feed.language ?? null, items: (feed.items || []).map((e) => ({
      id: e.id ?? null, title: e.title ?? null, link: e.url ?? null, language: e.language ?? null,
      published: e.date_published ?? null, updated: e.date_modified ?? null,
      authors: (e.authors || []).map((a) => a.name), tags: e.tags || [], hreflang_links: [] })) };
  }
  return { title: feed.title ?? null, language: feed.language ?? null, items: (feed.items || []).map((e) => ({
    id: e.guid ? (e.guid.value ?? e.guid) : null, title: e.title ?? null, link: e.link ?? null, language: null,
    published: e.pubDate ?? null, updated: null,
    authors: [].concat(e.authors || [], (e.dc && e.dc.creators) || []).map((a) => (typeof a === 'string' ? a : a.name)),
    tags: (e.categories || []).map((c) => c.name ?? c), hreflang_links: [] })) };
}

async function main() {
  const body = await read();
  let out;
  if (reader === 'feedsmith') {
    const { format, feed } = require(path.join(modules, 'feedsmith')).parseFeed(body);
    out = { feedsmith: version, format, normalised: normalise(format, feed), parsed: feed };
    out.item_count = out.normalised.items.length;
  } else {
    const Parser = require(path.join(modules, 'rss-parser'));
    const feed = await new Parser().parseString(body);
    const items = (feed.items || []).map((it) => ({
      guid: it.guid ?? null, id: it.id ?? null, title: it.title ?? null, link: it.link ?? null,
      pubDate: it.pubDate ?? null, isoDate: it.isoDate ?? null, author: it.author ?? it.creator ?? null,
      categories: it.categories || [] }));
    out = { rss_parser: version, title: feed.title ?? null, link: feed.link ?? null, feedUrl: feed.feedUrl ?? null,
      language: feed.language ?? null, item_count: items.length, items };
  }
  console.log(JSON.stringify(out, null, 2));
  process.exit(out.item_count ? 0 : 1);
}

main().catch((e) => {
  console.log(JSON.stringify({ [reader]: version, error: String(e && e.message ? e.message : e) }));
  process.exit(1);
});
