//! Tags: a story's categories and its sources' tags, mapped through the
//! `[tags.NAME]` tables of the config. Matching is case- and
//! accent-insensitive after Unicode normalisation. Pure.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::config::TagConfig;

/// The matching key of a name: NFKD, combining marks removed, lower-case,
/// whitespace folded. `Expertstöd`, `EXPERTSTOD` and `expertstöd ` match.
pub fn key(name: &str) -> String {
    let folded: String = name.nfkd().filter(|c| !is_combining_mark(*c)).collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A URL- and file-name-safe slug: ASCII letters and digits joined by `-`
/// where possible; other letters (e.g. Cyrillic) are kept lower-cased.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in key(name).chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(80).collect()
}

/// Maps category names to tag slugs.
#[derive(Debug, Clone)]
pub struct Tagger {
    by_key: HashMap<String, usize>,
    tags: Vec<TagConfig>,
    untagged: bool,
}

impl Tagger {
    /// `untagged`: categories without a table become tags of their own.
    pub fn new(tags: &[TagConfig], untagged: bool) -> Tagger {
        let mut by_key = HashMap::new();
        for (i, t) in tags.iter().enumerate() {
            by_key.insert(key(&t.slug), i);
            for a in &t.aliases {
                by_key.entry(key(a)).or_insert(i);
            }
        }
        Tagger { by_key, tags: tags.to_vec(), untagged }
    }

    /// The slug a name maps to, if it is published.
    pub fn slug(&self, name: &str) -> Option<String> {
        match self.by_key.get(&key(name)) {
            Some(&i) => Some(self.tags[i].slug.clone()),
            None if self.untagged => Some(slugify(name)).filter(|s| !s.is_empty()),
            None => None,
        }
    }

    /// The sorted, de-duplicated slugs of a set of names.
    pub fn slugs<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = names.into_iter().filter_map(|n| self.slug(n)).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The title of a tag for a language preference (`None`: the slug's
    /// best-known name).
    pub fn title(&self, slug: &str, langs: &[String]) -> Option<String> {
        let t = self.tags.iter().find(|t| t.slug == slug)?;
        langs
            .iter()
            .find_map(|l| t.titles.get(l).or_else(|| t.titles.get(crate::lang::primary(l))))
            .or_else(|| t.titles.get(""))
            .or_else(|| t.titles.values().next())
            .cloned()
            .or_else(|| t.aliases.first().cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(slug: &str, aliases: &[&str]) -> TagConfig {
        TagConfig {
            slug: slug.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            titles: [("fi".to_string(), "Asiantuntijatuki".to_string()), ("sv".into(), "Expertstöd".into())].into(),
        }
    }

    #[test]
    fn keys_and_slugs_fold_case_and_accents() {
        assert_eq!(key("  Expertstöd "), "expertstod");
        assert_eq!(key("EXPERTSTÖD"), key("expertstod"));
        assert_eq!(slugify("Expert support / Tuki"), "expert-support-tuki");
        assert_eq!(slugify("Ääniteknologia"), "aaniteknologia");
        assert_eq!(slugify("!!!"), "");
    }

    #[test]
    fn aliases_map_to_one_slug() {
        let t = Tagger::new(&[tag("expert-support", &["Asiantuntijatuki", "Expertstöd", "Expert support"])], true);
        assert_eq!(
            t.slugs(["asiantuntijatuki", "EXPERTSTOD", "Expert Support", "Liikenne"]),
            ["expert-support", "liikenne"]
        );
        let strict = Tagger::new(&[tag("expert-support", &["Expertstöd"])], false);
        assert_eq!(strict.slugs(["expertstöd", "Liikenne"]), ["expert-support"]);
        assert_eq!(t.title("expert-support", &["sv".into(), "fi".into()]).as_deref(), Some("Expertstöd"));
        assert_eq!(t.title("expert-support", &["en-GB".into(), "fi".into()]).as_deref(), Some("Asiantuntijatuki"));
        assert_eq!(t.title("liikenne", &[]), None);
    }
}
