//! Reading an OPML subscription list for `import-opml`: every `<outline>`
//! with an `xmlUrl`, its title (`title`, else `text`), its language, and
//! tags from the folders it sits in and its `category` attribute. Bounded
//! (nesting depth, number of feeds); anything that is not OPML is an error,
//! never a panic. Pure.

use quick_xml::events::{BytesStart, Event};

/// Deepest outline nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// Most feeds read from one file.
pub const MAX_FEEDS: usize = 10_000;

/// One feed of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpmlFeed {
    /// `xmlUrl`, trimmed.
    pub url: String,
    /// `title`, else `text`.
    pub title: Option<String>,
    /// `language`, normalised, when it is a valid tag.
    pub lang: Option<String>,
    /// Enclosing folders' names, then `category` entries.
    pub tags: Vec<String>,
}

/// Why a file could not be read as OPML.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpmlError {
    /// Not well-formed XML.
    #[error("not an OPML file: XML error at byte {at}: {message}")]
    Xml {
        /// Byte offset.
        at: u64,
        /// The XML error.
        message: String,
    },
    /// XML, but its root is not `<opml>`.
    #[error("not an OPML file: the root element is <{0}>, not <opml>")]
    NotOpml(String),
    /// No element at all.
    #[error("not an OPML file: no XML element found")]
    Empty,
    /// Outlines nested deeper than [`MAX_DEPTH`].
    #[error("outlines are nested more than {MAX_DEPTH} deep")]
    TooDeep,
}

/// The feeds of an OPML document, in document order.
pub fn parse(text: &str) -> Result<Vec<OpmlFeed>, OpmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut root_seen = false;
    // One entry per open <outline>: the folder name it gives its children.
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut out = Vec::new();
    loop {
        let event =
            reader.read_event().map_err(|e| OpmlError::Xml { at: reader.error_position(), message: e.to_string() })?;
        let (start, open) = match &event {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(e) => {
                if e.local_name().into_inner().eq_ignore_ascii_case("outline") {
                    folders.pop();
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = start.local_name().into_inner().to_ascii_lowercase();
        if !root_seen {
            if name != "opml" {
                return Err(OpmlError::NotOpml(name));
            }
            root_seen = true;
            continue;
        }
        if name != "outline" {
            continue;
        }
        let attrs = attributes(start);
        let folder = if let Some(feed) = feed_of(&attrs, &folders) {
            if out.len() < MAX_FEEDS {
                out.push(feed);
            }
            None
        } else {
            get(&attrs, "title").or_else(|| get(&attrs, "text"))
        };
        if open {
            if folders.len() >= MAX_DEPTH {
                return Err(OpmlError::TooDeep);
            }
            folders.push(folder);
        }
    }
    if !root_seen {
        return Err(OpmlError::Empty);
    }
    Ok(out)
}

/// The attributes of an element, names lower-cased; malformed ones skipped.
fn attributes(e: &BytesStart<'_>) -> Vec<(String, String)> {
    e.attributes()
        .flatten()
        .filter_map(|a| {
            let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok()?;
            Some((a.key.local_name().into_inner().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect()
}

fn get(attrs: &[(String, String)], name: &str) -> Option<String> {
    attrs.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.clone())
}

fn feed_of(attrs: &[(String, String)], folders: &[Option<String>]) -> Option<OpmlFeed> {
    let url = get(attrs, "xmlurl")?;
    let mut tags: Vec<String> = folders.iter().flatten().cloned().collect();
    for cat in get(attrs, "category").iter().flat_map(|c| c.split(',')) {
        // OPML 2.0 categories are slash-delimited paths: the last step names it.
        if let Some(last) = cat.split('/').map(str::trim).rfind(|s| !s.is_empty())
            && !tags.iter().any(|t| t == last)
        {
            tags.push(last.to_string());
        }
    }
    Some(OpmlFeed {
        url,
        title: get(attrs, "title").or_else(|| get(attrs, "text")),
        lang: get(attrs, "language").and_then(|l| crate::lang::normalise_tag(&l)),
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_outlines_become_tags() {
        let doc = r#"<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
            <outline text="News"><outline text="Finland">
              <outline type="rss" text="Yle &amp; co" xmlUrl="https://yle.fi/rss" language="fi"/>
            </outline></outline>
            <outline title="Plain" xmlUrl=" https://a.org/feed " category="/Tech/Rust,misc"/>
            <outline text="no url"/>
            </body></opml>"#;
        let feeds = parse(doc).unwrap();
        assert_eq!(feeds.len(), 2);
        assert_eq!(feeds[0].url, "https://yle.fi/rss");
        assert_eq!(feeds[0].title.as_deref(), Some("Yle & co"));
        assert_eq!(feeds[0].tags, vec!["News".to_string(), "Finland".into()]);
        assert_eq!(feeds[0].lang.as_deref(), Some("fi"));
        assert_eq!(feeds[1].url, "https://a.org/feed");
        assert_eq!(feeds[1].tags, vec!["Rust".to_string(), "misc".into()]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(parse("<html><body>hi</body></html>"), Err(OpmlError::NotOpml(n)) if n == "html"));
        assert_eq!(parse(""), Err(OpmlError::Empty));
        assert_eq!(parse("just text"), Err(OpmlError::Empty));
        assert!(matches!(parse("<opml><body><outline></body>"), Err(OpmlError::Xml { .. })));
        let deep = format!("<opml><body>{}</body></opml>", "<outline text='a'>".repeat(100));
        assert_eq!(parse(&deep), Err(OpmlError::TooDeep));
    }
}
