//! What we publish follows the specs: every Atom, RSS and JSON Feed file of
//! the offline example, with and without `base_url` (and with
//! `id_authority`), checked against rules written from RFC 4287 (Atom),
//! RFC 3986/4151/2141 (URIs, `tag:`, URNs), RFC 3339 and RFC 822 (dates),
//! the RSS 2.0 specification and JSON Feed 1.1, and the messages of the W3C
//! Feed Validator (which cannot run here). The checker is ours and is
//! itself tested on documents that break each rule.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{example_copy, run_in};
use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::Value;

// ---------------------------------------------------------------------------
// A small XML tree (quick-xml underneath).

#[derive(Debug, Default, Clone)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<El>,
}

impl El {
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn one<'a>(&'a self, name: &'a str) -> Option<&'a El> {
        self.all(name).next()
    }
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

fn parse_xml(bytes: &[u8]) -> Result<El, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let mut reader = Reader::from_str(text);
    let mut stack = vec![El::default()];
    let element = |e: &quick_xml::events::BytesStart<'_>| -> Result<El, String> {
        let mut el = El { name: e.name().into_inner().to_string(), ..El::default() };
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let v = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| e.to_string())?.into_owned();
            el.attrs.insert(a.key.into_inner().to_string(), v);
        }
        Ok(el)
    };
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => stack.push(element(&e)?),
            Event::Empty(e) => {
                let el = element(&e)?;
                stack.last_mut().unwrap().children.push(el);
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                stack.last_mut().ok_or("unbalanced")?.children.push(el);
            }
            Event::Text(t) => {
                let t = t.xml_content(quick_xml::XmlVersion::Implicit1_0);
                stack.last_mut().unwrap().text.push_str(&t);
            }
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| e.to_string())? {
                    stack.last_mut().unwrap().text.push(c);
                    continue;
                }
                let name = r.to_string();
                let c = match name.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => return Err(format!("unknown entity &{name};")),
                };
                stack.last_mut().unwrap().text.push_str(c);
            }
            Event::CData(t) => stack.last_mut().unwrap().text.push_str(&t),
            Event::Eof => break,
            _ => {}
        }
    }
    let mut doc = stack.pop().ok_or("empty")?;
    if !stack.is_empty() || doc.children.len() != 1 {
        return Err("not one root element".into());
    }
    Ok(doc.children.remove(0))
}

// ---------------------------------------------------------------------------
// Value rules.

fn is_unreserved_or_delim(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/?#[]".contains(c)
}

/// RFC 3986 `absolute-URI` (with a fragment allowed), with the rules of the
/// schemes we publish: `http(s)` needs a host, `tag:` follows RFC 4151,
/// `urn:` the syntax of RFC 2141 (stricter than RFC 8141: no `/`, which is
/// what the W3C validator applies).
fn uri_problem(s: &str) -> Option<String> {
    let Some((scheme, rest)) = s.split_once(':') else { return Some(format!("{s:?} is not an absolute URI")) };
    let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok || rest.is_empty() {
        return Some(format!("{s:?} is not an absolute URI"));
    }
    for (i, c) in rest.char_indices() {
        if c == '%' {
            let hex = rest.get(i + 1..i + 3).unwrap_or("");
            if hex.len() != 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                return Some(format!("{s:?}: bad percent-encoding"));
            }
        } else if !is_unreserved_or_delim(c) {
            return Some(format!("{s:?}: character {c:?} is not allowed in a URI"));
        }
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => {
            let host = rest.strip_prefix("//").map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
            match host {
                Some(h) if !h.is_empty() && !h.starts_with(':') => None,
                _ => Some(format!("{s:?}: an http(s) URI needs a host")),
            }
        }
        "tag" => tag_problem(rest).map(|p| format!("{s:?} is not a valid tag URI (RFC 4151): {p}")),
        "urn" => urn_problem(rest).map(|p| format!("{s:?} is not a valid URN: {p}")),
        _ => None,
    }
}

/// RFC 4151: `tag:` authorityName "," date ":" specific [ "#" fragment ].
fn tag_problem(rest: &str) -> Option<&'static str> {
    let Some((entity, specific)) = rest.split_once(':') else { return Some("no ':' after the tagging entity") };
    let Some((authority, date)) = entity.rsplit_once(',') else { return Some("no ',' before the date") };
    let dns = |d: &str| {
        !d.is_empty()
            && d.split('.').all(|l| {
                !l.is_empty()
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
    };
    let authority_ok = match authority.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
                && dns(domain)
        }
        None => dns(authority),
    };
    if !authority_ok {
        return Some("the authority is not a DNS name or e-mail address");
    }
    let parts: Vec<&str> = date.split('-').collect();
    let date_ok = matches!(parts.len(), 1..=3)
        && parts[0].len() == 4
        && parts[1..].iter().all(|p| p.len() == 2)
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !date_ok {
        return Some("the date is not YYYY, YYYY-MM or YYYY-MM-DD");
    }
    let specific = specific.split('#').next().unwrap_or("");
    if !specific.chars().all(|c| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/?%".contains(c)) {
        return Some("the specific part has characters outside pchar");
    }
    None
}

