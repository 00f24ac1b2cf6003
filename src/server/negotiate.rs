//! `Accept-Encoding` (RFC 9110 section 12.5.3): whether the client takes gzip.
//! An explicit `gzip` (or `x-gzip`) entry decides, else `*` does, and a
//! weight of zero means "not acceptable".

use hyper::header::{ACCEPT_ENCODING, HeaderMap};

/// Whether the request's `Accept-Encoding` allows a gzip-coded response.
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    let values = headers.get_all(ACCEPT_ENCODING).into_iter().filter_map(|v| v.to_str().ok());
    for item in values.flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let weight = weight(parts);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = gzip.max(Some(weight));
        } else if coding == "*" {
            any = any.max(Some(weight));
        }
    }
    gzip.or(any).is_some_and(|w| w > 0)
}

/// The `q` parameter in thousandths (1000 when absent, 0 when malformed).
fn weight<'a>(params: impl Iterator<Item = &'a str>) -> u16 {
    for param in params {
        let Some((name, value)) = param.split_once('=') else { continue };
        if name.trim().eq_ignore_ascii_case("q") {
            return qvalue(value.trim()).unwrap_or(0);
        }
    }
    1000
}

/// A qvalue: `0`, `1`, or either followed by `.` and up to three digits, at most 1.
fn qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if !matches!(int, "0" | "1") || frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{int}{frac:0<3}").parse().ok()?;
    (thousandths <= 1000).then_some(thousandths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn accepts(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_when_listed_with_a_positive_weight() {
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["br, gzip, deflate"]));
        assert!(accepts(&["deflate;q=1.0, GZIP;q=0.5"]));
        assert!(accepts(&["gzip; Q=0.001"]));
        assert!(accepts(&["x-gzip"]));
        assert!(accepts(&["*"]));
        assert!(accepts(&["br", "gzip"]), "several header lines are one list");
    }

    #[test]
    fn no_gzip_when_absent_refused_or_malformed() {
        assert!(!accepts(&[]));
        assert!(!accepts(&["identity"]));
        assert!(!accepts(&["br, deflate"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip;q=0.000"]));
        assert!(!accepts(&["*, gzip;q=0"]), "an explicit refusal beats the wildcard");
        assert!(!accepts(&["*;q=0"]));
        assert!(!accepts(&["gzip;q=2"]));
        assert!(!accepts(&["gzip;q=0.5x"]));
        assert!(!accepts(&["gzip;q=1.001"]));
    }
}
