//! Bytes to UTF-8 text: BOMs, UTF-16 and UTF-32, EBCDIC, the XML prolog, the
//! HTTP charset, and windows-1252 bytes mislabelled as UTF-8. Labels
//! encoding_rs (the WHATWG set) does not know are looked up among the
//! single-byte code pages of `codepages` (DOS, EBCDIC, old Mac). The parsers
//! then always see UTF-8 with a prolog that says so.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::codepages;

/// An encoding we can decode.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Enc {
    /// One of encoding_rs's.
    Rs(&'static Encoding),
    /// UTF-32, big-endian when true.
    Utf32(bool),
    /// An index into `codepages::PAGES`.
    Page(usize),
}

impl Enc {
    fn name(self) -> &'static str {
        match self {
            Enc::Rs(e) => e.name(),
            Enc::Utf32(true) => "UTF-32BE",
            Enc::Utf32(false) => "UTF-32LE",
            Enc::Page(i) => codepages::PAGES[i].0,
        }
    }

    /// From a label (prolog or HTTP charset).
    fn for_label(label: &str) -> Option<Enc> {
        let label = label.trim();
        if let Some(e) = Encoding::for_label(label.as_bytes()) {
            return Some(Enc::Rs(e));
        }
        let key: String = label.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
        match key.as_str() {
            "utf32" | "utf32be" | "ucs4" | "ucs4be" => return Some(Enc::Utf32(true)),
            "utf32le" | "ucs4le" => return Some(Enc::Utf32(false)),
            _ => {}
        }
        let i = codepages::ALIASES.binary_search_by(|(k, _)| (*k).cmp(key.as_str())).ok()?;
        Some(Enc::Page(codepages::ALIASES[i].1))
    }

    fn is_wide(self) -> bool {
        matches!(self, Enc::Rs(e) if e == UTF_16BE || e == UTF_16LE) || matches!(self, Enc::Utf32(_))
    }
}

/// The decoded document and how the encoding was chosen.
#[derive(Debug)]
pub struct Decoded {
    /// UTF-8 text, prolog rewritten to `encoding="UTF-8"`, XML-invalid
    /// control characters removed.
    pub text: String,
    /// The encoding used, and from which evidence.
    pub encoding: String,
    /// Problems repaired along the way.
    pub warnings: Vec<String>,
}

/// Decodes a document, for reading it as a page or an outline: no control
/// character is left (C1 controls become the windows-1252 character or
/// U+FFFD, see [`repair_controls`]).
///
/// Precedence: a byte-order mark, then UTF-16 detected from the first bytes,
/// then the XML prolog's `encoding`, then the HTTP `charset`, then UTF-8. The
/// prolog outranks the HTTP charset on purpose: servers commonly send a
/// blanket `charset` for every file, while the prolog travels with the
/// document. Text declared UTF-8 that is not valid UTF-8 is decoded as
/// windows-1252 byte by byte where it is invalid (mixed files exist).
pub fn decode(bytes: &[u8], http_charset: Option<&str>) -> Decoded {
    let mut d = decode_keeping_c1(bytes, http_charset);
    if let Some(text) = repair_controls(&d.text) {
        d.text = text;
    }
    d
}

/// [`decode`] for a feed: C1 control characters (from an undefined
/// windows-1252 byte, valid UTF-8 of mis-decoded text) are kept, so that
/// entries are keyed by the same text as by earlier versions (stored rows
/// keep their keys); `normalise` repairs every stored field after keying.
/// The warnings say what will be repaired.
pub fn decode_keeping_c1(bytes: &[u8], http_charset: Option<&str>) -> Decoded {
    let mut warnings = Vec::new();
    let (enc, why, body) = choose(bytes, http_charset, &mut warnings);
    let mut text = match enc {
        Enc::Rs(e) if e == UTF_8 => utf8_lossy_1252(body, &mut warnings),
        Enc::Rs(e) => {
            let (cow, had_errors) = e.decode_without_bom_handling(body);
            if had_errors {
                warnings.push(format!("invalid {} bytes replaced", e.name()));
            }
            cow.into_owned()
        }
        Enc::Utf32(be) => utf32(body, be, &mut warnings),
        Enc::Page(i) => code_page(body, i),
    };
    strip_invalid_chars(&mut text, &mut warnings);
    if text.contains(is_c1) && !warnings.iter().any(|w| w.contains("U+FFFD")) {
        warnings.push("C1 control characters read as windows-1252 (else U+FFFD)".into());
    }
    let text = rewrite_prolog(text);
    Decoded { text, encoding: format!("{} ({why})", enc.name()), warnings }
}

