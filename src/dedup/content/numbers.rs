//! Language-independent content: numbers (digit grouping and decimal
//! commas folded), proper names, and the latest year a text mentions. Pure.

use std::collections::BTreeSet;

/// Numbers as written in any of our languages: `1 250 000`, `1,250,000`,
/// `38,6`, `38.6`, `9.90` all fold to digits with `.` as decimal point.
pub(super) fn numbers(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut raw = String::new();
        while i < chars.len() {
            let c = chars[i];
            let next_digit = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if c.is_ascii_digit() {
                raw.push(c);
            } else if matches!(c, ' ' | '\u{a0}' | '\u{202f}') && next_digit && group_follows(&chars, i + 1) {
                // thousands separator
            } else if matches!(c, ',' | '.') && next_digit {
                raw.push(c);
            } else {
                break;
            }
            i += 1;
        }
        // `25.10.2006` and `1.1.` are dates in the Nordic way of writing
        // them: their day and year are what an English `October 25, 2006`
        // or a Swedish `25 oktober 2006` gives.
        // `D.M.` is a date when a range or another number follows
        // (`1.1.–30.9.2006`, `1.1. - 30.9.`); `rose 3.2.` ends a sentence.
        let abbreviated = chars.get(i) == Some(&'.') && {
            let rest = chars[i + 1..].iter().skip_while(|c| **c == ' ');
            rest.take(1).any(|c| matches!(c, '–' | '—' | '-') || c.is_ascii_digit())
        };
        if let Some(parts) = date_parts(&raw, abbreviated) {
            out.extend(parts);
        } else if let Some(n) = fold_number(&raw) {
            out.insert(n);
        }
    }
    out
}

/// The day and year of a numeric date `D.M.YYYY`, or the day of `D.M.`
/// (`abbreviated`: a full stop follows). `None` for anything else.
fn date_parts(raw: &str, abbreviated: bool) -> Option<Vec<String>> {
    let parts: Vec<&str> = raw.split('.').collect();
    let day = |d: &str| d.len() <= 2 && d.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
    let month = |m: &str| m.len() <= 2 && m.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m));
    let year = |y: &str| y.len() == 4 && y.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y));
    let number = |d: &str| d.trim_start_matches('0').to_string();
    match parts.as_slice() {
        [d, m, y] if day(d) && month(m) && year(y) => Some(vec![number(d), y.to_string()]),
        [d, m] if abbreviated && day(d) && month(m) => Some(vec![number(d)]),
        _ => None,
    }
}

/// True when exactly three digits follow position `i` (a thousands group).
fn group_follows(chars: &[char], i: usize) -> bool {
    chars[i..].iter().take_while(|c| c.is_ascii_digit()).count() == 3
}

fn fold_number(raw: &str) -> Option<String> {
    let seps: Vec<(usize, char)> = raw.char_indices().filter(|(_, c)| *c == ',' || *c == '.').collect();
    let digits_only = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let value = match seps.as_slice() {
        [] => raw.to_string(),
        [(pos, _)] => {
            let tail = raw.len() - pos - 1;
            if tail == 3 && raw[..*pos].len() <= 3 && !raw[..*pos].is_empty() {
                digits_only(raw) // 1,250 or 1.250: grouping
            } else {
                format!("{}.{}", &raw[..*pos], &raw[pos + 1..]) // 38,6 or 38.6: decimal
            }
        }
        many => {
            let (last_pos, last) = *many.last()?;
            if many.iter().all(|(_, c)| *c == last) {
                digits_only(raw) // 1,250,000
            } else {
                format!("{}.{}", digits_only(&raw[..last_pos]), &raw[last_pos + 1..]) // 1.250,5
            }
        }
    };
    let v = value.trim_start_matches('0');
    let v = if v.is_empty() || v.starts_with('.') { format!("0{v}") } else { v.to_string() };
    let v = if v.contains('.') { v.trim_end_matches('0').trim_end_matches('.').to_string() } else { v };
    (v.len() >= 2 || v.parse::<u32>().is_ok_and(|n| n > 0)).then_some(v)
}

/// Capitalised words not at the start of a sentence: names of people and
/// places, organisations, products.
pub(super) fn names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut sentence_start = true;
    for word in text.split_whitespace() {
        let w = word.trim_matches(|c: char| !c.is_alphanumeric());
        if !sentence_start && w.chars().next().is_some_and(char::is_uppercase) && w.chars().nth(2).is_some() {
            out.insert(w.to_lowercase());
        }
        sentence_start = word.ends_with(['.', '!', '?', ':']) || word.is_empty();
    }
    out
}

/// The latest plausible year (1900..=2100) among the numbers, if any.
pub(super) fn latest_year(numbers: &BTreeSet<String>) -> Option<u16> {
    numbers.iter().filter_map(|n| n.parse::<u16>().ok()).filter(|y| (1900..=2100).contains(y)).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fold_across_conventions() {
        let fi = numbers("Hanke maksaa 1 250 000 euroa ja lippu 9,90 euroa. Budjetti 38,6 miljoonaa vuodelle 2027.");
        let en = numbers("The project costs EUR 1,250,000 and a ticket EUR 9.90. Budget 38.6 million for 2027.");
        assert_eq!(fi, en);
        assert!(fi.contains("1250000") && fi.contains("9.9") && fi.contains("38.6") && fi.contains("2027"));
    }

    #[test]
    fn nordic_dates_give_their_day_and_year() {
        let fi = numbers("Pörssitiedote 25.10.2006 klo 12.00: katsauskausi 1.1.–30.9.2006.");
        let en =
            numbers("Stock exchange release October 25, 2006 at 12.00: the period January 1 - September 30, 2006.");
        assert_eq!(fi, en, "{fi:?} {en:?}");
        assert!(numbers("Sales rose 3.2.").contains("3.2") && numbers("Myynti kasvoi 3,2.").contains("3.2"));
        // Not dates: decimals, grouped thousands, a version number.
        assert!(numbers("38.6 ja 1.250").contains("38.6") && numbers("1.250").contains("1250"));
        assert_eq!(numbers("versio 2.45.3").into_iter().collect::<Vec<_>>(), vec!["2453".to_string()]);
    }

    #[test]
    fn names_skip_sentence_starts() {
        let n = names("Kaupunki tiedottaa. Mukana ovat Elina Wahl ja Porvoon kaupunki sekä DVV.");
        assert!(n.contains("elina") && n.contains("wahl") && n.contains("dvv") && n.contains("porvoon"));
        assert!(!n.contains("kaupunki") && !n.contains("mukana"));
    }

    #[test]
    fn latest_year_ignores_other_numbers() {
        assert_eq!(latest_year(&numbers("Vuonna 2023 ja 2026 yhteensä 4500 euroa")), Some(2026));
        assert_eq!(latest_year(&numbers("Page 12 of 250")), None);
    }
}
