//! `sources.opml`: every configured source, for import into other readers.

use super::xml::Xml;
use crate::story::SourceInfo;

/// Renders the sources as OPML 2.0.
pub fn render(title: &str, sources: &[SourceInfo]) -> Vec<u8> {
    let mut x = Xml::new();
    x.open("opml", &[("version", "2.0")]).open("head", &[]).text("title", &[], title).close("head").open("body", &[]);
    for s in sources.iter().filter(|s| s.url.starts_with("http")) {
        let mut attrs =
            vec![("type", "rss"), ("text", s.display_name()), ("title", s.display_name()), ("xmlUrl", s.url.as_str())];
        if let Some(h) = &s.home {
            attrs.push(("htmlUrl", h));
        }
        if let Some(l) = &s.lang {
            attrs.push(("language", l));
        }
        let tags = s.tags.join(",");
        if !tags.is_empty() {
            attrs.push(("category", &tags));
        }
        x.empty("outline", &attrs);
    }
    x.close("body").close("opml");
    x.finish()
}
