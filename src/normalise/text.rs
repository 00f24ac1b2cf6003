//! Plain text: titles, category names and author names with entities
//! decoded and whitespace folded.

use crate::model::{Person, RawText};

/// Folds runs of whitespace (including no-break spaces) to one space and trims.
pub fn fold_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes HTML entities, named ones included (`&nbsp;`, `&auml;`), which
/// the XML parsers leave as text when no DTD declares them.
fn decode_entities(s: &str) -> String {
    html_escape::decode_html_entities(s).into_owned()
}

/// The text of an HTML fragment: tags removed, entities decoded, whitespace folded.
pub fn plain_text(html: &str) -> String {
    let stripped = ammonia::Builder::empty().clean(html).to_string();
    fold_whitespace(&decode_entities(&stripped))
}

/// A title as plain text.
pub(super) fn title(t: &RawText) -> String {
    if t.is_html || t.body.contains('<') && t.body.contains('>') {
        plain_text(&t.body)
    } else {
        fold_whitespace(&decode_entities(&t.body))
    }
}

/// Category names: folded, without empties and case-insensitive duplicates.
pub(super) fn categories(raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in raw {
        let c = fold_whitespace(&decode_entities(c));
        if !c.is_empty() && !out.iter().any(|o| o.to_lowercase() == c.to_lowercase()) {
            out.push(c);
        }
    }
    out
}

/// Authors with folded names; entries with nothing left are dropped (a
/// person known only by a URI is kept: it is not published, see
/// `publish::doc::person_name`).
pub(super) fn authors(raw: &[Person]) -> Vec<Person> {
    let clean =
        |s: &Option<String>| s.as_deref().map(|v| fold_whitespace(&decode_entities(v))).filter(|v| !v.is_empty());
    let mut out: Vec<Person> = Vec::new();
    for p in raw {
        let p = Person { name: clean(&p.name), email: clean(&p.email), uri: clean(&p.uri) };
        if (p.name.is_some() || p.email.is_some() || p.uri.is_some()) && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The text of an HTML fragment with its block structure kept: paragraphs,
/// list items, headings and table rows separated by blank lines, whitespace
/// folded within each.
pub fn plain_text_paragraphs(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut marked = String::with_capacity(html.len() + 64);
    let mut last = 0;
    for (i, _) in lower.match_indices('<') {
        let rest = &lower[i + 1..];
        let block = ["p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "br", "div", "tr", "blockquote", "dd", "dt"]
            .iter()
            .any(|t| {
                rest.starts_with(t) && rest[t.len()..].starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace())
            });
        if block {
            marked.push_str(&html[last..i]);
            marked.push_str(" \u{1e} ");
            last = i;
        }
    }
    marked.push_str(&html[last..]);
    let text = plain_text_keep(&marked);
    text.split('\u{1e}').map(fold_whitespace).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n\n")
}

fn plain_text_keep(html: &str) -> String {
    let stripped = ammonia::Builder::empty().clean(html).to_string();
    decode_entities(&stripped)
}
