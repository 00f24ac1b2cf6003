//! Two text repairs XML parsers do not make, as feedparser (and browsers)
//! do:
//!
//! - [`ill_formed`]: a document the XML parser rejected, made well-formed
//!   the way a lenient reader reads it: a bare `&` becomes `&amp;`, `&#X41;`
//!   the `&#x41;` XML spells, a `<` that starts no markup `&lt;`; a document
//!   cut short loses its unfinished last tag (`</feed`, `<![CD`) and gets
//!   the end tags of the elements still open, less an item or entry left
//!   unfinished; HTML's empty elements (`<br>`) closed where they open.
//!   Other mismatched nesting is not guessed at. Run only after a
//!   parse failed, so well-formed documents pay nothing.
//! - [`expand_internal_entities`]: general entities declared in the
//!   document's internal DTD subset (`<!DOCTYPE rss [<!ENTITY id "tag:…">]>`)
//!   expanded in the body. Only entities whose value holds no markup and no
//!   reference but character references are expanded, so one expansion can
//!   never produce another (no "billion laughs"), and the output is capped.
//!   A look at the prolog only, so documents without a DTD pay next to nothing.

/// HTML elements without content (not `link`, which RSS gives content).
const VOID: [&str; 12] =
    ["br", "hr", "img", "input", "meta", "wbr", "area", "col", "embed", "source", "track", "param"];

/// Most bytes entity expansion may add to a document.
const MAX_EXPANSION: usize = 1 << 20;

/// The document made well-formed, or `None` when nothing could be changed.
pub(super) fn ill_formed(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    // Open elements: name, and where in `out` each starts.
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(lt) = rest.find(['<', '&']) else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        if rest.starts_with('&') {
            rest = push_reference(&mut out, rest);
            continue;
        }
        // Markup that runs to a terminator; an unterminated one ends the document.
        let special = [("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")];
        if let Some((_, end)) = special.iter().find(|(start, _)| rest.starts_with(start)) {
            let Some(e) = rest.find(end) else {
                break;
            };
            out.push_str(&rest[..e + end.len()]);
            rest = &rest[e + end.len()..];
            continue;
        }
        if rest.starts_with("<!") {
            // DOCTYPE, with an internal subset in brackets.
            let close = rest.find('>').and_then(|g| match rest[..g].contains('[') {
                true => rest.find("]>").map(|e| e + 2),
                false => Some(g + 1),
            });
            let Some(e) = close else {
                break;
            };
            out.push_str(&rest[..e]);
            rest = &rest[e..];
            continue;
        }
        let closing = rest.starts_with("</");
        let name_start = if closing { 2 } else { 1 };
        let name_len = rest[name_start..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len() - name_start);
        let name = &rest[name_start..name_start + name_len];
        if !name.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == ':') {
            out.push_str("&lt;");
            rest = &rest[1..];
            continue;
        }
        let Some(end) = tag_end(rest) else {
            break;
        };
        let tag = &rest[..end];
        rest = &rest[end..];
        if closing {
            // Mismatched nesting leaves it unclear which element text belongs
            // to: not guessed, the document stays unread.
            if open.pop().map(|(o, _)| o) != Some(name) {
                return None;
            }
            out.push_str(tag);
            continue;
        }
        let at = out.len();
        let void = VOID.iter().any(|v| v.eq_ignore_ascii_case(name));
        if void && !tag.ends_with("/>") {
            // Unescaped HTML such as `<br>` in a description: it has no end tag.
            push_tag(&mut out, &format!("{}/>", &tag[..tag.len() - 1]));
            continue;
        }
        push_tag(&mut out, tag);
        if !tag.ends_with("/>") {
            open.push((name, at));
        }
    }
    // An item or entry the document ends inside is incomplete (its id or
    // link may be cut short): left out rather than stored as a wrong entry.
    let unfinished = |(name, _): &&(&str, usize)| {
        let local = name.rsplit(':').next().unwrap_or(name);
        local == "item" || local == "entry"
    };
    if let Some(i) = open.iter().position(|o| unfinished(&o)) {
        out.truncate(open[i].1);
        open.truncate(i);
    }
    for (o, _) in open.iter().rev() {
        out.push_str("</");
        out.push_str(o);
        out.push('>');
    }
    (out != text).then_some(out)
}

/// A start tag with bare `&` in its attribute values escaped.
fn push_tag(out: &mut String, tag: &str) {
    let mut rest = tag;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = push_reference(out, &rest[amp..]);
    }
    out.push_str(rest);
}

