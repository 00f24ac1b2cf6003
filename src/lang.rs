//! Language tags: BCP 47 normalisation and text-based detection (pure).

/// Normalises a BCP 47 tag: primary subtag lower-case, script title-case,
/// region upper-case, `_` accepted as separator. Returns `None` when the text
/// is not a plausible tag.
pub fn normalise_tag(tag: &str) -> Option<String> {
    let tag = tag.trim().replace('_', "-");
    let mut parts = tag.split('-');
    let primary = parts.next()?;
    if !(2..=8).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = primary.to_ascii_lowercase();
    for part in parts {
        if part.is_empty() || part.len() > 8 || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        out.push('-');
        match part.len() {
            2 if part.chars().all(|c| c.is_ascii_alphabetic()) => out.push_str(&part.to_ascii_uppercase()),
            4 if part.chars().all(|c| c.is_ascii_alphabetic()) => {
                out.push_str(&part[..1].to_ascii_uppercase());
                out.push_str(&part[1..].to_ascii_lowercase());
            }
            _ => out.push_str(&part.to_ascii_lowercase()),
        }
    }
    Some(out)
}

/// The primary language subtag of a normalised tag (`"en-GB"` -> `"en"`).
pub fn primary(tag: &str) -> &str {
    tag.split('-').next().unwrap_or(tag)
}

/// Minimum text length (characters) before detection is attempted.
const MIN_DETECT_CHARS: usize = 40;

/// Detects the language of a text; `None` when the text is short or the
/// detector is not confident. Returns an ISO 639-1 code where one exists.
pub fn detect(text: &str) -> Option<String> {
    if text.chars().filter(|c| c.is_alphabetic()).count() < MIN_DETECT_CHARS {
        return None;
    }
    let info = whatlang::detect(text)?;
    if !info.is_reliable() && info.confidence() < 0.5 {
        return None;
    }
    let code3 = info.lang().code();
    Some(iso639_1(code3).unwrap_or(code3).to_string())
}

/// Maps the ISO 639-3 codes whatlang returns to ISO 639-1 where one exists.
fn iso639_1(code3: &str) -> Option<&'static str> {
    const MAP: &[(&str, &str)] = &[
        ("afr", "af"),
        ("aka", "ak"),
        ("amh", "am"),
        ("ara", "ar"),
        ("aze", "az"),
        ("bel", "be"),
        ("ben", "bn"),
        ("bul", "bg"),
        ("cat", "ca"),
        ("ces", "cs"),
        ("cmn", "zh"),
        ("dan", "da"),
        ("deu", "de"),
        ("ell", "el"),
        ("eng", "en"),
        ("epo", "eo"),
        ("est", "et"),
        ("fin", "fi"),
        ("fra", "fr"),
        ("guj", "gu"),
        ("heb", "he"),
        ("hin", "hi"),
        ("hrv", "hr"),
        ("hun", "hu"),
        ("hye", "hy"),
        ("ind", "id"),
        ("ita", "it"),
        ("jav", "jv"),
        ("jpn", "ja"),
        ("kan", "kn"),
        ("kat", "ka"),
        ("khm", "km"),
        ("kor", "ko"),
        ("lat", "la"),
        ("lav", "lv"),
        ("lit", "lt"),
        ("mal", "ml"),
        ("mar", "mr"),
        ("mkd", "mk"),
        ("mya", "my"),
        ("nep", "ne"),
        ("nld", "nl"),
        ("nob", "nb"),
        ("ori", "or"),
        ("pan", "pa"),
        ("pes", "fa"),
        ("pol", "pl"),
        ("por", "pt"),
        ("ron", "ro"),
        ("rus", "ru"),
        ("sin", "si"),
        ("slk", "sk"),
        ("slv", "sl"),
        ("sna", "sn"),
        ("spa", "es"),
        ("srp", "sr"),
        ("swe", "sv"),
        ("tam", "ta"),
        ("tel", "te"),
        ("tgl", "tl"),
        ("tha", "th"),
        ("tuk", "tk"),
        ("tur", "tr"),
        ("ukr", "uk"),
        ("urd", "ur"),
        ("uzb", "uz"),
        ("vie", "vi"),
        ("yid", "yi"),
        ("zul", "zu"),
    ];
    MAP.iter().find(|(c3, _)| *c3 == code3).map(|(_, c1)| *c1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised() {
        assert_eq!(normalise_tag("FI").as_deref(), Some("fi"));
        assert_eq!(normalise_tag("en_gb").as_deref(), Some("en-GB"));
        assert_eq!(normalise_tag("zh-hant-tw").as_deref(), Some("zh-Hant-TW"));
        assert_eq!(normalise_tag("sv-FI").as_deref(), Some("sv-FI"));
        assert_eq!(normalise_tag("").as_deref(), None);
        assert_eq!(normalise_tag("f").as_deref(), None);
        assert_eq!(normalise_tag("suomi kieli").as_deref(), None);
        assert_eq!(primary("en-GB"), "en");
    }

    #[test]
    fn detects_finnish_swedish_english() {
        let fi = "Kaupunginvaltuusto päätti kokouksessaan, että uusi koulu rakennetaan keskustaan ensi vuonna.";
        let sv = "Stadsfullmäktige beslöt vid sitt möte att den nya skolan byggs i centrum nästa år.";
        let en = "The city council decided at its meeting that the new school will be built downtown next year.";
        assert_eq!(detect(fi).as_deref(), Some("fi"));
        assert_eq!(detect(sv).as_deref(), Some("sv"));
        assert_eq!(detect(en).as_deref(), Some("en"));
        assert_eq!(detect("Hei"), None);
    }
}