fn choose<'a>(
    bytes: &'a [u8],
    http_charset: Option<&str>,
    warnings: &mut Vec<String>,
) -> (Enc, &'static str, &'a [u8]) {
    match bytes {
        [0, 0, 0xfe, 0xff, rest @ ..] => return (Enc::Utf32(true), "byte-order mark", rest),
        [0xff, 0xfe, 0, 0, rest @ ..] => return (Enc::Utf32(false), "byte-order mark", rest),
        _ => {}
    }
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return (Enc::Rs(enc), "byte-order mark", &bytes[bom_len..]);
    }
    match bytes {
        [0, 0, 0, b'<', ..] => return (Enc::Utf32(true), "UTF-32 detected", bytes),
        [b'<', 0, 0, 0, ..] => return (Enc::Utf32(false), "UTF-32 detected", bytes),
        [0, b'<', 0, _, ..] => return (Enc::Rs(UTF_16BE), "UTF-16 detected", bytes),
        [b'<', 0, _, 0, ..] => return (Enc::Rs(UTF_16LE), "UTF-16 detected", bytes),
        // `<?xm` in EBCDIC: the prolog names the code page, else 037.
        [0x4c, 0x6f, 0xa7, 0x94, ..] => {
            let cp037 = Enc::for_label("cp037").expect("cp037 table");
            let head = code_page(
                &bytes[..bytes.len().min(512)],
                match cp037 {
                    Enc::Page(i) => i,
                    _ => unreachable!(),
                },
            );
            let declared = prolog_encoding(head.as_bytes()).and_then(Enc::for_label);
            return match declared {
                Some(e @ Enc::Page(_)) => (e, "EBCDIC, XML prolog", bytes),
                _ => (cp037, "EBCDIC detected", bytes),
            };
        }
        _ => {}
    }
    let from_label = Enc::for_label;
    let prolog = prolog_encoding(bytes);
    if let Some(label) = prolog {
        match from_label(label) {
            // A UTF-16 or UTF-32 label on bytes that are not (checked above) is a lie.
            Some(enc) if enc.is_wide() => {
                return (Enc::Rs(UTF_8), "prolog said UTF-16 without it", bytes);
            }
            Some(enc) => {
                if let Some(http) = http_charset.and_then(from_label).filter(|h| *h != enc) {
                    warnings.push(format!(
                        "HTTP charset {} disagrees with the prolog's {}; used the prolog",
                        http.name(),
                        enc.name()
                    ));
                }
                return (enc, "XML prolog", bytes);
            }
            None => warnings.push(format!("unknown encoding {label:?} in the prolog")),
        }
    }
    match http_charset.and_then(from_label) {
        Some(enc) if !enc.is_wide() => (enc, "HTTP charset", bytes),
        _ => (Enc::Rs(UTF_8), "default", bytes),
    }
}

/// UTF-32 (without its byte-order mark); invalid code points become U+FFFD.
fn utf32(bytes: &[u8], be: bool, warnings: &mut Vec<String>) -> String {
    let mut bad = false;
    let text = bytes
        .chunks(4)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            let v = if be { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) };
            char::from_u32(v).filter(|_| c.len() == 4).unwrap_or_else(|| {
                bad = true;
                '\u{FFFD}'
            })
        })
        .collect();
    if bad {
        warnings.push("invalid UTF-32 replaced".into());
    }
    text
}

/// A single-byte code page, byte by byte.
fn code_page(bytes: &[u8], page: usize) -> String {
    let table: Vec<char> = codepages::PAGES[page].1.chars().collect();
    bytes.iter().map(|b| table.get(usize::from(*b)).copied().unwrap_or('\u{FFFD}')).collect()
}

/// The `encoding` pseudo-attribute of an XML declaration, if any.
fn prolog_encoding(bytes: &[u8]) -> Option<&str> {
    let head = &bytes[..bytes.len().min(512)];
    let start = head.windows(5).position(|w| w == b"<?xml")?;
    let end = start + head[start..].windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[start..end]).ok()?;
    attr_value(decl, "encoding")
}

/// Value of `name="..."` or `name='...'` in a tag's text.
fn attr_value<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pos = tag.find(name)?;
    let rest = tag[pos + name.len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    Some(&rest[..rest.find(quote)?])
}