/// RFC 2141: `urn:` NID ":" NSS.
fn urn_problem(rest: &str) -> Option<&'static str> {
    let Some((nid, nss)) = rest.split_once(':') else { return Some("no namespace-specific string") };
    if nid.is_empty()
        || nid.len() > 32
        || nid.starts_with('-')
        || !nid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Some("bad namespace identifier");
    }
    if nss.is_empty() || !nss.chars().all(|c| c.is_ascii_alphanumeric() || "()+,-.:=@;$_!*'%".contains(c)) {
        return Some("the namespace-specific string has characters RFC 2141 does not allow (such as '/')");
    }
    None
}

fn rfc3339_problem(s: &str) -> Option<String> {
    let shape = s.len() >= 20
        && s.as_bytes()[4] == b'-'
        && s.as_bytes()[10] == b'T'
        && (s.ends_with('Z') || s[19..].contains(['+', '-']));
    if !shape || chrono::DateTime::parse_from_rfc3339(s).is_err() {
        return Some(format!("{s:?} is not an RFC 3339 date-time"));
    }
    None
}

/// RFC 822 (as RSS 2.0 uses it, with a four-digit year), and the day of the
/// week, when given, must be the date's.
fn rfc822_problem(s: &str) -> Option<String> {
    let bad = || Some(format!("{s:?} is not an RFC 822 date (with a four-digit year)"));
    let (dow, rest) = match s.split_once(", ") {
        Some((d, r)) => (Some(d), r),
        None => (None, s),
    };
    let f: Vec<&str> = rest.split(' ').collect();
    if f.len() != 5 {
        return bad();
    }
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let zones = ["GMT", "UT", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "Z"];
    let zone_ok = zones.contains(&f[4])
        || (f[4].len() == 5 && f[4].starts_with(['+', '-']) && f[4][1..].chars().all(|c| c.is_ascii_digit()));
    let time_ok = matches!(f[3].len(), 5 | 8) && f[3].split(':').all(|p| p.len() == 2 && p.parse::<u8>().is_ok());
    let day_ok = matches!(f[0].len(), 1 | 2) && f[0].parse::<u8>().is_ok();
    let year_ok = f[2].len() == 4 && f[2].parse::<u16>().is_ok();
    if !(day_ok && months.contains(&f[1]) && year_ok && time_ok && zone_ok) {
        return bad();
    }
    // chrono checks the day of the week itself; parse without it to tell
    // the two faults apart.
    let normalised = rest.replace(" GMT", " +0000").replace(" UT", " +0000");
    match chrono::DateTime::parse_from_rfc2822(&normalised) {
        Ok(t) => match dow {
            Some(d) if t.format("%a").to_string() != d => Some(format!("{s:?}: the day of the week is wrong")),
            _ => None,
        },
        Err(_) => bad(),
    }
}

/// A BCP 47 tag of the simple shape feeds use (`fi`, `en-GB`, `zh-Hant-TW`).
fn lang_problem(s: &str) -> Option<String> {
    let mut parts = s.split('-');
    let primary = parts.next().unwrap_or("");
    let ok = matches!(primary.len(), 2 | 3)
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    (!ok).then(|| format!("{s:?} is not a language tag"))
}

fn email_problem(s: &str) -> Option<String> {
    let ok = s.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && !l.contains(char::is_whitespace) && d.contains('.') && !d.contains(char::is_whitespace)
    });
    (!ok).then(|| format!("{s:?} is not an e-mail address"))
}

fn mime_problem(s: &str) -> Option<String> {
    let token = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
    let ok = s.split(';').next().and_then(|m| m.trim().split_once('/')).is_some_and(|(a, b)| token(a) && token(b));
    (!ok).then(|| format!("{s:?} is not a MIME type"))
}

// ---------------------------------------------------------------------------
// Document rules.

/// What the checker is told about the feed it reads.
struct Expect<'a> {
    /// The public URL of this file (`base_url` set): a self link must name it.
    self_url: Option<&'a str>,
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, at: &str, p: Option<String>) {
        if let Some(p) = p {
            self.0.push(format!("{at}: {p}"));
        }
    }
    fn must(&mut self, at: &str, ok: bool, what: &str) {
        if !ok {
            self.0.push(format!("{at}: {what}"));
        }
    }
}