/// Copies the reference `at` starts with (`&#X41;` as `&#x41;`), or a bare
/// `&` escaped; returns what follows it.
fn push_reference<'a>(out: &mut String, at: &'a str) -> &'a str {
    match reference_len(at) {
        Some(n) => {
            out.push_str(&at[..n].replacen("&#X", "&#x", 1));
            &at[n..]
        }
        None => {
            out.push_str("&amp;");
            &at[1..]
        }
    }
}

/// The length of the end of a tag starting at `tag[0]` (`>` included),
/// quotes respected; `None` when the document ends inside it.
fn tag_end(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in tag.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i + 1),
            (None, '<') => return None, // a tag cut short, then more markup
            _ => {}
        }
    }
    None
}

/// The length of a well-formed reference at the start of `s` (`&name;`,
/// `&#123;`, `&#x7B;`, and `&#X7B;`, which is repaired), else `None`.
fn reference_len(s: &str) -> Option<usize> {
    let body = &s[1..];
    // A bounded look: a long run of `&` without `;` stays linear.
    let semi = body.bytes().take(33).position(|b| b == b';')?;
    let name = &body[..semi];
    let ok = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
    } else if let Some(dec) = name.strip_prefix('#') {
        !dec.is_empty() && dec.bytes().all(|b| b.is_ascii_digit())
    } else {
        name.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
    };
    ok.then_some(semi + 2)
}

