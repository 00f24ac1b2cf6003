//! A format-neutral feed document, built from stories for one feed and one
//! language preference; the Atom, RSS and JSON writers only serialise it.

use chrono::{DateTime, Utc};

use crate::model::{Enclosure, Person};
use crate::story::{SourceInfo, Story, Version};
use crate::tags::Tagger;

/// One feed to write.
#[derive(Debug, Clone)]
pub struct FeedDoc {
    /// Path without extension: `all`, `tags/kunta`, `sv/all`, `sv/tags/kunta`.
    pub stem: String,
    /// Feed title.
    pub title: String,
    /// Output language (first preference), if any.
    pub lang: Option<String>,
    /// Public URL of the output directory, if configured.
    pub base_url: Option<String>,
    /// The RFC 4151 tagging entity of feed ids (`example.org,2026`), if
    /// configured.
    pub id_authority: Option<String>,
    /// WebSub hub, if configured (`base_url` is then set too).
    pub hub: Option<String>,
    /// The newest change of any story in it (never the clock).
    pub updated: DateTime<Utc>,
    /// Items, newest first.
    pub items: Vec<Item>,
}

impl FeedDoc {
    /// The feed's id (Atom `<id>`): a valid absolute URI that stays the same
    /// from run to run while the config does. `tag:{id_authority}:feed/{stem}`
    /// (RFC 4151) when `id_authority` is set; else the Atom feed's public
    /// URL when `base_url` is; else `urn:polyfeed:feed:` and the stem with
    /// `:` for `/` (RFC 2141 allows no `/`; unique to this installation only).
    pub fn id(&self) -> String {
        match (&self.id_authority, self.url("atom")) {
            (Some(authority), _) => format!("tag:{authority}:feed/{}", self.stem),
            (None, Some(url)) => url,
            (None, None) => format!("urn:polyfeed:feed:{}", self.stem.replace('/', ":")),
        }
    }

    /// The public URL of this feed in a format (`atom`, `rss`, `json`).
    pub fn url(&self, ext: &str) -> Option<String> {
        self.base_url.as_ref().map(|b| format!("{b}{}.{ext}", self.stem))
    }

    /// The index page's URL.
    pub fn home(&self) -> Option<String> {
        self.base_url.as_ref().map(|b| format!("{b}index.html"))
    }
}

/// Another language version of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternate {
    /// Its language.
    pub lang: Option<String>,
    /// Its page.
    pub url: String,
    /// Its title.
    pub title: String,
}

/// Where the chosen version came from.
#[derive(Debug, Clone)]
pub struct SourceRef {
    /// The source's name.
    pub name: String,
    /// The feed's URL.
    pub feed_url: String,
    /// The feed's home page.
    pub home: Option<String>,
    /// Stable id of the source feed.
    pub id: String,
    /// The newest time we know the source feed for: the chosen version's
    /// update time (`atom:source` needs an `updated`; never the clock).
    pub updated: DateTime<Utc>,
}

/// One story as an item.
#[derive(Debug, Clone)]
pub struct Item {
    /// The story id.
    pub id: String,
    /// Title of the chosen version.
    pub title: String,
    /// Page of the chosen version.
    pub url: Option<String>,
    /// Language of the chosen version.
    pub lang: Option<String>,
    /// Publication time of the chosen version.
    pub published: DateTime<Utc>,
    /// The story's newest change.
    pub updated: DateTime<Utc>,
    /// Content HTML (sanitised at ingest).
    pub content_html: Option<String>,
    /// Summary HTML.
    pub summary_html: Option<String>,
    /// Authors.
    pub authors: Vec<Person>,
    /// (slug, title) of each tag.
    pub tags: Vec<(String, String)>,
    /// Enclosures.
    pub enclosures: Vec<Enclosure>,
    /// Source of the chosen version.
    pub source: SourceRef,
    /// The other language versions.
    pub alternates: Vec<Alternate>,
}

/// Builds an item for a story under a language preference.
pub fn item(story: &Story, prefs: &[String], sources: &[SourceInfo], tags: &[String], tagger: &Tagger) -> Item {
    let chosen = story.choose(prefs);
    let e = &chosen.entry;
    let alternates = story
        .versions
        .iter()
        .filter(|v| v.entry_id != chosen.entry_id)
        .filter_map(|v| {
            Some(Alternate { lang: v.entry.lang.clone(), url: v.entry.url.clone()?, title: v.entry.title.clone() })
        })
        .collect();
    Item {
        id: story.id.clone(),
        title: if e.title.is_empty() { untitled(e.lang.as_deref()) } else { e.title.clone() },
        url: e.url.clone(),
        lang: e.lang.clone(),
        published: e.published,
        updated: story.updated(),
        content_html: e.content_html.clone(),
        summary_html: e.summary_html.clone(),
        authors: e.authors.clone(),
        tags: tags.iter().map(|t| (t.clone(), tagger.title(t, prefs).unwrap_or_else(|| t.clone()))).collect(),
        enclosures: e.enclosures.clone(),
        source: source_ref(chosen, sources),
        alternates,
    }
}

fn untitled(lang: Option<&str>) -> String {
    match lang.map(crate::lang::primary) {
        Some("fi") => "(nimetön)",
        Some("sv") => "(utan rubrik)",
        _ => "(untitled)",
    }
    .into()
}

fn source_ref(v: &Version, sources: &[SourceInfo]) -> SourceRef {
    let s = sources.iter().find(|s| s.id == v.source_id);
    SourceRef {
        name: s.map(|s| s.display_name().to_string()).unwrap_or_default(),
        feed_url: s.map(|s| s.url.clone()).unwrap_or_default(),
        home: s.and_then(|s| s.home.clone()),
        id: format!("urn:polyfeed:source:{}", v.source_id),
        updated: v.entry.updated,
    }
}