fn check_atom(bytes: &[u8], want: &Expect<'_>) -> Vec<String> {
    let mut p = Problems::default();
    let feed = match parse_xml(bytes) {
        Ok(f) => f,
        Err(e) => return vec![format!("not well-formed XML: {e}")],
    };
    p.must("feed", feed.name == "feed", "the root is not <feed>");
    p.must("feed", feed.attr("xmlns") == Some("http://www.w3.org/2005/Atom"), "not in the Atom namespace");
    if let Some(l) = feed.attr("xml:lang") {
        p.add("feed xml:lang", lang_problem(l));
    }
    for name in ["id", "title", "updated"] {
        p.must("feed", feed.all(name).count() == 1, &format!("needs exactly one <{name}>"));
    }
    if let Some(id) = feed.one("id") {
        p.add("feed id", uri_problem(&id.text));
    }
    if let Some(u) = feed.one("updated") {
        p.add("feed updated", rfc3339_problem(&u.text));
    }
    check_links(&mut p, "feed", &feed);
    let selfs: Vec<&El> = feed.all("link").filter(|l| l.attr("rel") == Some("self")).collect();
    match want.self_url {
        Some(url) => p.must(
            "feed",
            selfs.len() == 1 && selfs[0].attr("href") == Some(url),
            &format!("needs one link rel=\"self\" href={url:?} (base_url is set)"),
        ),
        None => p.must("feed", selfs.is_empty(), "a self link without base_url"),
    }
    let feed_author = feed.one("author").is_some();
    for a in feed.all("author") {
        check_person(&mut p, "feed author", a);
    }
    let mut ids = BTreeSet::new();
    for (n, e) in feed.all("entry").enumerate() {
        let at = format!("entry {}", n + 1);
        if let Some(l) = e.attr("xml:lang") {
            p.add(&format!("{at} xml:lang"), lang_problem(l));
        }
        for name in ["id", "title", "updated"] {
            p.must(&at, e.all(name).count() == 1, &format!("needs exactly one <{name}>"));
        }
        for name in ["published", "summary", "content", "source", "rights"] {
            p.must(&at, e.all(name).count() <= 1, &format!("more than one <{name}>"));
        }
        if let Some(id) = e.one("id") {
            p.add(&format!("{at} id"), uri_problem(&id.text));
            p.must(&at, ids.insert(id.text.clone()), "duplicate entry id");
        }
        for d in ["updated", "published"] {
            if let Some(t) = e.one(d) {
                p.add(&format!("{at} {d}"), rfc3339_problem(&t.text));
            }
        }
        for t in e.all("title").chain(e.all("summary")).chain(e.all("content")) {
            let ty = t.attr("type").unwrap_or("text");
            p.must(&at, matches!(ty, "text" | "html" | "xhtml"), &format!("<{}> type {ty:?}", t.name));
        }
        let source = e.one("source");
        let source_author = source.is_some_and(|s| s.one("author").is_some());
        p.must(
            &at,
            e.one("author").is_some() || source_author || feed_author,
            "no author: not on the entry, its atom:source or the feed (RFC 4287 4.1.2)",
        );
        for a in e.all("author").chain(e.all("contributor")) {
            check_person(&mut p, &format!("{at} {}", a.name), a);
        }
        let alternate = e.all("link").any(|l| l.attr("rel").unwrap_or("alternate") == "alternate");
        p.must(&at, e.one("content").is_some() || alternate, "neither content nor an alternate link");
        check_links(&mut p, &at, e);
        for c in e.all("category") {
            p.must(&at, c.attr("term").is_some_and(|t| !t.is_empty()), "a category without a term");
        }
        if let Some(s) = source {
            let at = format!("{at} source");
            for name in ["id", "title", "updated"] {
                p.must(&at, s.all(name).count() == 1, &format!("needs exactly one <{name}>"));
            }
            if let Some(id) = s.one("id") {
                p.add(&format!("{at} id"), uri_problem(&id.text));
            }
            if let Some(u) = s.one("updated") {
                p.add(&format!("{at} updated"), rfc3339_problem(&u.text));
            }
            for a in s.all("author") {
                check_person(&mut p, &format!("{at} author"), a);
            }
            check_links(&mut p, &at, s);
        }
    }
    p.0
}

fn check_person(p: &mut Problems, at: &str, a: &El) {
    p.must(
        at,
        a.all("name").count() == 1 && !a.one("name").unwrap().text.trim().is_empty(),
        "needs one non-empty <name>",
    );
    if let Some(e) = a.one("email") {
        p.add(at, email_problem(&e.text));
    }
    if let Some(u) = a.one("uri") {
        p.add(at, uri_problem(&u.text));
    }
}

