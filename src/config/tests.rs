//! Config validation: good files, and errors that name file, line and column.

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("/etc/polyfeed/feeds.toml"), text)
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn full_config_is_read() {
    let c = parse(
        r#"
[settings]
database = "state/p.db"
output_dir = "/srv/feeds"
languages = ["FI", "sv", "en_gb"]
contact = "https://example.org/ops"
interval = "2h"
min_interval = "30m"
max_body_size = "5 MiB"
max_decompressed_size = 20971520
concurrency = 4

[[source]]
url = "https://example.org/fi.xml"
name = "Esimerkki"
lang = "fi"
tags = ["a", " b "]
group = "example"
interval = "90m"

[[source]]
url = "local/en.xml"
"#,
    )
    .unwrap();
    assert_eq!(c.database, Database::Sqlite("/etc/polyfeed/state/p.db".into()));
    assert_eq!(c.output_dir, Path::new("/srv/feeds"));
    assert_eq!(c.languages, ["fi", "sv", "en-GB"]);
    assert_eq!(c.interval, Duration::from_secs(7200));
    assert_eq!(c.min_interval, Duration::from_secs(1800));
    assert_eq!(c.fetch.max_body_size, 5 * 1024 * 1024);
    assert_eq!(c.fetch.max_decompressed_size, 20 * 1024 * 1024);
    assert_eq!(c.fetch.concurrency, 4);
    assert_eq!(c.sources[0].tags, ["a", "b"]);
    assert_eq!(c.sources[0].interval, Duration::from_secs(5400));
    assert_eq!(c.sources[1].interval, Duration::from_secs(7200), "the default interval applies");
    assert_eq!(c.sources[1].location, Location::File(PathBuf::from("/etc/polyfeed/local/en.xml")));
    assert_eq!(c.sources[1].key, "file:local/en.xml");
}

#[test]
fn defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.database, Database::Sqlite("/etc/polyfeed/polyfeed.db".into()));
    assert_eq!(c.fetch.max_body_size, 10 * 1024 * 1024);
    assert_eq!(c.interval, Duration::from_secs(3600));
    assert!(c.sources.is_empty());
}

#[test]
fn unknown_keys_are_located() {
    let e = err("[settings]\ninterval = \"1h\"\nintervall = \"2h\"\n");
    assert!(e.starts_with("/etc/polyfeed/feeds.toml:3:1: unknown field `intervall`"), "{e}");
    let e = err("[[source]]\nurl = \"https://a.example/\"\nlanguage = \"fi\"\n");
    assert!(e.starts_with("/etc/polyfeed/feeds.toml:3:1: unknown field `language`"), "{e}");
}

#[test]
fn wrong_types_are_located() {
    let e = err("[[source]]\nurl = \"https://a.example/\"\ntags = \"news\"\n");
    assert!(e.starts_with("/etc/polyfeed/feeds.toml:3:8: invalid type"), "{e}");
    let e = err("[settings]\nconcurrency = \"many\"\n");
    assert!(e.contains(":2:15: invalid type"), "{e}");
}

#[test]
fn bad_values_are_located() {
    let e = err("[[source]]\nurl = \"https://a.example/\"\nlang = \"finnish language\"\n");
    assert!(e.starts_with("/etc/polyfeed/feeds.toml:3:8: invalid language tag"), "{e}");
    let e = err("[settings]\ninterval = \"soon\"\n");
    assert!(e.starts_with("/etc/polyfeed/feeds.toml:2:12: invalid interval"), "{e}");
    let e = err("[[source]]\nurl = \"gopher://a.example/\"\n");
    assert!(e.contains(":2:7: unsupported URL scheme \"gopher\""), "{e}");
    let e = err("[[source]]\nurl = \"https://a.example/\"\n[[source]]\nurl = \"https://a.example/\"\n");
    assert!(e.contains(":4:7: duplicate source url"), "{e}");
    let e = err("[settings]\nmax_body_size = \"10 parsecs\"\n");
    assert!(e.contains(":2:17: invalid max_body_size"), "{e}");
    let e = err("[settings]\nid_authority = \"example.org\"\n");
    assert!(e.contains(":2:16: invalid id_authority"), "{e}");
    let e = err("[settings]\nid_authority = \"http://example.org/,2026\"\n");
    assert!(e.contains("invalid id_authority"), "{e}");
    let e = err("[settings]\nid_authority = \"example.org,2026-13\"\n");
    assert!(e.contains("invalid id_authority"), "{e}");
    let e = err("[[source]]\nname = \"no url\"\n");
    assert!(e.contains("missing field `url`"), "{e}");
}