/// UTF-8 where valid; each byte of an invalid sequence (what windows-1252
/// text in a UTF-8 document looks like: `\xe4` for ä, `\x96` for –,
/// `\xe9\x85` for é…) is read as windows-1252, as earlier versions did. The
/// five bytes windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D)
/// come out as C1 controls here, which [`repair_controls`] turns into
/// U+FFFD.
fn utf8_lossy_1252(bytes: &[u8], warnings: &mut Vec<String>) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let (mut repaired, mut replaced) = (0usize, 0usize);
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        let (s, _) = WINDOWS_1252.decode_without_bom_handling(chunk.invalid());
        for c in s.chars() {
            if is_c1(c) {
                replaced += 1;
            } else {
                repaired += 1;
            }
        }
        out.push_str(&s);
    }
    let mut parts = Vec::new();
    if repaired > 0 {
        parts.push(format!("{repaired} decoded as windows-1252"));
    }
    if replaced > 0 {
        parts.push(format!("{replaced} undefined there, replaced by U+FFFD"));
    }
    warnings.push(format!("bytes that are not UTF-8: {}", parts.join(", ")));
    out
}

/// The character a byte above 0x7F stands for in windows-1252; `None` for
/// the five bytes it leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D), which
/// decoders map to C1 control characters.
fn windows_1252_char(b: u8) -> Option<char> {
    let byte = [b];
    let (s, _) = WINDOWS_1252.decode_without_bom_handling(&byte);
    s.chars().next().filter(|c| !is_c1(*c))
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// Text without control characters: a C1 control (U+0080 to U+009F, which
/// no feed means: it is a windows-1252 byte decoded as Latin-1, or an
/// undefined byte) becomes the windows-1252 character, else U+FFFD; C0
/// controls other than tab, newline and carriage return are removed.
/// `None` when there was nothing to change.
pub fn repair_controls(text: &str) -> Option<String> {
    let bad = |c: char| is_c1(c) || (c < ' ' && !matches!(c, '\t' | '\n' | '\r'));
    if !text.contains(bad) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_c1(c) {
            out.push(windows_1252_char(c as u8).unwrap_or(char::REPLACEMENT_CHARACTER));
        } else if !bad(c) {
            out.push(c);
        }
    }
    Some(out)
}

/// Removes characters XML 1.0 forbids (C0 controls but tab, newline and
/// carriage return; U+FFFE, U+FFFF).
fn strip_invalid_chars(text: &mut String, warnings: &mut Vec<String>) {
    let bad = |c: char| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}';
    if text.contains(bad) {
        text.retain(|c| !bad(c));
        warnings.push("control characters invalid in XML removed".into());
    }
}

/// Makes the XML declaration say UTF-8, since the text now is.
fn rewrite_prolog(text: String) -> String {
    let trimmed = text.trim_start();
    if !trimmed.starts_with("<?xml") {
        return text;
    }
    let offset = text.len() - trimmed.len();
    let Some(end) = trimmed.find("?>") else {
        return text;
    };
    let decl = &trimmed[..end];
    let Some(value) = attr_value(decl, "encoding") else {
        return text;
    };
    if value.eq_ignore_ascii_case("utf-8") {
        return text;
    }
    let vstart = offset + (value.as_ptr() as usize - decl.as_ptr() as usize);
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..vstart]);
    out.push_str("UTF-8");
    out.push_str(&text[vstart + value.len()..]);
    out
}

