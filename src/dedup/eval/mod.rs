//! The assignment loop in memory, as the store runs it incrementally:
//! entries in publication order, each decided by [`super::decide`] against the
//! earlier entries within [`WINDOW_DAYS`] and the earlier entries that
//! share an identity key with it at any date, with their current story
//! and that story's languages. Used by
//! `polyfeed eval-dedup`, tests and the micro-benchmark.
//!
//! - `pairs`: pairwise precision, recall and F1 against gold groups.

pub mod pairs;

use chrono::Duration;

use super::{CONTENT_THRESHOLD, Candidate, Decision, Features, WINDOW_DAYS, decide_with};

/// Assigns every entry to a story. `entries` must be sorted by publication
/// time (ties keep their order, as in ingest order). Returns, per entry, the
/// index of the first entry of its story (after any merges its version
/// links made), and the decision taken for it.
pub fn assign(entries: &[Features]) -> (Vec<usize>, Vec<Decision>) {
    assign_with(entries, CONTENT_THRESHOLD)
}

/// [`assign`] with another content threshold.
pub fn assign_with(entries: &[Features], content_threshold: f64) -> (Vec<usize>, Vec<Decision>) {
    let window = Duration::days(WINDOW_DAYS);
    let mut candidates: Vec<Candidate> = Vec::with_capacity(entries.len());
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); entries.len()];
    let mut story = Vec::with_capacity(entries.len());
    let mut decisions = Vec::with_capacity(entries.len());
    let mut by_key: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
    let mut lo = 0;
    for (i, f) in entries.iter().enumerate() {
        while f.published - entries[lo].published > window {
            lo += 1;
        }
        // As the store: key matches (at most KEY_MATCHES per key) before the window.
        let mut found: Vec<usize> = f
            .lookups()
            .iter()
            .filter_map(|k| by_key.get(k))
            .flat_map(|ids| ids.iter().take(KEY_MATCHES).copied())
            .filter(|&c| c < lo)
            .collect();
        found.sort_unstable();
        found.dedup();
        let d = if found.is_empty() {
            decide_with(f, &candidates[lo..i], content_threshold)
        } else {
            let pool: Vec<Candidate> =
                found.iter().map(|&c| candidates[c].clone()).chain(candidates[lo..i].iter().cloned()).collect();
            decide_with(f, &pool, content_threshold)
        };
        for k in f.keys() {
            by_key.entry(k).or_default().push(i);
        }
        if let Decision::Version { story_id, displaces: Some(c), .. } = &d {
            // As the store: the story parts by language; the part holding its
            // first entry keeps the id, the other is a story of its own.
            let s: usize = story_id.parse().expect("story ids are entry indices");
            let lang = |m: usize| candidates[m].features.lang.clone();
            let c_lang = lang(*c as usize);
            let founder_with_c = lang(s) == c_lang;
            let (gone, stay): (Vec<usize>, Vec<usize>) =
                members[s].iter().partition(|&&m| (lang(m) == c_lang) != founder_with_c);
            // `decide` names a displaced version only in a story of two languages: both parts have members.
            let root = *gone.iter().min().expect("a displaced part has members");
            for &m in &gone {
                story[m] = root;
                candidates[m].story_id = root.to_string().into();
            }
            members[s] = stay;
            members[root] = gone;
            for part in [s, root] {
                let langs: std::sync::Arc<[String]> = story_langs(&candidates, &members[part]).into();
                for &m in &members[part] {
                    candidates[m].story_langs = langs.clone();
                }
            }
        }
        let s = match &d {
            Decision::New => i,
            Decision::Version { matched, displaces: Some(_), .. } => story[*matched as usize],
            Decision::Duplicate { story_id, .. } | Decision::Version { story_id, .. } => {
                story_id.parse().expect("story ids are entry indices")
            }
        };
        members[s].push(i);
        story.push(s);
        candidates.push(Candidate {
            entry_id: i as i64,
            story_id: s.to_string().into(),
            story_langs: Default::default(),
            features: std::sync::Arc::new(f.clone()),
        });
        let mut s = s;
        if let Decision::Version { links, .. } = &d {
            // As the store: the older story (here: the earlier first entry) keeps its id.
            for l in links {
                let other: usize = l.story_id.parse().expect("story ids are entry indices");
                let (keep, gone) = (s.min(other), s.max(other));
                for m in std::mem::take(&mut members[gone]) {
                    story[m] = keep;
                    candidates[m].story_id = keep.to_string().into();
                    members[keep].push(m);
                }
                s = keep;
            }
        }
        let langs: std::sync::Arc<[String]> = story_langs(&candidates, &members[s]).into();
        for &m in &members[s] {
            candidates[m].story_langs = langs.clone();
        }
        decisions.push(d);
    }
    (story, decisions)
}

/// Entries the store reads per identity key.
const KEY_MATCHES: usize = 50;

/// The languages of a story's members, sorted.
fn story_langs(candidates: &[Candidate], members: &[usize]) -> Vec<String> {
    let mut langs: Vec<String> = members.iter().filter_map(|&m| candidates[m].features.lang.clone()).collect();
    langs.sort();
    langs.dedup();
    langs
}

/// Stories as clusters of positions, in order of their first entry.
pub fn clusters(story: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); story.len()];
    for (i, &s) in story.iter().enumerate() {
        out[s].push(i);
    }
    out.into_iter().filter(|c| !c.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::content::{Lexicon, content_features_with};
    use chrono::{TimeZone, Utc};

    const TABLE: &str = "fi\tkirjasto\tlibrary:1.0\nfi\tavata\topen:1.0\nfi\tuusi\tnew:1.0\nfi\tsilta\tbridge:1.0\n\
fi\trakentaa\tbuild:1.0\nfi\tvuosi\tyear:1.0\nfi\tmaanantai\tmonday:1.0\nfi\tkaupunki\tcity:0.6 town:0.4\n";

    fn entry(lang: &str, hour: i64, title: &str, text: &str) -> Features {
        let lex = Lexicon::parse(TABLE, "t");
        Features {
            lang: Some(lang.into()),
            published: Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap() + Duration::hours(hour),
            source_id: if lang == "fi" { 1 } else { 2 },
            content: content_features_with(&lex, lang, title, text),
            ..Features::default()
        }
    }

    #[test]
    fn translations_join_and_distractors_stay_apart() {
        let docs = [
            entry("en", 0, "New library opens", "The city opens the new library on Monday.\n\nIt was built in 2025."),
            entry("en", 1, "New bridge built", "The city builds a new bridge next year.\n\nWork starts in 2027."),
            entry(
                "fi",
                2,
                "Uusi kirjasto avataan",
                "Kaupunki avaa uuden kirjaston maanantaina.\n\nSe rakennettiin 2025.",
            ),
        ];
        let (story, decisions) = assign(&docs);
        assert_eq!(story, vec![0, 1, 0], "{decisions:?}");
        assert_eq!(clusters(&story), vec![vec![0, 2], vec![1]]);
    }
}
