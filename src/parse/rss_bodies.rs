//! A second pass over RSS 0.9x/2.0 items for bodies feed-rs does not read:
//! `<body>` / `<xhtml:body>` (inline XHTML) and `<fullitem>` (escaped HTML)
//! as the content, `<itunes:summary>` and `<dc:description>` as the
//! summary, and a `<description>` holding markup as elements rather than
//! escaped. Only what the entry lacks is filled; items are matched by
//! position, so nothing changes when the counts differ.

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::Event;

use crate::model::{RawFeed, RawText};

/// What one item holds beside what feed-rs reads.
#[derive(Debug, Default)]
struct Bodies {
    content: Option<String>,
    summary: Option<String>,
}

/// Fills empty contents and summaries from the item's other body elements.
pub(super) fn apply(text: &str, feed: &mut RawFeed) -> Result<(), String> {
    // Only entries without a summary or content can gain one: most feeds
    // have both, or carry none of the body elements, and skip the scan.
    let wants_summary = feed.entries.iter().any(|e| e.summary.is_none());
    let wants_content = feed.entries.iter().any(|e| e.content.is_none())
        && ["<body", ":body", "<fullitem"].iter().any(|n| text.contains(n));
    if !wants_summary && !wants_content {
        return Ok(());
    }
    let items = scan(text).ok_or("not well-formed")?;
    if items.len() != feed.entries.len() {
        return Err(format!("found {} items, the parser {}", items.len(), feed.entries.len()));
    }
    for (b, entry) in items.into_iter().zip(feed.entries.iter_mut()) {
        if entry.content.is_none() {
            entry.content = b.content.map(|body| RawText { body, is_html: true });
        }
        if entry.summary.is_none() {
            entry.summary = b.summary.map(|body| RawText { body, is_html: true });
        }
    }
    Ok(())
}

fn scan(text: &str) -> Option<Vec<Bodies>> {
    let mut reader = Reader::from_str(text);
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut item_depth = None;
    loop {
        match reader.read_event().ok()? {
            Event::Eof => return Some(items),
            Event::Start(e) => {
                depth += 1;
                let local = e.local_name().as_ref().to_string();
                if item_depth.is_none() && local == "item" {
                    item_depth = Some(depth);
                    items.push(Bodies::default());
                    continue;
                }
                if item_depth != Some(depth - 1) {
                    continue;
                }
                let name = e.name().as_ref().to_string();
                let inner = inner_xml(&mut reader)?;
                depth -= 1;
                let item = items.last_mut()?;
                let (xml, text) = inner;
                let value = |s: String| Some(s).filter(|s| !s.trim().is_empty());
                match name.as_str() {
                    "body" | "xhtml:body" => item.content = item.content.take().or(value(xml)),
                    "fullitem" => item.content = item.content.take().or(value(text)),
                    "description" if xml.contains('<') && !xml.contains("&lt;") => {
                        item.summary = item.summary.take().or(value(xml));
                    }
                    "itunes:summary" | "dc:description" => item.summary = item.summary.take().or(value(text)),
                    _ => {}
                }
            }
            Event::End(_) => {
                if item_depth == Some(depth) {
                    item_depth = None;
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
}

/// The inner XML (as written) and the text of the element just opened,
/// read up to its end.
fn inner_xml(reader: &mut Reader<&[u8]>) -> Option<(String, String)> {
    let mut out = Writer::new(Vec::new());
    let mut text = String::new();
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().ok()?;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) if depth == 0 => break,
            Event::End(_) => depth -= 1,
            Event::Eof => return None,
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(c) => text.push_str(c),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => text.push_str(quick_xml::escape::resolve_predefined_entity(r).unwrap_or("")),
            },
            _ => {}
        }
        out.write_event(event).ok()?;
    }
    Some((String::from_utf8(out.into_inner()).ok()?, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RawEntry;

    #[test]
    fn bodies_fill_what_is_missing() {
        let doc = r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
<item><body xmlns="http://www.w3.org/1999/xhtml"><p>B</p></body><itunes:summary>S</itunes:summary></item>
<item><fullitem>&lt;p&gt;F&lt;/p&gt;</fullitem><description><p>D</p></description></item>
<item><description>kept</description></item>
</channel></rss>"#;
        let kept = RawEntry { summary: Some(RawText { body: "kept".into(), is_html: false }), ..RawEntry::default() };
        let mut feed = RawFeed { entries: vec![RawEntry::default(), RawEntry::default(), kept], ..RawFeed::default() };
        apply(doc, &mut feed).unwrap();
        let body = |t: &Option<RawText>| t.as_ref().map(|t| t.body.clone());
        assert_eq!(body(&feed.entries[0].content).as_deref(), Some("<p>B</p>"));
        assert_eq!(body(&feed.entries[0].summary).as_deref(), Some("S"));
        assert_eq!(body(&feed.entries[1].content).as_deref(), Some("<p>F</p>"));
        assert_eq!(body(&feed.entries[1].summary).as_deref(), Some("<p>D</p>"));
        assert_eq!(body(&feed.entries[2].summary).as_deref(), Some("kept"));
    }
}
