//! temp dump
use chrono::{TimeZone, Utc};
#[test]
fn dump() {
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    for n in names {
        if n.ends_with(".md") || n.ends_with(".py") || n.ends_with(".gz") { continue; }
        let bytes = std::fs::read(dir.join(&n)).unwrap();
        let base = if n.ends_with(".html") { "https://www.example.com/uutiset/" } else { "https://feeds.example.net/feed" };
        let t = std::time::Instant::now();
        let r = polyfeed::parse::parse(&bytes, None, Some(base));
        println!("===== {n} ({:?})", t.elapsed());
        match r {
            Err(e) => println!("ERR {e:?}"),
            Ok(p) => {
                println!("enc={} warn={:?}", p.encoding, p.warnings);
                let mut f = p.feed.clone(); f.entries.clear();
                println!("{f:#?}");
                let (es, w) = polyfeed::normalise::feed(&p.feed, &polyfeed::normalise::Context { base_url: Some(base), source_lang: None, now });
                println!("nwarn={w:?}");
                for (raw, e) in p.feed.entries.iter().zip(es) { println!("RAW {raw:#?}\nENTRY {e:#?}"); }
            }
        }
    }
}