/// The `charset` parameter of a Content-Type header.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp1252_labelled_utf8_is_repaired() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><t>P\xe4iv\xe4 \x96 \x93x\x94 \xc3\xa4</t>";
        let d = decode(bytes, None);
        assert!(d.text.contains("Päivä – “x” ä"), "{}", d.text);
        assert!(!d.warnings.is_empty());
    }

    #[test]
    fn invalid_utf8_never_becomes_a_control_character() {
        // 0x81 and 0x9D are undefined in windows-1252; \xe2\x80 is a
        // truncated en dash (â€ byte by byte); \x96 alone is windows-1252's
        // en dash.
        let bytes = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>a\x81b\x9dc \xe2\x80 d \x96 e\xc3</t>";
        let d = decode(bytes, Some("utf-8"));
        assert_eq!(
            d.text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>a\u{FFFD}b\u{FFFD}c \u{e2}\u{20ac} d \u{2013} e\u{c3}</t>"
        );
        assert!(!d.text.chars().any(|c| c.is_control() && c != '\n'), "{:?}", d.text);
        assert_eq!(
            d.warnings,
            ["bytes that are not UTF-8: 4 decoded as windows-1252, 2 undefined there, replaced by U+FFFD"]
        );
        // For a feed the C1 controls stay until `normalise` has keyed its
        // entries (by the text earlier versions keyed them by).
        let kept = decode_keeping_c1(bytes, Some("utf-8"));
        assert!(kept.text.contains("a\u{81}b\u{9d}c"), "{:?}", kept.text);
        assert_eq!(repair_controls(&kept.text).as_deref(), Some(d.text.as_str()));
        // C1 controls that arrive valid (UTF-8 of Latin-1-decoded windows-1252,
        // or an ISO-8859-1 document using an undefined byte).
        let d = decode("<t>\u{93}x\u{94} \u{81}</t>".as_bytes(), None);
        assert_eq!(d.text, "<t>\u{201c}x\u{201d} \u{FFFD}</t>");
        let d = decode(b"<?xml version='1.0' encoding='ISO-8859-1'?><t>\x8d\xe5</t>", None);
        assert!(d.text.ends_with("<t>\u{FFFD}\u{e5}</t>"), "{}", d.text);
        assert_eq!(repair_controls("ok"), None);
        assert_eq!(repair_controls("a\u{1}b\u{9d}\tc").as_deref(), Some("ab\u{FFFD}\tc"));
    }

    #[test]
    fn every_byte_of_an_invalid_sequence_is_read_as_windows_1252() {
        // Windows-1252 text in a UTF-8 document where a lead byte is followed
        // by what UTF-8 takes for a continuation: the sequence is invalid as
        // a whole, and each of its bytes is a character.
        let d = decode(b"<t>caf\xe9\x85 r\xe9\x94 h\xf4\x96t \xe9\x81</t>", Some("utf-8"));
        assert_eq!(d.text, "<t>café… ré” hô–t é\u{FFFD}</t>");
    }

    #[test]
    fn prolog_latin1_and_rewrite() {
        let d = decode(b"<?xml version='1.0' encoding='ISO-8859-1'?><t>\xe5</t>", Some("utf-8"));
        assert_eq!(d.text, "<?xml version='1.0' encoding='UTF-8'?><t>å</t>");
        assert!(d.encoding.contains("prolog"));
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let s = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><t>ö</t>";
        let mut be = vec![0xfe, 0xff];
        let mut le = vec![];
        for u in s.encode_utf16() {
            be.extend_from_slice(&u.to_be_bytes());
            le.extend_from_slice(&u.to_le_bytes());
        }
        assert!(decode(&be, None).text.ends_with("<t>ö</t>"));
        assert!(decode(&le, None).text.contains("encoding=\"UTF-8\""));
    }

    #[test]
    fn utf32_ebcdic_and_dos_code_pages() {
        let s = "<?xml version=\"1.0\"?><t>\u{20ac}</t>";
        let be: Vec<u8> = s.chars().flat_map(|c| (c as u32).to_be_bytes()).collect();
        let le: Vec<u8> =
            [0xff, 0xfe, 0, 0].into_iter().chain(s.chars().flat_map(|c| (c as u32).to_le_bytes())).collect();
        assert!(decode(&be, None).text.ends_with("<t>\u{20ac}</t>"));
        assert!(decode(&le, None).text.ends_with("<t>\u{20ac}</t>"));
        // `<?xml version="1.0" encoding="cp500"?><t>` then 0x4a, which is `[` in cp500 and `¢` in cp037
        let ebcdic = b"\x4c\x6f\xa7\x94\x93\x40\xa5\x85\x99\xa2\x89\x96\x95\x7e\x7f\xf1\x4b\xf0\x7f\x40\x85\x95\x83\x96\x84\x89\x95\x87\x7e\x7f\x83\x97\xf5\xf0\xf0\x7f\x6f\x6e\x4c\xa3\x6e\x4a";
        let d = decode(ebcdic, None);
        assert!(d.text.ends_with("<t>["), "{}", d.text);
        assert!(d.encoding.contains("cp500"), "{}", d.encoding);
        let d = decode(b"<?xml version='1.0' encoding='ibm437'?><t>\x80</t>", None);
        assert!(d.text.ends_with("<t>\u{c7}</t>"), "{}", d.text);
        assert_eq!(
            decode(b"<?xml version='1.0' encoding='CSPC8CODEPAGE437'?><t>\x80</t>", None).encoding,
            "cp437 (XML prolog)"
        );
    }

    #[test]
    fn c1_controls_are_windows_1252() {
        let d = decode("<t>don\u{92}t \u{81}</t>".as_bytes(), None);
        assert_eq!(d.text, "<t>don\u{2019}t \u{FFFD}</t>"); // 0x81 is undefined in windows-1252
        assert!(d.warnings.iter().any(|w| w.contains("C1")), "{:?}", d.warnings);
    }

    #[test]
    fn control_chars_removed_and_charset_parsed() {
        let d = decode(b"<t>a\x01b\x0bc</t>", None);
        assert_eq!(d.text, "<t>abc</t>");
        assert_eq!(charset_of("text/xml; Charset=\"ISO-8859-1\""), Some("ISO-8859-1"));
        assert_eq!(charset_of("text/xml"), None);
    }
}