/// Atom links: absolute hrefs (we write no xml:base), valid hreflang and
/// type, and at most one alternate per type and hreflang (RFC 4287 4.1.1).
fn check_links(p: &mut Problems, at: &str, el: &El) {
    let mut alternates = BTreeSet::new();
    for l in el.all("link") {
        match l.attr("href") {
            Some(h) => p.add(&format!("{at} link"), uri_problem(h)),
            None => p.must(at, false, "a link without href"),
        }
        if let Some(h) = l.attr("hreflang") {
            p.add(&format!("{at} link hreflang"), lang_problem(h));
        }
        if let Some(t) = l.attr("type") {
            p.add(&format!("{at} link type"), mime_problem(t));
        }
        if let Some(n) = l.attr("length") {
            p.must(at, n.parse::<u64>().is_ok(), "link length is not a number");
        }
        if l.attr("rel").unwrap_or("alternate") == "alternate" {
            let key = (l.attr("type").map(str::to_string), l.attr("hreflang").map(str::to_string));
            p.must(at, alternates.insert(key), "two alternate links with the same type and hreflang");
        }
    }
}

fn check_rss(bytes: &[u8], want: &Expect<'_>) -> Vec<String> {
    let mut p = Problems::default();
    let rss = match parse_xml(bytes) {
        Ok(f) => f,
        Err(e) => return vec![format!("not well-formed XML: {e}")],
    };
    p.must("rss", rss.name == "rss" && rss.attr("version") == Some("2.0"), "the root is not <rss version=\"2.0\">");
    let Some(ch) = rss.one("channel").filter(|_| rss.all("channel").count() == 1) else {
        p.must("rss", false, "needs exactly one <channel>");
        return p.0;
    };
    for name in ["title", "link", "description"] {
        p.must("channel", ch.all(name).count() == 1, &format!("needs exactly one <{name}>"));
    }
    if let Some(l) = ch.one("link") {
        p.add("channel link", uri_problem(&l.text));
    }
    if let Some(l) = ch.one("language") {
        p.add("channel language", lang_problem(&l.text));
    }
    for d in ["lastBuildDate", "pubDate"] {
        if let Some(t) = ch.one(d) {
            p.add(&format!("channel {d}"), rfc822_problem(&t.text));
        }
    }
    let selfs: Vec<&El> = ch.all("atom:link").filter(|l| l.attr("rel") == Some("self")).collect();
    match want.self_url {
        Some(url) => p.must(
            "channel",
            selfs.len() == 1 && selfs[0].attr("href") == Some(url),
            &format!("needs one atom:link rel=\"self\" href={url:?} (base_url is set)"),
        ),
        None => p.must("channel", selfs.is_empty(), "a self link without base_url"),
    }
    for l in ch.all("atom:link") {
        p.add("channel atom:link", l.attr("href").map_or(Some("no href".into()), uri_problem));
    }
    let mut guids = BTreeSet::new();
    for (n, it) in ch.all("item").enumerate() {
        let at = format!("item {}", n + 1);
        p.must(&at, it.one("title").is_some() || it.one("description").is_some(), "needs a title or description");
        for name in ["title", "link", "description", "guid", "pubDate", "source", "enclosure"] {
            p.must(&at, it.all(name).count() <= 1, &format!("more than one <{name}>"));
        }
        if let Some(l) = it.one("link") {
            p.add(&format!("{at} link"), uri_problem(&l.text));
        }
        match it.one("guid") {
            Some(g) => {
                // isPermaLink defaults to true: the guid is then a URL. Ours
                // are story ids, which must be valid URIs either way.
                p.add(&format!("{at} guid"), uri_problem(&g.text));
                let permalink = g.attr("isPermaLink").unwrap_or("true");
                p.must(&at, matches!(permalink, "true" | "false"), "isPermaLink is not true or false");
                if permalink == "true" {
                    p.must(&at, g.text.starts_with("http"), "a permalink guid that is not a URL");
                }
                p.must(&at, guids.insert(g.text.clone()), "duplicate guid");
            }
            None => p.must(&at, false, "no guid: readers invent one, and show the story again"),
        }
        if let Some(d) = it.one("pubDate") {
            p.add(&format!("{at} pubDate"), rfc822_problem(&d.text));
        }
        for a in it.all("author") {
            // RSS 2.0: "the email address of the author", optionally "(Name)".
            let addr = a.text.split(" (").next().unwrap_or("");
            p.add(&format!("{at} author"), email_problem(addr));
        }
        if let Some(e) = it.one("enclosure") {
            p.add(&format!("{at} enclosure"), e.attr("url").map_or(Some("no url".into()), uri_problem));
            p.must(&at, e.attr("length").is_some_and(|l| l.parse::<u64>().is_ok()), "enclosure length");
            p.add(&format!("{at} enclosure"), e.attr("type").map_or(Some("no type".into()), mime_problem));
        }
        if let Some(s) = it.one("source") {
            p.add(&format!("{at} source"), s.attr("url").map_or(Some("no url".into()), uri_problem));
        }
        if let Some(l) = it.one("dc:language") {
            p.add(&format!("{at} dc:language"), lang_problem(&l.text));
        }
        for l in it.all("atom:link") {
            p.add(&format!("{at} atom:link"), l.attr("href").map_or(Some("no href".into()), uri_problem));
            if let Some(h) = l.attr("hreflang") {
                p.add(&format!("{at} atom:link hreflang"), lang_problem(h));
            }
        }
    }
    p.0
}

/// JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/).
fn check_json(bytes: &[u8], want: &Expect<'_>) -> Vec<String> {
    let mut p = Problems::default();
    let feed: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    let Some(top) = feed.as_object() else { return vec!["not an object".into()] };
    p.must("feed", feed["version"] == "https://jsonfeed.org/version/1.1", "version is not the 1.1 URL");
    p.must("feed", feed["title"].is_string(), "no title");
    let known = [
        "version",
        "title",
        "home_page_url",
        "feed_url",
        "description",
        "user_comment",
        "next_url",
        "icon",
        "favicon",
        "authors",
        "language",
        "expired",
        "hubs",
        "items",
    ];
    for k in top.keys() {
        p.must("feed", known.contains(&k.as_str()) || k.starts_with('_'), &format!("unknown key {k:?}"));
    }
    for k in ["home_page_url", "feed_url", "next_url", "icon", "favicon"] {
        if let Some(v) = top.get(k) {
            p.add(&format!("feed {k}"), v.as_str().map_or(Some("not a string".into()), uri_problem));
        }
    }
    match want.self_url {
        Some(url) => p.must("feed", feed["feed_url"] == url, &format!("feed_url is not {url:?} (base_url is set)")),
        None => p.must("feed", top.get("feed_url").is_none(), "a feed_url without base_url"),
    }
    if let Some(l) = top.get("language") {
        p.add("feed language", l.as_str().map_or(Some("not a string".into()), lang_problem));
    }
    if let Some(hubs) = top.get("hubs") {
        for h in hubs.as_array().into_iter().flatten() {
            p.must("feed hubs", h["type"].is_string() && h["url"].is_string(), "a hub needs type and url");
        }
    }
    let Some(items) = feed["items"].as_array() else {
        p.must("feed", false, "items is not an array");
        return p.0;
    };
    let mut ids = BTreeSet::new();
    for (n, it) in items.iter().enumerate() {
        let at = format!("item {}", n + 1);
        match it["id"].as_str() {
            Some(id) => {
                p.must(&at, !id.is_empty(), "an empty id");
                p.add(&format!("{at} id"), uri_problem(id));
                p.must(&at, ids.insert(id.to_string()), "duplicate id");
            }
            None => p.must(&at, false, "no id (a string)"),
        }
        p.must(
            &at,
            it["content_html"].is_string() || it["content_text"].is_string(),
            "needs content_html or content_text",
        );
        for k in ["url", "external_url", "image", "banner_image"] {
            if let Some(v) = it.get(k) {
                p.add(&format!("{at} {k}"), v.as_str().map_or(Some("not a string".into()), uri_problem));
            }
        }
        for k in ["date_published", "date_modified"] {
            if let Some(v) = it.get(k) {
                p.add(&format!("{at} {k}"), v.as_str().map_or(Some("not a string".into()), rfc3339_problem));
            }
        }
        p.must(&at, it.get("author").is_none(), "`author` is JSON Feed 1.0; 1.1 has `authors`");
        for a in it["authors"].as_array().into_iter().flatten() {
            let some = ["name", "url", "avatar"].iter().any(|k| a[k].is_string());
            p.must(&at, some, "an author without name, url or avatar");
        }
        if let Some(t) = it.get("tags") {
            p.must(&at, t.as_array().is_some_and(|a| a.iter().all(Value::is_string)), "tags are not strings");
        }
        if let Some(l) = it.get("language") {
            p.add(&format!("{at} language"), l.as_str().map_or(Some("not a string".into()), lang_problem));
        }
        for a in it["attachments"].as_array().into_iter().flatten() {
            p.add(&format!("{at} attachment"), a["url"].as_str().map_or(Some("no url".into()), uri_problem));
            p.add(
                &format!("{at} attachment"),
                a["mime_type"].as_str().map_or(Some("no mime_type".into()), mime_problem),
            );
        }
        if let Some(o) = it.as_object() {
            let known = [
                "id",
                "url",
                "external_url",
                "title",
                "content_html",
                "content_text",
                "summary",
                "image",
                "banner_image",
                "date_published",
                "date_modified",
                "authors",
                "tags",
                "language",
                "attachments",
            ];
            for k in o.keys() {
                p.must(&at, known.contains(&k.as_str()) || k.starts_with('_'), &format!("unknown key {k:?}"));
            }
        }
    }
    p.0
}

// ---------------------------------------------------------------------------
// The checker on documents that break the rules.

