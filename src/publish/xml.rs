//! A minimal XML writer for the feeds we publish: escaped text and
//! attributes, characters XML forbids dropped, deterministic output.

/// Builds an XML document as a string.
#[derive(Debug, Default)]
pub(super) struct Xml {
    out: String,
}

/// Escapes text for element content or a double-quoted attribute.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s);
    out
}

/// The bytes [`escape_into`] stops at: markup, control characters but
/// tab, line feed and carriage return, and 0xEF (the first byte of U+FFFE
/// and U+FFFF, and of other characters).
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = !matches!(b, 0x09 | 0x0A | 0x0D);
        b += 1;
    }
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'"' as usize] = true;
    t[0xEF] = true;
    t
};

/// [`escape`], appending to `out`: runs of plain text are copied whole,
/// found by a table look-up per byte (most of a feed is plain text: this
/// was a sixth of `publish`'s time as a `match` per byte).
fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        while i < bytes.len() && !STOP[usize::from(bytes[i])] {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        // Every byte looked at is ASCII or a character's first byte, so
        // `start` and `i` are character boundaries.
        let (with, len) = match bytes[i] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\t' | b'\n' | b'\r' => ("", 0),
            0..=0x1f => ("", 1),
            // U+FFFE and U+FFFF, which XML forbids.
            0xEF if bytes[i + 1] == 0xBF && matches!(bytes[i + 2], 0xBE | 0xBF) => ("", 3),
            _ => ("", 0),
        };
        if len == 0 {
            i += 1;
            continue;
        }
        out.push_str(&s[start..i]);
        out.push_str(with);
        i += len;
        start = i;
    }
    out.push_str(&s[start..]);
}

fn attrs_into(out: &mut String, pairs: &[(&str, &str)]) {
    for (k, v) in pairs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape_into(out, v);
        out.push('"');
    }
}

impl Xml {
    pub(super) fn new() -> Xml {
        Xml { out: String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n") }
    }

    pub(super) fn open(&mut self, name: &str, a: &[(&str, &str)]) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        attrs_into(&mut self.out, a);
        self.out.push_str(">\n");
        self
    }

    pub(super) fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// `<name attrs>text</name>`.
    pub(super) fn text(&mut self, name: &str, a: &[(&str, &str)], text: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        attrs_into(&mut self.out, a);
        self.out.push('>');
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// `<name attrs/>`.
    pub(super) fn empty(&mut self, name: &str, a: &[(&str, &str)]) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        attrs_into(&mut self.out, a);
        self.out.push_str("/>\n");
        self
    }

    pub(super) fn finish(self) -> Vec<u8> {
        self.out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_per_character_escaping_would() {
        // Escaping written character by character, for comparison.
        fn by_match(s: &str) -> String {
            let mut out = String::new();
            for c in s.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\t' | '\n' | '\r' => out.push(c),
                    '\u{0}'..='\u{1f}' | '\u{FFFE}' | '\u{FFFF}' => {}
                    _ => out.push(c),
                }
            }
            out
        }
        let pieces = [
            "a", "é", "&", "<", ">", "\"", "'", "\t", "\n", "\r", "\u{1}", "\u{1f}", "\u{FFFE}", "\u{FFFF}",
            "\u{FFFD}", "\u{F000}", "\u{EFFF}", "\u{FEFF}", "\u{7f}", "語", "😀", " ",
        ];
        let mut next = crate::dedup::test_numbers(7);
        for _ in 0..2_000 {
            let n = next(24);
            let s: String = (0..n).map(|_| pieces[next(pieces.len() as u64) as usize]).collect();
            assert_eq!(escape(&s), by_match(&s), "{s:?}");
        }
    }

    #[test]
    fn escapes_and_drops_forbidden_chars() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(escape("é\u{FFFE}ü\u{FFFF}\u{FFFD}>\t\u{1f}x\n"), "éü\u{FFFD}&gt;\tx\n");
        assert_eq!(escape("Åland 2026 – ok"), "Åland 2026 – ok");
        let mut x = Xml::new();
        x.open("a", &[("href", "x?a=1&b=2")]).text("t", &[], "1 < 2").empty("e", &[("k", "v")]).close("a");
        let s = String::from_utf8(x.finish()).unwrap();
        assert!(s.contains("<a href=\"x?a=1&amp;b=2\">\n<t>1 &lt; 2</t>\n<e k=\"v\"/>\n</a>\n"), "{s}");
    }
}
