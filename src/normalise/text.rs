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
    // The scan where it reads as the parser does (see `scan_text`).
    fold_whitespace(&scan_text(html, false).unwrap_or_else(|| plain_text_keep(html)))
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
///
/// Sanitised HTML (what ingest stores, and what story features read) is
/// read by one scan of its tags (`scan_paragraphs`); anything that an
/// HTML parser could read differently from the plain sequence of its text
/// goes through the parser instead (`parse_paragraphs`), with the same
/// result where both apply.
pub fn plain_text_paragraphs(html: &str) -> String {
    paragraphs(&scan_paragraphs(html).unwrap_or_else(|| parse_paragraphs(html)))
}

/// Text with [`BREAK`]s as paragraphs: whitespace folded in each, empty
/// ones dropped, the rest joined by blank lines.
pub(super) fn paragraphs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for p in text.split(BREAK) {
        let mut words = p.split_whitespace();
        let Some(first) = words.next() else { continue };
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(first);
        for w in words {
            out.push(' ');
            out.push_str(w);
        }
    }
    out
}

/// Stands for a paragraph break in the text before it is split.
const BREAK: char = '\u{1e}';

/// Tags before which a paragraph break goes.
const BLOCKS: [&str; 14] = ["p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "br", "div", "tr", "blockquote", "dd", "dt"];

/// Tags whose content an HTML parser keeps as raw text, drops, moves
/// (text inside a table but outside its cells goes before the table) or
/// reads in another mode (foreign content, selects, framesets, the
/// document's own structure): [`scan_paragraphs`] leaves these to the parser.
const PARSER_ONLY: [&str; 34] = [
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
    "template",
    "svg",
    "math",
    "select",
    "option",
    "optgroup",
    "datalist",
    "table",
    "caption",
    "colgroup",
    "col",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "td",
    "th",
    "form",
    "frameset",
    "frame",
    "head",
    "body",
    "html",
    "isindex",
];

/// The entities a scan decodes itself (all that a serialiser writes in
/// text); any other `&` is left to the parser.
const ENTITIES: [&str; 5] = ["&amp;", "&lt;", "&gt;", "&quot;", "&nbsp;"];

/// The parser's reading: a break before each block tag, the fragment parsed
/// and serialised without tags (html5ever, through ammonia), entities
/// decoded.
pub(super) fn parse_paragraphs(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut marked = String::with_capacity(html.len() + 64);
    let mut last = 0;
    for (i, _) in lower.match_indices('<') {
        let rest = &lower[i + 1..];
        let block = BLOCKS.iter().any(|t| {
            rest.starts_with(t) && rest[t.len()..].starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace())
        });
        if block {
            marked.push_str(&html[last..i]);
            marked.push(' ');
            marked.push(BREAK);
            marked.push(' ');
            last = i;
        }
    }
    marked.push_str(&html[last..]);
    plain_text_keep(&marked)
}

/// The same reading as [`parse_paragraphs`] by one pass over the tags,
/// for fragments in the shape a serialiser writes: every `<` opens a start
/// or end tag with a name, attribute values quoted, no comments, no NUL,
/// only the [`ENTITIES`], and none of the [`PARSER_ONLY`] tags. `None` for
/// anything else.
pub(super) fn scan_paragraphs(html: &str) -> Option<String> {
    scan_text(html, true)
}

/// The text of `html` by one scan, where it reads as the parser does (see
/// [`scan_paragraphs`]); `breaks`: with a paragraph break before each
/// block tag.
pub(super) fn scan_text(html: &str, breaks: bool) -> Option<String> {
    // A parser drops NUL, and a byte order mark that opens the input.
    if html.contains('\0') || html.starts_with('\u{feff}') {
        return None;
    }
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    let mut i = 0;
    while i < b.len() {
        let lt = html[i..].find('<').map_or(b.len(), |k| i + k);
        push_decoded(&mut out, &html[i..lt])?;
        if lt == b.len() {
            break;
        }
        let (end, name, start) = scan_tag(html, lt)?;
        if PARSER_ONLY.iter().any(|t| name.eq_ignore_ascii_case(t)) {
            return None;
        }
        if breaks && start && BLOCKS.iter().any(|t| name.eq_ignore_ascii_case(t)) {
            out.push(' ');
            out.push(BREAK);
            out.push(' ');
        }
        i = end;
    }
    Some(out)
}