const GOOD_ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fi">
<id>tag:example.org,2026:feed/all</id>
<title>t</title>
<updated>2026-11-20T08:00:00Z</updated>
<entry xml:lang="sv">
<id>urn:polyfeed:story:a4189fa8e82e4bc3607a30ac</id>
<title type="text">x</title>
<updated>2026-11-20T08:00:00Z</updated>
<link rel="alternate" type="text/html" href="https://example.org/a"/>
<content type="html">&lt;p&gt;x&lt;/p&gt;</content>
<source><id>urn:polyfeed:source:1</id><title>S</title><updated>2026-11-20T08:00:00Z</updated><author><name>S</name></author></source>
</entry>
</feed>
"#;

#[test]
fn the_atom_rules_catch_what_the_validator_reported() {
    let none = Expect { self_url: None };
    assert_eq!(check_atom(GOOD_ATOM.as_bytes(), &none), Vec::<String>::new());
    let broken = |from: &str, to: &str| {
        assert!(GOOD_ATOM.contains(from), "{from}");
        check_atom(GOOD_ATOM.replace(from, to).as_bytes(), &none).join("\n")
    };
    // The W3C validator: "id is not a valid URN" for urn:polyfeed:feed:sv/all.
    let p = broken("tag:example.org,2026:feed/all", "urn:polyfeed:feed:sv/all");
    assert!(p.contains("is not a valid URN"), "{p}");
    assert!(broken("tag:example.org,2026:feed/all", "tag:example.org:feed/all").contains("RFC 4151"));
    assert!(broken("tag:example.org,2026:feed/all", "feed all").contains("not an absolute URI"));
    // "Missing entry element: author".
    assert!(broken("<author><name>S</name></author>", "").contains("no author"));
    // Missing source element: updated.
    assert!(
        broken("<updated>2026-11-20T08:00:00Z</updated><author>", "<author>")
            .contains("source: needs exactly one <updated>")
    );
    assert!(
        broken("<updated>2026-11-20T08:00:00Z</updated>\n<entry", "<updated>20 Nov 2026</updated>\n<entry")
            .contains("RFC 3339")
    );
    assert!(broken(r#"xml:lang="sv""#, r#"xml:lang="Swedish!""#).contains("not a language tag"));
    let twice = r#"<link rel="alternate" type="text/html" href="https://example.org/a"/>"#;
    assert!(broken(twice, &format!("{twice}{twice}")).contains("same type and hreflang"));
    let no_text = GOOD_ATOM.replace("<content type=\"html\">&lt;p&gt;x&lt;/p&gt;</content>", "");
    assert_eq!(check_atom(no_text.as_bytes(), &none), Vec::<String>::new(), "a link is enough");
    let p = check_atom(
        no_text.replace("<link rel=\"alternate\" type=\"text/html\" href=\"https://example.org/a\"/>", "").as_bytes(),
        &none,
    );
    assert!(p.join("\n").contains("neither content nor an alternate link"), "{p:?}");
    assert!(broken("</feed>", "").contains("not well-formed"));
    let p = check_atom(GOOD_ATOM.as_bytes(), &Expect { self_url: Some("https://f.example/all.atom") });
    assert!(p.join("\n").contains("rel=\"self\""), "{p:?}");
}

const GOOD_RSS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>t</title>
<link>https://example.org/</link>
<description>t</description>
<lastBuildDate>Fri, 20 Nov 2026 08:00:00 GMT</lastBuildDate>
<item>
<title>x</title>
<link>https://example.org/a</link>
<guid isPermaLink="false">urn:polyfeed:story:a4189fa8e82e4bc3607a30ac</guid>
<pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate>
<author>a@example.org (A)</author>
</item>
</channel>
</rss>
"#;

#[test]
fn the_rss_rules_catch_bad_dates_ids_and_authors() {
    let none = Expect { self_url: None };
    assert_eq!(check_rss(GOOD_RSS.as_bytes(), &none), Vec::<String>::new());
    let broken = |from: &str, to: &str| {
        assert!(GOOD_RSS.contains(from), "{from}");
        check_rss(GOOD_RSS.replace(from, to).as_bytes(), &none).join("\n")
    };
    assert!(broken("<pubDate>Fri, 20 Nov", "<pubDate>Mon, 20 Nov").contains("day of the week"));
    assert!(broken("<pubDate>Fri, 20 Nov 2026", "<pubDate>Fri, 20 Nov 26").contains("RFC 822"));
    assert!(
        broken("Fri, 20 Nov 2026 08:00:00 GMT</lastBuildDate>", "2026-11-20T08:00:00Z</lastBuildDate>")
            .contains("RFC 822")
    );
    assert!(broken(r#" isPermaLink="false""#, "").contains("permalink guid that is not a URL"));
    assert!(broken("a@example.org (A)", "A").contains("not an e-mail address"));
    assert!(
        broken(r#"<guid isPermaLink="false">urn:polyfeed:story:a4189fa8e82e4bc3607a30ac</guid>"#, "")
            .contains("no guid")
    );
    let p = check_rss(GOOD_RSS.as_bytes(), &Expect { self_url: Some("https://f.example/all.rss") });
    assert!(p.join("\n").contains("rel=\"self\""), "{p:?}");
}

#[test]
fn the_json_feed_rules_catch_missing_ids_versions_and_content() {
    let good = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [{"id": "urn:polyfeed:story:a4", "content_html": "<p>x</p>", "date_published": "2026-11-20T08:00:00Z",
                   "authors": [{"name": "A"}], "_polyfeed": {}}],
    });
    let none = Expect { self_url: None };
    let check = |v: &Value| check_json(v.to_string().as_bytes(), &none).join("\n");
    assert_eq!(check(&good), "");
    let mut v = good.clone();
    v["version"] = "https://jsonfeed.org/version/1".into();
    assert!(check(&v).contains("version"));
    let mut v = good.clone();
    v["items"][0].as_object_mut().unwrap().remove("id");
    assert!(check(&v).contains("no id"));
    let mut v = good.clone();
    v["items"][0].as_object_mut().unwrap().remove("content_html");
    assert!(check(&v).contains("content_html or content_text"));
    let mut v = good.clone();
    v["items"][0]["authors"] = serde_json::json!([{}]);
    assert!(check(&v).contains("without name"));
    let mut v = good.clone();
    v["items"][0]["date_published"] = "20.11.2026".into();
    assert!(check(&v).contains("RFC 3339"));
    let mut v = good.clone();
    v["item"] = Value::Null;
    assert!(check(&v).contains("unknown key"));
    assert!(
        check_json(good.to_string().as_bytes(), &Expect { self_url: Some("https://f.example/all.json") })
            .join("\n")
            .contains("feed_url")
    );
}

// ---------------------------------------------------------------------------
// The offline example, published.

fn files(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            files(&e.path(), base, out);
        } else {
            out.push(e.path().strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

/// Polls the example with these extra `[settings]` lines; the output dir.
fn publish_example(settings: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = example_copy();
    let config = dir.path().join("feeds.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replacen("[settings]\n", &format!("[settings]\n{settings}\n"), 1)).unwrap();
    let out = run_in(dir.path(), &config, &["poll"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let public = dir.path().join("public");
    (dir, public)
}

/// Every feed file under `public`, checked; the problems by file.
fn check_all(public: &Path, base_url: Option<&str>) -> (usize, BTreeMap<String, Vec<String>>) {
    let mut all = Vec::new();
    files(public, public, &mut all);
    let mut n = 0;
    let mut bad = BTreeMap::new();
    for rel in all {
        let name = rel.to_string_lossy().replace('\\', "/");
        let url = base_url.map(|b| format!("{b}{name}"));
        let want = Expect { self_url: url.as_deref() };
        let bytes = std::fs::read(public.join(&rel)).unwrap();
        let problems = match rel.extension().and_then(|e| e.to_str()) {
            Some("atom") => check_atom(&bytes, &want),
            Some("rss") => check_rss(&bytes, &want),
            Some("json") => check_json(&bytes, &want),
            _ => continue,
        };
        n += 1;
        if !problems.is_empty() {
            bad.insert(name, problems);
        }
    }
    (n, bad)
}

fn feed_id(public: &Path, name: &str) -> String {
    let feed = parse_xml(&std::fs::read(public.join(name)).unwrap()).unwrap();
    feed.one("id").unwrap().text.clone()
}

#[test]
fn every_published_feed_follows_the_specs_without_base_url() {
    let (_dir, public) = publish_example("");
    let (n, bad) = check_all(&public, None);
    assert_eq!(n, 216, "every format of every feed was checked");
    assert!(bad.is_empty(), "{} of {n} files break a rule: {bad:#?}", bad.len());
    // Without base_url or id_authority the feed ids are polyfeed URNs.
    assert_eq!(feed_id(&public, "sv/tags/traffic.atom"), "urn:polyfeed:feed:sv:tags:traffic");
    assert_eq!(feed_id(&public, "all.atom"), "urn:polyfeed:feed:all");
}

#[test]
fn every_published_feed_follows_the_specs_with_base_url() {
    let base = "https://feeds.example.org/porvoo/";
    // The hub is a closed loopback port: the ping after publishing fails at
    // once (a name that does not resolve waited on DNS for 45 s, and no test
    // sends anything beyond loopback).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (_dir, public) = publish_example(&format!("base_url = \"{base}\"\nhub = \"http://{closed}/hub\""));
    let (n, bad) = check_all(&public, Some(base));
    assert_eq!(n, 216);
    assert!(bad.is_empty(), "{} of {n} files break a rule: {bad:#?}", bad.len());
    // The feed's id is its URL.
    assert_eq!(feed_id(&public, "sv/tags/traffic.atom"), format!("{base}sv/tags/traffic.atom"));
}

#[test]
fn feed_ids_are_tag_uris_under_a_configured_authority() {
    let (dir, public) =
        publish_example("base_url = \"https://feeds.example.org/\"\nid_authority = \"Porvoo.example,2026-11\"");
    let check = run_in(dir.path(), &dir.path().join("feeds.toml"), &["check"]);
    let said = common::stdout(&check);
    assert!(
        said.contains("feed ids:    tag:porvoo.example,2026-11:feed/all, ... (tag: URIs under id_authority)"),
        "{said}"
    );
    assert!(said.contains("base_url:    https://feeds.example.org/ (each feed links to itself"), "{said}");
    let (_, bad) = check_all(&public, Some("https://feeds.example.org/"));
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(feed_id(&public, "sv/tags/traffic.atom"), "tag:porvoo.example,2026-11:feed/sv/tags/traffic");
    assert_eq!(feed_id(&public, "all.atom"), "tag:porvoo.example,2026-11:feed/all");
}

/// Entry ids are the stored story ids, the same in every format and every
/// configuration: changing them would make readers show every story again.
#[test]
fn entry_ids_are_the_story_ids_in_every_format() {
    let (dir, public) = publish_example("id_authority = \"porvoo.example,2026\"");
    let db = rusqlite::Connection::open(dir.path().join("polyfeed.db")).unwrap();
    let stored: BTreeSet<String> = db
        .prepare("SELECT id FROM stories")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let atom = parse_xml(&std::fs::read(public.join("all.atom")).unwrap()).unwrap();
    let atom_ids: BTreeSet<String> = atom.all("entry").map(|e| e.one("id").unwrap().text.clone()).collect();
    let rss = parse_xml(&std::fs::read(public.join("all.rss")).unwrap()).unwrap();
    let rss_ids: BTreeSet<String> =
        rss.one("channel").unwrap().all("item").map(|e| e.one("guid").unwrap().text.clone()).collect();
    let json: Value = serde_json::from_slice(&std::fs::read(public.join("all.json")).unwrap()).unwrap();
    let json_ids: BTreeSet<String> =
        json["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(atom_ids, stored);
    assert_eq!(rss_ids, stored);
    assert_eq!(json_ids, stored);
    assert!(stored.iter().all(|id| id.starts_with("urn:polyfeed:story:") && uri_problem(id).is_none()));
}

/// Sources that give what our formats cannot hold (an author with only a
/// URL, an "e-mail" that is a name, a relative author URI, a media type
/// that is not one): the output still follows every rule.
#[test]
fn odd_input_still_gives_valid_feeds() {
    let server = common::Server::start();
    let atom = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<id>tag:odd.example,2026:feed</id><title>Odd</title><updated>2026-11-02T10:00:00Z</updated>
<entry><id>tag:odd.example,2026:1</id><title>Only a URL</title><updated>2026-11-02T10:00:00Z</updated>
<link href="https://odd.example/1"/><author><name></name><uri>https://odd.example/people/x</uri></author>
<content type="html">&lt;p&gt;One&lt;/p&gt;</content></entry>
<entry><id>tag:odd.example,2026:2</id><title>A name as e-mail</title><updated>2026-11-02T09:00:00Z</updated>
<link href="https://odd.example/2"/><author><name>Anna</name><email>Anna Virtanen</email><uri>people/anna</uri></author>
<link rel="enclosure" href="https://odd.example/2.mp3" type="mp3" length="12"/>
<summary>Two</summary></entry>
<entry><id>tag:odd.example,2026:3</id><title>No author</title><updated>2026-11-02T08:00:00Z</updated>
<link href="https://odd.example/3"/></entry>
</feed>"#;
    let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Odd RSS</title><link>https://odd.example/</link>
<description>d</description><language>en</language>
<item><guid>odd-rss-1</guid><title>Name in author</title><link>https://odd.example/r1</link>
<author>Anna Virtanen</author><pubDate>Mon, 02 Nov 2026 07:00:00 GMT</pubDate>
<enclosure url="https://odd.example/r1.bin" length="x" type=""/></item>
</channel></rss>"#;
    server.feed("/odd.atom", atom, "\"a\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    server.feed("/odd.rss", rss, "\"r\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    let env = common::Env::new(
        "languages = [\"en\"]\nbase_url = \"https://feeds.example.org/\"",
        &[(&server.url("/odd.atom"), "name = \"Odd\""), (&server.url("/odd.rss"), "")],
    );
    let out = env.run(&["poll"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let public = env.dir.path().join("public");
    let (n, bad) = check_all(&public, Some("https://feeds.example.org/"));
    assert!(n >= 6, "{n}");
    assert!(bad.is_empty(), "{bad:#?}");
    let all = std::fs::read_to_string(public.join("all.atom")).unwrap();
    assert!(!all.contains("<email>Anna Virtanen</email>") && all.contains("<name>Anna</name>"), "{all}");
    assert!(all.contains("<name>Odd</name>"), "the source names the author of the entry without one: {all}");
}
