//! Tests of content features and similarity, on small snippets written for
//! them and a tiny hand-made lexicon (no dictionary needed).

use super::*;

const TABLE: &str = "fi\tkaupunki\tcity:0.6 town:0.4\nfi\tsaada\treceive:0.7 get:0.3\nfi\tkirjasto\tlibrary:1.0\n\
fi\tsilta\tbridge:1.0\nfi\tuusi\tnew:1.0\nfi\trakentaa\tbuild:1.0\nfi\tvuosi\tyear:1.0\nfi\tkertoa\tsay:0.5 tell:0.5\n\
sv\tstad\tcity:0.5 town:0.5\nsv\tbro\tbridge:1.0\nsv\tny\tnew:1.0\nsv\tbygga\tbuild:1.0\nsv\tår\tyear:1.0\n\
fr\tpont\tbridge:1.0\nfr\tnouveau\tnew:1.0\nfr\tconstruire\tbuild:1.0\nfr\tville\tcity:0.6 town:0.4\n\
de\tbrücke\tbridge:1.0\nde\tneu\tnew:1.0\nde\tbauen\tbuild:1.0\nde\tstadt\tcity:0.5 town:0.5\n";

fn lex() -> Lexicon {
    Lexicon::parse(TABLE, "test")
}

const BRIDGE_EN: (&str, &str) = (
    "The city builds a new bridge",
    "The city of Porvoo builds a new bridge over the river in 2027.\n\nThe bridge costs EUR 4,500,000.",
);
const BRIDGE_FI: (&str, &str) = (
    "Kaupunki rakentaa uuden sillan",
    "Porvoon kaupunki rakentaa uuden sillan joen yli vuonna 2027.\n\nSilta maksaa 4 500 000 euroa.",
);
const BRIDGE_SV: (&str, &str) =
    ("Staden bygger en ny bro", "Borgå stad bygger en ny bro över ån år 2027.\n\nBron kostar 4 500 000 euro.");
const BRIDGE_FR: (&str, &str) = (
    "La ville construit un nouveau pont",
    "La ville de Porvoo construit un nouveau pont sur la rivière en 2027.\n\nLe pont coûte 4 500 000 euros.",
);
const BRIDGE_DE: (&str, &str) = (
    "Die Stadt baut eine neue Brücke",
    "Die Stadt Porvoo baut im Jahr 2027 eine neue Brücke über den Fluss.\n\nDie Brücke kostet 4.500.000 Euro.",
);
const LIBRARY_EN: (&str, &str) = (
    "Library opening hours in winter",
    "The main library is open on Sundays from 10 to 16 during December and January.\n\nThe mobile library does not run.",
);

fn f(lang: &str, (title, text): (&str, &str)) -> ContentFeatures {
    content_features_with(&lex(), lang, title, text)
}

#[test]
fn translations_score_above_the_threshold_and_other_posts_below() {
    let en = f("en", BRIDGE_EN);
    for (lang, doc) in [("fi", BRIDGE_FI), ("sv", BRIDGE_SV), ("fr", BRIDGE_FR), ("de", BRIDGE_DE)] {
        let (same, parts) = content_similarity(&f(lang, doc), &en);
        assert!(same > crate::dedup::CONTENT_THRESHOLD, "{lang}: {same} {parts:?}");
    }
    let (diff, parts) = content_similarity(&f("fi", BRIDGE_FI), &f("en", LIBRARY_EN));
    assert!(diff < crate::dedup::CONTENT_THRESHOLD / 2.0, "{diff} {parts:?}");
}

#[test]
fn features_record_the_lexicon_and_paragraphs() {
    let fi = f("fi", BRIDGE_FI);
    assert_eq!(fi.lexicon.as_deref(), Some("test"));
    assert_eq!(fi.paragraph_concepts.len(), 3, "title and two paragraphs");
    assert_eq!(fi.paragraph_chars.len(), 3);
    assert_eq!(fi.latest_year, Some(2027));
    assert!(fi.numbers.contains("4500000"));
    let json = serde_json::to_string(&fi).unwrap();
    assert_eq!(serde_json::from_str::<ContentFeatures>(&json).unwrap(), fi);
}

#[test]
fn languages_without_a_dictionary_fall_back_to_numbers_and_names() {
    let et = content_features_with(&lex(), "et", "Linn ehitab uue silla", "Porvoo linn ehitab 2027. aastal uue silla.");
    assert!(et.lexicon.is_none() && et.concepts.is_empty());
    let (score, parts) = content_similarity(&et, &f("en", BRIDGE_EN));
    assert!(parts.iter().all(|(n, _)| *n != "concept cosine"), "{parts:?}");
    assert!(score < crate::dedup::CONTENT_THRESHOLD, "{score}");
    let none = content_features_with(&Lexicon::default(), "fi", BRIDGE_FI.0, BRIDGE_FI.1);
    assert!(none.lexicon.is_none());
}

#[test]
fn old_stored_features_still_deserialise() {
    let old = r#"{"numbers":["2027"],"names":["porvoo"],"chars":40,"paragraphs":1}"#;
    let f: ContentFeatures = serde_json::from_str(old).unwrap();
    assert!(f.lexicon.is_none() && f.paragraph_chars.is_empty());
}

#[test]
fn differing_latest_years_halve_the_score() {
    let a = f("en", ("Annual report 2025", "The city published its annual report for 2025."));
    let b = f("fi", ("Vuosikertomus 2026", "Kaupunki julkaisi vuosikertomuksen vuodelta 2026."));
    let (_, parts) = content_similarity(&a, &b);
    assert!(parts.contains(&("latest years differ", 0.5)), "{parts:?}");
}