/// The document with the entities of its internal DTD subset expanded, or
/// `None` when it declares none that can be expanded safely.
pub(super) fn expand_internal_entities(text: &str) -> Option<String> {
    let (subset_end, entities) = internal_entities(text)?;
    let (head, body) = text.split_at(subset_end);
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(head);
    let mut rest = body;
    let limit = text.len() + MAX_EXPANSION;
    while let Some(at) = rest.find(['&', '<']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with("<![CDATA[") || rest.starts_with("<!--") {
            let end = if rest.starts_with("<!--") { "-->" } else { "]]>" };
            let e = rest.find(end).map_or(rest.len(), |e| e + end.len());
            out.push_str(&rest[..e]);
            rest = &rest[e..];
            continue;
        }
        if rest.starts_with('<') {
            out.push('<');
            rest = &rest[1..];
            continue;
        }
        let found = rest[1..].bytes().take(64).position(|b| b == b';').and_then(|semi| {
            let name = &rest[1..1 + semi];
            entities.iter().find(|(n, _)| *n == name).map(|(_, v)| (semi + 2, v.as_str()))
        });
        match found {
            Some((len, value)) => {
                out.push_str(value);
                rest = &rest[len..];
                if out.len() > limit {
                    return None;
                }
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Where the internal subset ends, and its general entities whose values
/// are plain text (character references allowed).
fn internal_entities(text: &str) -> Option<(usize, Vec<(&str, String)>)> {
    // The prolog: declarations, processing instructions, comments.
    let mut pos = 0;
    loop {
        let rest = text[pos..].trim_start();
        pos = text.len() - rest.len();
        if rest.starts_with("<?") || rest.starts_with("<!--") {
            let end = if rest.starts_with("<?") { "?>" } else { "-->" };
            pos += rest.find(end)? + end.len();
        } else if rest.starts_with("<!DOCTYPE") {
            break;
        } else {
            return None;
        }
    }
    let doctype = &text[pos..];
    let open = doctype.find('[').filter(|b| doctype.find('>').is_none_or(|g| *b < g))?;
    let close = open + doctype[open..].find("]>")?;
    let subset = &doctype[open + 1..close];
    let mut entities = Vec::new();
    for decl in subset.split("<!ENTITY").skip(1) {
        let decl = decl.trim_start();
        if decl.starts_with('%') {
            continue; // parameter entity
        }
        let Some((name, rest)) = decl.split_once(char::is_whitespace) else { continue };
        let rest = rest.trim_start();
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue; // external (SYSTEM, PUBLIC)
        };
        let Some(end) = rest[1..].find(quote) else { continue };
        let value = &rest[1..1 + end];
        let plain = !value.contains(['<', '%']) && value.split('&').skip(1).all(|r| r.starts_with('#'));
        if plain && !name.is_empty() && !entities.iter().any(|(n, _)| *n == name) {
            entities.push((name, value));
        }
    }
    // Quotes escaped, so that a value is safe inside an attribute too.
    let entities: Vec<(&str, String)> =
        entities.into_iter().map(|(n, v)| (n, v.replace('"', "&quot;").replace('\'', "&apos;"))).collect();
    if entities.is_empty() {
        return None;
    }
    Some((pos + close + 2, entities))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_cut_short_is_closed() {
        assert_eq!(
            ill_formed("<rss><channel><title>T</title></channel></rss").unwrap(),
            "<rss><channel><title>T</title></channel></rss>"
        );
        // The item the document ends in is incomplete: left out.
        assert_eq!(
            ill_formed("<rss><channel><title>C</title><item><title><![CD").unwrap(),
            "<rss><channel><title>C</title></channel></rss>"
        );
        assert_eq!(
            ill_formed("<feed><entry><id>1</id></entry><entry><id>http://e.fi/2").unwrap(),
            "<feed><entry><id>1</id></entry></feed>"
        );
        assert_eq!(ill_formed("<a><b x='1'").unwrap(), "<a></a>");
        assert_eq!(ill_formed("<a><!-- open").unwrap(), "<a></a>");
    }

    #[test]
    fn bare_ampersands_and_odd_references_are_escaped() {
        assert_eq!(ill_formed("<link>http://e/?a=1&b=2&c</link>").unwrap(), "<link>http://e/?a=1&amp;b=2&amp;c</link>");
        assert_eq!(
            ill_formed("<l href='?a&b'>&#X41;&#65;&amp;&nbsp;</l>").unwrap(),
            "<l href='?a&amp;b'>&#x41;&#65;&amp;&nbsp;</l>"
        );
        assert_eq!(ill_formed("<t>1 < 2</t>").unwrap(), "<t>1 &lt; 2</t>");
        assert_eq!(ill_formed("<t><![CDATA[a & b]]></t>"), None);
    }

    #[test]
    fn mismatched_nesting_is_not_guessed() {
        assert_eq!(ill_formed("<a><b>x</c></a>&"), None);
        assert_eq!(ill_formed("<a><b>x</a>&"), None);
        assert_eq!(ill_formed("<a><b>x</b></a>&").unwrap(), "<a><b>x</b></a>&amp;");
        // HTML's empty elements have no end tag: not a mismatch.
        assert_eq!(
            ill_formed("<d>a<br>b<BR ><img src='x.png'><br/></d>").unwrap(),
            "<d>a<br/>b<BR /><img src='x.png'/><br/></d>"
        );
    }

    #[test]
    fn hostile_input_is_harmless() {
        for s in ["<", "&", "<<<<", "</", "<!", "<![CDATA[", "<?x", "<a b='>", "&#;", "&#x;", "\u{e9}<\u{e9}&\u{e9}"] {
            let _ = ill_formed(s);
            let _ = expand_internal_entities(s);
        }
        assert!(ill_formed(&"<a>".repeat(10_000)).is_some());
        // Linear on long runs of what each step looks ahead for.
        let started = std::time::Instant::now();
        for s in [
            "&".repeat(1 << 20),
            "<!x>".repeat(1 << 18),
            format!("<!DOCTYPE r [<!ENTITY a 'b'>]><r>{}", "&".repeat(1 << 20)),
        ] {
            let _ = ill_formed(&s);
            let _ = expand_internal_entities(&s);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn plain_internal_entities_are_expanded() {
        let doc = "<?xml version='1.0'?>\n<!DOCTYPE rss [\n <!ENTITY id \"tag:example.com,\">\n <!ENTITY nbsp '&#160;'>\n <!ENTITY % p 'x'>\n <!ENTITY ext SYSTEM 'http://e/x'>\n <!ENTITY lol '&id;&id;'>\n]>\n<rss><guid>&id;2006:/b/&nbsp;&lol;&amp;<![CDATA[&id;]]></guid></rss>";
        let out = expand_internal_entities(doc).unwrap();
        assert!(
            out.ends_with("<rss><guid>tag:example.com,2006:/b/&#160;&lol;&amp;<![CDATA[&id;]]></guid></rss>"),
            "{out}"
        );
        assert_eq!(expand_internal_entities("<rss>&id;</rss>"), None);
        let quoted = expand_internal_entities("<!DOCTYPE r [<!ENTITY q 'say \"hi\"'>]><r a=\"&q;\">&q;</r>").unwrap();
        assert!(quoted.ends_with("<r a=\"say &quot;hi&quot;\">say &quot;hi&quot;</r>"), "{quoted}");
        assert_eq!(expand_internal_entities("<!DOCTYPE rss><rss/>"), None);
    }

    #[test]
    fn expansion_is_capped() {
        let value = "x".repeat(10_000);
        let doc = format!("<!DOCTYPE r [<!ENTITY a \"{value}\">]><r>{}</r>", "&a;".repeat(200));
        assert_eq!(expand_internal_entities(&doc), None);
    }
}
