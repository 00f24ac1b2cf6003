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
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn attrs(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!(" {k}=\"{}\"", escape(v))).collect()
}

impl Xml {
    pub(super) fn new() -> Xml {
        Xml { out: String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n") }
    }

    pub(super) fn open(&mut self, name: &str, a: &[(&str, &str)]) -> &mut Self {
        self.out.push_str(&format!("<{name}{}>\n", attrs(a)));
        self
    }

    pub(super) fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str(&format!("</{name}>\n"));
        self
    }

    /// `<name attrs>text</name>`.
    pub(super) fn text(&mut self, name: &str, a: &[(&str, &str)], text: &str) -> &mut Self {
        self.out.push_str(&format!("<{name}{}>{}</{name}>\n", attrs(a), escape(text)));
        self
    }

    /// `<name attrs/>`.
    pub(super) fn empty(&mut self, name: &str, a: &[(&str, &str)]) -> &mut Self {
        self.out.push_str(&format!("<{name}{}/>\n", attrs(a)));
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
    fn escapes_and_drops_forbidden_chars() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
        let mut x = Xml::new();
        x.open("a", &[("href", "x?a=1&b=2")]).text("t", &[], "1 < 2").empty("e", &[("k", "v")]).close("a");
        let s = String::from_utf8(x.finish()).unwrap();
        assert!(s.contains("<a href=\"x?a=1&amp;b=2\">\n<t>1 &lt; 2</t>\n<e k=\"v\"/>\n</a>\n"), "{s}");
    }
}