#[test]
fn norwegian_bokmal_and_nynorsk_read_the_norwegian_table() {
    let lex = Lexicon::parse("no\tbibliotek\tlibrary:1.0\nno\tåpne\topen:1.0\n", "t");
    for lang in ["no", "nb", "nn"] {
        let f = content_features_with(&lex, lang, "Biblioteket åpner", "Nytt bibliotek åpner i byen.");
        assert_eq!(f.lexicon.as_deref(), Some("t"), "{lang}");
        assert!(!f.concepts.is_empty(), "{lang}");
    }
}

/// Two companies' annual figures in one vocabulary: the same words, none of
/// the same figures or names (generic capitalised words such as `EUR` or
/// `CEO` count as names, so the rule is narrow by design: it fired on
/// news-dev only across languages). Translations of one release keep both.
#[test]
fn texts_sharing_no_figures_and_no_names_are_damped() {
    let report = |company: &str, ceo: &str, figures: [&str; 5]| {
        format!(
            "{company} reports net sales of {} million euros for the year, and operating profit of {} million euros.\n\n\
Earnings per share were {} euros; the board proposes a dividend of {} euros. Order intake grew by {} percent.\n\n\
The chief executive, {ceo}, says that the year ended well for {company}.",
            figures[0], figures[1], figures[2], figures[3], figures[4]
        )
    };
    let a = f(
        "en",
        (
            "Financial statements release",
            &report("Kivikko Group", "Aino Lehtola", ["412.5", "29.8", "0.81", "0.45", "12"]),
        ),
    );
    let b = f(
        "en",
        (
            "Financial statements release",
            &report("Tervala Corporation", "Jukka Rinne", ["2,140", "188", "1.37", "0.90", "7"]),
        ),
    );
    let (damped, parts) = content_similarity(&a, &b);
    assert!(parts.iter().any(|p| p.0 == "no shared figures or names"), "{parts:?}");
    let same = f(
        "en",
        (
            "Financial statements release",
            &report("Kivikko Group", "Aino Lehtola", ["412.5", "29.8", "0.81", "0.45", "12"]),
        ),
    );
    let (kept, parts) = content_similarity(&a, &same);
    assert!(!parts.iter().any(|p| p.0 == "no shared figures or names"), "{parts:?}");
    assert!(damped < kept / 2.0, "{damped} vs {kept}");
    // Texts with few figures (help pages, short posts) are never judged so.
    let (_, parts) = content_similarity(&f("en", BRIDGE_EN), &f("en", LIBRARY_EN));
    assert!(!parts.iter().any(|p| p.0 == "no shared figures or names"), "{parts:?}");
}

/// Two texts that share most of many figures keep their score when their
/// paragraphs were broken differently (a table flattened on one side); a
/// text with few figures is still judged by its shape.
#[test]
fn shared_figures_vouch_for_a_shape_broken_differently() {
    let figures = "Net sales were 412.5 million euros (380.9 million), up 8.3 percent. Operating profit was 36.2 \
million (29.8 million). Order intake rose to 518 million. Personnel at the end of the period: 2,140.";
    let one_block = ("Interim report", format!("{figures} The outlook for 2026 is unchanged."));
    let broken = (
        "Interim report",
        figures.replace(". ", ".\n\n").replace("unchanged.", "unchanged") + "\n\nThe outlook for 2026 is unchanged.",
    );
    let (a, b) = (f("en", ("Interim report", &one_block.1)), f("fi", (broken.0, &broken.1)));
    let (score, parts) = content_similarity(&a, &b);
    let shape = parts.iter().find(|p| p.0 == "paragraph shape").expect("short texts keep their shape").1;
    let vouched = parts.iter().find(|p| p.0 == "shared figures vouch for the shape").map(|p| p.1);
    assert!(vouched.is_some_and(|v| v > shape), "{parts:?}");
    // Without their figures, the same texts are held to their shape.
    let strip = |t: &str| t.chars().filter(|c| !c.is_ascii_digit()).collect::<String>();
    let (a2, b2) = (f("en", ("Interim report", &strip(&one_block.1))), f("fi", (broken.0, &strip(&broken.1))));
    let (bare, parts) = content_similarity(&a2, &b2);
    assert!(!parts.iter().any(|p| p.0 == "shared figures vouch for the shape"), "{parts:?}");
    assert!(bare < score, "{bare} vs {score}");
}

#[test]
fn a_score_with_a_floor_is_exact_at_or_above_it_and_below_it_otherwise() {
    let docs = [("en", BRIDGE_EN), ("fi", BRIDGE_FI), ("sv", BRIDGE_SV), ("fr", BRIDGE_FR), ("en", LIBRARY_EN)];
    let feats: Vec<ContentFeatures> = docs.iter().map(|(l, d)| f(l, *d)).collect();
    let mut skipped = 0;
    for a in &feats {
        for b in &feats {
            let (exact, _) = content_similarity(a, b);
            assert_eq!(content_score(a, b, |_| true), exact);
            for floor in [0.0, exact, exact * 0.9, exact * 1.01 + 1e-9, 0.5, 0.99] {
                let got = content_score(a, b, |c| c >= floor);
                if exact >= floor {
                    assert_eq!(got, exact, "floor {floor}");
                } else {
                    assert!(got < floor && got >= exact, "floor {floor}: {got} against {exact}");
                    skipped += usize::from(got != exact);
                }
            }
        }
    }
    // The bound is not idle: some alignments were skipped.
    assert!(skipped > 0);
}
