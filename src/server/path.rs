//! From a request path to an artifact key. The key is only ever looked up in
//! the in-memory map, so traversal can't reach files; still, anything that
//! could mean "elsewhere" (`..`, `.`, empty segments, backslashes, NUL,
//! control characters, bad escapes) is refused outright, after decoding once.

/// The key `GET /` serves.
const INDEX: &str = "index.html";

/// The artifact key a request path names, or `None` when it names none.
pub(crate) fn key(path: &str) -> Option<String> {
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(INDEX.to_owned());
    }
    let decoded = String::from_utf8(percent_decode(rest.as_bytes())?).ok()?;
    is_plain(&decoded).then_some(decoded)
}

/// Whether every segment is an ordinary name.
fn is_plain(key: &str) -> bool {
    !key.chars().any(|c| c == '\\' || c.is_control()) && key.split('/').all(|s| !matches!(s, "" | "." | ".."))
}

/// `%XX` escapes decoded once; `None` on a malformed escape.
fn percent_decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let (hex, tail) = tail.split_at_checked(2)?;
            out.push((hex_value(hex[0])? << 4) | hex_value(hex[1])?);
            rest = tail;
        } else {
            out.push(b);
            rest = tail;
        }
    }
    Some(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|v| v as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_map_to_keys_and_root_to_the_index() {
        assert_eq!(key("/").as_deref(), Some("index.html"));
        assert_eq!(key("/all.atom").as_deref(), Some("all.atom"));
        assert_eq!(key("/tags/kunta.rss").as_deref(), Some("tags/kunta.rss"));
        assert_eq!(key("/tags/%C3%A4%20b.rss").as_deref(), Some("tags/ä b.rss"));
    }

    #[test]
    fn traversal_and_oddities_are_refused() {
        for bad in [
            "/../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/%2E%2E/Cargo.toml",
            "/tags/..%2f..%2fCargo.toml",
            "/tags/./x.rss",
            "/tags//x.rss",
            "/tags/",
            "/..\\Cargo.toml",
            "/%5c..%5cCargo.toml",
            "/a%00.atom",
            "/a%0a.atom",
            "/bad%2",
            "/bad%zz",
            "/%ff.atom",
            "relative",
        ] {
            assert_eq!(key(bad), None, "{bad}");
        }
    }

    #[test]
    fn decoding_happens_once() {
        assert_eq!(key("/%252e%252e/x").as_deref(), Some("%2e%2e/x"), "a literal key, not a parent directory");
    }
}
