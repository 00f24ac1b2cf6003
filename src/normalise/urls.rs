//! Absolute, canonical URLs: relative links resolved against `xml:base` or
//! the document URL, tracking parameters and fragments-only noise removed.

use url::Url;

use crate::model::{Enclosure, Link};

/// Query parameters that only track the reader.
const TRACKING_PARAMS: &[&str] =
    &["fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "_hsenc", "_hsmi"];

fn is_tracking(name: &str) -> bool {
    name.starts_with("utm_") || TRACKING_PARAMS.contains(&name)
}

/// Resolves `href` against `base` and removes tracking parameters. Returns
/// `None` for empty or unusable links and for non-web schemes other than
/// mailto.
pub fn canonical_url(href: &str, base: Option<&str>) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let base = base.and_then(|b| Url::parse(b).ok());
    let mut url = match Url::parse(href) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(href).ok()?,
        Err(_) => return None,
    };
    if !matches!(url.scheme(), "http" | "https" | "mailto" | "ftp" | "magnet" | "tag" | "urn") {
        return None;
    }
    if url.query().is_some() {
        let kept: Vec<(String, String)> =
            url.query_pairs().filter(|(k, _)| !is_tracking(k)).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if kept.is_empty() {
            url.set_query(None);
        } else if kept.len() != url.query_pairs().count() {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string())
}

/// Every link made absolute; duplicates (same href, rel and hreflang) dropped.
pub(super) fn links(raw: &[Link], base: Option<&str>) -> Vec<Link> {
    let mut out: Vec<Link> = Vec::with_capacity(raw.len());
    for l in raw {
        let Some(href) = canonical_url(&l.href, base) else {
            continue;
        };
        let link = Link {
            href,
            rel: l.rel.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_ascii_lowercase),
            hreflang: l.hreflang.as_deref().and_then(crate::lang::normalise_tag),
            ..l.clone()
        };
        if !out.iter().any(|o| o.href == link.href && o.rel == link.rel && o.hreflang == link.hreflang) {
            out.push(link);
        }
    }
    out
}

/// The entry's own page: the first alternate link in its own language (or
/// with no hreflang), else a permalink guid.
pub(super) fn entry_url(links: &[Link], guid: Option<&str>, lang: Option<&str>) -> Option<String> {
    let alternate = |l: &&Link| matches!(l.rel.as_deref(), None | Some("alternate"));
    let own_lang = |l: &&Link| match (&l.hreflang, lang) {
        (None, _) => true,
        (Some(h), Some(lang)) => crate::lang::primary(h) == crate::lang::primary(lang),
        (Some(_), None) => false,
    };
    links.iter().filter(alternate).find(own_lang).map(|l| l.href.clone()).or_else(|| {
        guid.filter(|g| g.starts_with("http://") || g.starts_with("https://")).and_then(|g| canonical_url(g, None))
    })
}

/// The id to store: the guid, resolved against the base when it is a path
/// (`/2024/post`, `./post`: Atom ids must be absolute, and feedparser
/// resolves them; an opaque id such as `123` or `post-1` is kept as
/// written), else an RSS 1.0 item's `rdf:about`.
pub(super) fn stored_id(guid: Option<&str>, about: Option<&str>, base: Option<&str>) -> Option<String> {
    let Some(guid) = guid.map(str::trim).filter(|g| !g.is_empty()) else {
        return about.map(str::trim).filter(|a| !a.is_empty()).map(String::from);
    };
    let path = guid.starts_with('/') || guid.starts_with("./") || guid.starts_with("../");
    let resolved = path.then(|| base.and_then(|b| Url::parse(b).ok()).and_then(|b| b.join(guid).ok())).flatten();
    Some(resolved.map_or_else(|| guid.to_string(), String::from))
}

/// Enclosures with absolute URLs, each once.
pub(super) fn enclosures(raw: &[Enclosure], base: Option<&str>) -> Vec<Enclosure> {
    let mut out: Vec<Enclosure> = Vec::new();
    for e in raw {
        if let Some(url) = canonical_url(&e.url, base).filter(|u| !out.iter().any(|o| &o.url == u)) {
            out.push(Enclosure { url, ..e.clone() });
        }
    }
    out
}

/// Image URLs made absolute, each once.
pub(super) fn images(raw: &[String], base: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in raw {
        if let Some(u) = canonical_url(i, base).filter(|u| !out.contains(u)) {
            out.push(u);
        }
    }
    out
}