/// The name to show for a person: the name, else the e-mail address;
/// `None` when neither is there (such a person is not written).
pub fn person_name(p: &Person) -> Option<&str> {
    [&p.name, &p.email].into_iter().flatten().map(|s| s.trim()).find(|s| !s.is_empty())
}

/// The person's e-mail address when it looks like one (`local@domain.tld`,
/// no spaces): RSS `<author>` and Atom `<email>` must hold an address.
pub fn email(p: &Person) -> Option<&str> {
    let e = p.email.as_deref()?.trim();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !e.contains(|c: char| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c));
    ok.then_some(e)
}

/// The person's home page when it is an absolute http(s) URL (in the
/// URL parser's normal form, so always a valid URI).
pub fn person_uri(p: &Person) -> Option<String> {
    let u = url::Url::parse(p.uri.as_deref()?.trim()).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}

/// A MIME type (`type/subtype`, parameters allowed) as given, or `None`
/// when it is not one.
pub fn mime(m: Option<&str>) -> Option<&str> {
    let m = m?.trim();
    let token = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
    let (kind, sub) = m.split(';').next()?.trim().split_once('/')?;
    (token(kind) && token(sub) && !m.contains(['\n', '\r', '"'])).then_some(m)
}

/// "suomeksi", "på svenska", "in English": how a language version is named
/// in its own language, for the visible "Also in" line.
pub fn language_name(lang: &str) -> String {
    let name = match crate::lang::primary(lang) {
        "fi" => "suomeksi",
        "sv" => "på svenska",
        "en" => "in English",
        "de" => "auf Deutsch",
        "fr" => "en français",
        "es" => "en español",
        "it" => "in italiano",
        "et" => "eesti keeles",
        "ru" => "по-русски",
        "se" => "sámegillii",
        "nb" | "no" | "nn" => "på norsk",
        "da" => "på dansk",
        "nl" => "in het Nederlands",
        "pl" => "po polsku",
        _ => return lang.to_string(),
    };
    name.to_string()
}

/// "Also in" in the output language.
pub fn also_in(lang: Option<&str>) -> &'static str {
    match lang.map(crate::lang::primary) {
        Some("fi") => "Myös",
        Some("sv") => "Även",
        Some("de") => "Auch",
        Some("fr") => "Aussi",
        _ => "Also in",
    }
}

/// The visible "Also in: suomeksi, på svenska" line as HTML, if any.
pub fn also_in_html(item: &Item) -> Option<String> {
    if item.alternates.is_empty() {
        return None;
    }
    let links: Vec<String> = item
        .alternates
        .iter()
        .map(|a| {
            let name = a.lang.as_deref().map(language_name).unwrap_or_else(|| a.title.clone());
            let hreflang =
                a.lang.as_deref().map(|l| format!(" hreflang=\"{}\"", super::xml::escape(l))).unwrap_or_default();
            format!("<a href=\"{}\"{hreflang}>{}</a>", super::xml::escape(&a.url), super::xml::escape(&name))
        })
        .collect();
    Some(format!("<p>{}: {}</p>", also_in(item.lang.as_deref()), links.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: Option<&str>, email: Option<&str>, uri: Option<&str>) -> Person {
        Person { name: name.map(String::from), email: email.map(String::from), uri: uri.map(String::from) }
    }

    fn doc(base_url: Option<&str>, id_authority: Option<&str>) -> FeedDoc {
        FeedDoc {
            stem: "sv/tags/traffic".into(),
            title: "t".into(),
            lang: None,
            base_url: base_url.map(String::from),
            id_authority: id_authority.map(String::from),
            hub: None,
            updated: DateTime::<Utc>::UNIX_EPOCH,
            items: Vec::new(),
        }
    }

    #[test]
    fn feed_ids_are_valid_uris_from_the_authority_the_url_or_our_urn() {
        assert_eq!(doc(None, None).id(), "urn:polyfeed:feed:sv:tags:traffic");
        assert_eq!(doc(Some("https://f.example/"), None).id(), "https://f.example/sv/tags/traffic.atom");
        assert_eq!(
            doc(Some("https://f.example/"), Some("f.example,2026")).id(),
            "tag:f.example,2026:feed/sv/tags/traffic"
        );
    }

    #[test]
    fn people_and_media_types_that_the_formats_cannot_hold_are_left_out() {
        assert_eq!(person_name(&person(Some("  "), Some("a@b.example"), None)), Some("a@b.example"));
        assert_eq!(person_name(&person(None, None, Some("https://a.example/"))), None);
        assert_eq!(email(&person(None, Some(" a@b.example "), None)), Some("a@b.example"));
        for bad in ["Anna", "a@b", "a b@c.example", "@c.example", "a@c.example (Anna)"] {
            assert_eq!(email(&person(None, Some(bad), None)), None, "{bad}");
        }
        assert_eq!(person_uri(&person(None, None, Some("https://a.example"))).as_deref(), Some("https://a.example/"));
        assert_eq!(person_uri(&person(None, None, Some("not a url"))), None);
        assert_eq!(person_uri(&person(None, None, Some("javascript:alert(1)"))), None);
        assert_eq!(mime(Some("audio/mpeg")), Some("audio/mpeg"));
        assert_eq!(mime(Some("text/html; charset=utf-8")), Some("text/html; charset=utf-8"));
        for bad in ["mp3", "audio/", "audio mpeg/x", ""] {
            assert_eq!(mime(Some(bad)), None, "{bad}");
        }
    }
}
