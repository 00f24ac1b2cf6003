//! Small scanners over HTML tag text, shared by `parse` (feed discovery)
//! and `normalise` (tracking pixels). Pure.

/// An attribute value of an HTML tag (quoted or bare), case-insensitive name.
pub fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = at > 0 && lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = tag[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=').filter(|_| before_ok) else {
            continue;
        };
        let rest = rest.trim_start();
        return match rest.chars().next()? {
            q @ ('"' | '\'') => rest[1..].find(q).map(|e| &rest[1..1 + e]),
            _ => Some(rest.split(|c: char| c.is_whitespace() || c == '/' || c == '>').next().unwrap_or("")),
        };
    }
    None
}