/// Appends a run of text with the [`ENTITIES`] decoded; `None` at any other
/// `&` followed by a letter or `#` (a reference the parser may read
/// otherwise).
fn push_decoded(out: &mut String, text: &str) -> Option<()> {
    let mut rest = text;
    while let Some(k) = rest.find('&') {
        out.push_str(&rest[..k]);
        let at = &rest[k..];
        let next = at.as_bytes().get(1).copied().unwrap_or(b' ');
        if !(next.is_ascii_alphanumeric() || next == b'#') {
            out.push('&');
            rest = &at[1..];
            continue;
        }
        let e = ENTITIES.iter().find(|e| at.starts_with(**e))?;
        out.push_str(match *e {
            "&amp;" => "&",
            "&lt;" => "<",
            "&gt;" => ">",
            "&quot;" => "\"",
            _ => "\u{a0}",
        });
        rest = &at[e.len()..];
    }
    out.push_str(rest);
    Some(())
}

/// The tag that opens at byte `lt` (a `<`): where it ends (after its `>`),
/// its name, and whether it is a start tag. `None` when it is not a start
/// or end tag with a name (a comment, a doctype, a stray `<`), when its
/// attributes are not in the plain shape read below, or when it never
/// closes.
fn scan_tag(html: &str, lt: usize) -> Option<(usize, &str, bool)> {
    let b = html.as_bytes();
    let mut i = lt + 1;
    let start = b.get(i) != Some(&b'/');
    if !start {
        i += 1;
    }
    let name_at = i;
    while i < b.len() && b[i].is_ascii_alphanumeric() {
        i += 1;
    }
    if i == name_at || !b[name_at].is_ascii_alphabetic() {
        return None;
    }
    let name = &html[name_at..i];
    // Only whitespace, `/` or `>` may end a name the way the scan reads it.
    if !matches!(b.get(i), Some(b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')) {
        return None;
    }
    // Attributes as an HTML tokenizer reads them: a name, then perhaps `=`
    // and a value, quoted or not. Anything it could read another way (a
    // quote, `<` or backquote in a name or unquoted value, `=` where a
    // name starts, a value missing after `=`) is left to the parser.
    let space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
    let skip = |mut i: usize| {
        while b.get(i).is_some_and(|&c| space(c)) {
            i += 1;
        }
        i
    };
    let odd = |c: u8| matches!(c, b'"' | b'\'' | b'<' | b'`');
    loop {
        i = skip(i);
        match *b.get(i)? {
            b'>' => return Some((i + 1, name, start)),
            b'/' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let name_at = i;
        while let Some(&c) = b.get(i).filter(|&&c| !space(c) && !matches!(c, b'/' | b'>' | b'=')) {
            if odd(c) {
                return None;
            }
            i += 1;
        }
        if i == name_at {
            return None;
        }
        i = skip(i);
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i = skip(i + 1);
        match *b.get(i)? {
            q @ (b'"' | b'\'') => i += 1 + html[i + 1..].find(q as char)? + 1,
            b'>' => return None,
            _ => {
                while let Some(&c) = b.get(i).filter(|&&c| !space(c) && c != b'>') {
                    if odd(c) || c == b'=' {
                        return None;
                    }
                    i += 1;
                }
            }
        }
    }
}

/// The parser's text: tags removed (html5ever, through ammonia), entities
/// decoded.
pub(super) fn plain_text_keep(html: &str) -> String {
    let stripped = ammonia::Builder::empty().clean(html).to_string();
    decode_entities(&stripped)
}