#[test]
fn id_authority_is_an_rfc_4151_tagging_entity() {
    let c = parse("[settings]\nid_authority = \"Feeds.Example.org,2026\"\n").unwrap();
    assert_eq!(c.publish.id_authority.as_deref(), Some("feeds.example.org,2026"));
    for ok in ["example.org,2026-05", "me@example.org,2026-05-01", "a-b.example,1999"] {
        assert!(tag_entity(ok).is_some(), "{ok}");
    }
    for bad in ["example.org", "example,2026", "example.org,26", "example.org,2026-02-30", "a b@example.org,2026"] {
        assert!(tag_entity(bad).is_none(), "{bad}");
    }
    assert_eq!(parse("").unwrap().publish.id_authority, None);
}

#[test]
fn syntax_errors_are_located() {
    let e = err("[settings\n");
    assert!(e.starts_with("/etc/polyfeed/feeds.toml:1:"), "{e}");
}

#[test]
fn id_patterns_are_compiled_and_checked() {
    let c = parse(
        "[[source]]\nurl = \"https://a.example/fi.xml\"\nid_pattern = '/news/(?<id>\\d+)'\nfollow_pages = true\n",
    )
    .unwrap();
    let p = c.sources[0].id_pattern.as_ref().unwrap();
    assert_eq!(p.pattern, "/news/(?<id>\\d+)");
    assert!(c.sources[0].follow_pages);
    let e = err("[[source]]\nurl = \"https://a.example/\"\nid_pattern = '/news/(\\d+'\n");
    assert!(e.starts_with("/etc/polyfeed/feeds.toml:3:14: invalid id_pattern"), "{e}");
    let e = err("[[source]]\nurl = \"https://a.example/\"\nid_pattern = '/news/\\d+'\n");
    assert!(e.contains(":3:14: invalid id_pattern: it needs a capture group"), "{e}");
    // A pattern that compiles to more than the size limit is refused, not built.
    let e = err("[[source]]\nurl = \"https://a.example/\"\nid_pattern = '(\\w{1000}){1000}'\n");
    assert!(e.contains(":3:14: invalid id_pattern"), "{e}");
    let e = err(&format!("[[source]]\nurl = \"https://a.example/\"\nid_pattern = '({})'\n", "a".repeat(2000)));
    assert!(e.contains("longer than 1000 bytes"), "{e}");
}

#[test]
fn overrides_are_read_and_checked() {
    let c = parse(
        "[[merge]]\nurls = [\"https://a.example/fi/1\", \"https://a.example/sv/1\"]\n\n\
         [[split]]\nurls = [\"https://a.example/fi/2\", \"https://a.example/sv/2\"]\n",
    )
    .unwrap();
    assert_eq!(c.merges.len(), 1);
    assert_eq!(c.merges[0].urls, ["https://a.example/fi/1", "https://a.example/sv/1"]);
    assert_eq!(c.splits[0].urls.len(), 2);
    assert!(c.splits[0].line >= 4, "{:?}", c.splits[0]);
    let e = err("[[merge]]\nurls = [\"https://a.example/fi/1\", \"not a url\"]\n");
    assert!(e.contains(":2:35: invalid URL in [[merge]]"), "{e}");
    let e = err("[[split]]\nurls = [\"https://a.example/fi/1\"]\n");
    assert!(e.contains("[[split]] needs at least two urls"), "{e}");
    let e = err("[[merge]]\nurls = [\"https://a.example/x\", \"https://a.example/y\"]\nwhy = 1\n");
    assert!(e.contains(":3:1: unknown field `why`"), "{e}");
    let e = err("[[merge]]\nurls = [\"https://a.example/x\", \"https://a.example/y\"]\n\
         [[split]]\nurls = [\"https://www.a.example/x/\", \"https://a.example/y\"]\n");
    assert!(e.contains("separates URLs that the [[merge]] on line"), "{e}");
}
