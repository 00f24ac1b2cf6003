//! `add`, `remove` and `import-opml` end to end: a fixture site on a
//! loopback server (pages in Finnish, Swedish and English linked by
//! hreflang, feeds that are translations of each other), the real binary,
//! real feeds.toml files with comments that must survive byte for byte, and
//! a real SQLite file for `poll`, `stories` and `remove --purge`.

use crate::common;

use common::{Env, Response, Server, stderr, stdout};

fn exit(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// One language version of the fixture site.
struct Lang {
    code: &'static str,
    dir: &'static str,
    title: &'static str,
    /// (CMS id, slug, title, text, hour)
    posts: [(&'static str, &'static str, &'static str, &'static str, u8); 2],
}

const LANGS: [Lang; 3] = [
    Lang {
        code: "fi",
        dir: "fi",
        title: "Porvoo – uutiset",
        posts: [
            (
                "2291045",
                "valtuusto-hyvaksyi-talousarvion",
                "Valtuusto hyväksyi vuoden 2027 talousarvion",
                "Kaupunginvaltuusto hyväksyi 120,5 miljoonan euron talousarvion äänin 43–8. Pormestari Anna Virtanen kiitti.",
                10,
            ),
            (
                "2291102",
                "mannerheimintien-korjaus",
                "Mannerheimintien korjaus alkaa 3.11.",
                "Mannerheimintien korjaustyöt kestävät 14 viikkoa ja maksavat 2,4 miljoonaa euroa.",
                8,
            ),
        ],
    },
    Lang {
        code: "sv",
        dir: "sv",
        title: "Borgå – nyheter",
        posts: [
            (
                "2291045",
                "fullmaktige-godkande-budgeten",
                "Fullmäktige godkände budgeten för 2027",
                "Stadsfullmäktige godkände en budget på 120,5 miljoner euro med rösterna 43–8. Borgmästare Anna Virtanen tackade.",
                11,
            ),
            (
                "2291102",
                "reparationen-av-mannerheimvagen",
                "Reparationen av Mannerheimvägen börjar 3.11",
                "Reparationen av Mannerheimvägen tar 14 veckor och kostar 2,4 miljoner euro.",
                9,
            ),
        ],
    },
    Lang {
        code: "en",
        dir: "en",
        title: "Porvoo – news",
        posts: [
            (
                "2291045",
                "council-approves-budget",
                "Council approves the 2027 budget",
                "The city council approved a budget of 120.5 million euros by 43 votes to 8. Mayor Anna Virtanen thanked them.",
                12,
            ),
            (
                "2291102",
                "mannerheimintie-repairs",
                "Repairs on Mannerheimintie start on 3 November",
                "The repairs on Mannerheimintie take 14 weeks and cost 2.4 million euros.",
                10,
            ),
        ],
    },
];

fn post_url(base: &str, l: &Lang, i: usize) -> String {
    let (id, slug, ..) = l.posts[i];
    format!("{base}/{}/uutiset/-/asset_publisher/{id}/{slug}", l.dir)
}

/// An RSS feed for one language; its items link to their translations with
/// `atom:link rel="alternate" hreflang`. The English feed names no language
/// (its page does).
fn feed(base: &str, l: &Lang) -> String {
    let mut items = String::new();
    for (i, (id, _, title, text, hour)) in l.posts.iter().enumerate() {
        let alternates: String = LANGS
            .iter()
            .filter(|o| o.code != l.code)
            .map(|o| {
                format!("<atom:link rel=\"alternate\" hreflang=\"{}\" href=\"{}\"/>", o.code, post_url(base, o, i))
            })
            .collect();
        items.push_str(&format!(
            "<item><title>{title}</title><link>{link}</link><guid isPermaLink=\"false\">{id}-{code}</guid>\
             <pubDate>Mon, 02 Nov 2026 {hour:02}:00:00 GMT</pubDate><description>{text}</description>{alternates}</item>",
            link = post_url(base, l, i),
            code = l.code,
        ));
    }
    let language = if l.code == "en" { String::new() } else { format!("<language>{}</language>", l.code) };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\
         <channel><title>{}</title><link>{base}/{}/</link>{language}{items}</channel></rss>",
        l.title, l.dir
    )
}

/// A page of one language: hreflang links to all three, a language
/// switcher, and its feed advertised except for English (served at
/// `/en/feed`, one of the usual paths).
fn page(l: &Lang) -> String {
    let alternates: String = LANGS
        .iter()
        .map(|o| format!("<link rel=\"alternate\" hreflang=\"{}\" href=\"/{}/\">", o.code, o.dir))
        .collect();
    let advertised = if l.code == "en" {
        String::new()
    } else {
        format!(
            "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"{}\" href=\"/{}/feed.xml\">",
            l.title, l.dir
        )
    };
    format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><title>{}</title>{alternates}{advertised}</head>\
         <body><nav><a href=\"/fi/\" hreflang=\"fi\">Suomeksi</a> <a href=\"/sv/\" hreflang=\"sv\">På svenska</a></nav></body></html>",
        l.code, l.title
    )
}

fn html(body: String) -> Response {
    Response::ok(body).header("Content-Type", "text/html; charset=utf-8")
}

fn rss_response(body: String) -> Response {
    Response::ok(body).header("Content-Type", "application/rss+xml; charset=utf-8")
}

/// The fixture site.
fn site() -> Server {
    let srv = Server::start();
    let base = format!("http://{}", srv.addr);
    for l in &LANGS {
        let p = page(l);
        srv.route(&format!("/{}/", l.dir), move |_| html(p.clone()));
        let f = feed(&base, l);
        let path = if l.code == "en" { "/en/feed".to_string() } else { format!("/{}/feed.xml", l.dir) };
        srv.route(&path, move |_| rss_response(f.clone()));
    }
    srv.route("/fi/rss", |_| Response::redirect(302, "/fi/feed.xml"));
    srv.route("/about/", |_| {
        html("<!DOCTYPE html><html lang=\"en\"><head><title>About</title></head><body>Hi</body></html>".into())
    });
    srv.route("/blocked/", |_| Response {
        status: 403,
        ..html(
            "<html><head><title>Access denied</title></head><body><p>Bots are not allowed here.</p></body></html>"
                .into(),
        )
    });
    srv.route("/logo.png", |_| {
        Response::ok(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()).header("Content-Type", "image/png")
    });
    srv.route("/broken.xml", |_| {
        Response::ok("<?xml version=\"1.0\"?><catalog><book/></catalog>").header("Content-Type", "application/xml")
    });
    srv
}

/// A feeds.toml with comments, odd spacing and a tag table after the
/// sources, so that appends and cuts show any damage.
const CONFIG: &str = "# Our feeds.   Keep this comment.\n\
[settings]\n\
contact = \"https://example.org/ops\"   # who we are\n\
timeout = \"5s\"\n\
per_host_delay = \"20ms\"\n\
\n\
# ---- sources ----\n\
\n\
[tags.kunta]   # municipal news\n\
aliases = [ \"kunnat\",  \"municipality\" ]\n";

fn env_with(text: &str) -> Env {
    let env = Env::new("", &[]);
    std::fs::write(env.config(), text).unwrap();
    env
}

fn config_text(env: &Env) -> String {
    std::fs::read_to_string(env.config()).unwrap()
}

fn sources_in(text: &str) -> Vec<toml::Value> {
    let v: toml::Value = toml::from_str(text).unwrap();
    v.get("source").and_then(|s| s.as_array()).cloned().unwrap_or_default()
}

#[test]
fn fixture_site_becomes_one_group_of_three_and_its_posts_merge() {
    let srv = site();
    let env = env_with(CONFIG);
    let out = env.run(&["add", &srv.url("/fi/"), "--tags", "kunta", "--yes"]);
    assert_eq!(exit(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("found 3 feeds"), "{said}");
    assert!(said.contains("(group \"127.0.0.1\")"), "{said}");
    assert!(said.contains("2 entries, newest 2026-11-02 12:00 UTC"), "{said}");
    assert!(said.contains("at a usual path for"), "the English feed comes from /en/feed: {said}");
    assert!(said.contains("added 3 sources"), "{said}");

    let text = config_text(&env);
    assert!(text.starts_with(CONFIG), "everything before the added block is unchanged:\n{text}");
    let sources = sources_in(&text);
    let got: Vec<(String, String, String)> = sources
        .iter()
        .map(|s| {
            (s["url"].as_str().unwrap().into(), s["lang"].as_str().unwrap().into(), s["group"].as_str().unwrap().into())
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (srv.url("/fi/feed.xml"), "fi".into(), "127.0.0.1".into()),
            (srv.url("/sv/feed.xml"), "sv".into(), "127.0.0.1".into()),
            (srv.url("/en/feed"), "en".into(), "127.0.0.1".into()),
        ]
    );
    assert_eq!(sources[1]["name"].as_str(), Some("Borgå – nyheter"));
    assert_eq!(sources[2]["tags"].as_array().unwrap()[0].as_str(), Some("kunta"));
    for r in srv.all_requests() {
        assert!(r.header("user-agent").unwrap_or_default().starts_with("polyfeed/"), "{r:?}");
    }

    let poll = env.run(&["poll"]);
    assert_eq!(exit(&poll), 0, "{}{}", stdout(&poll), stderr(&poll));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 6);
    let stories = env.run(&["stories", "--json"]);
    let stories: Vec<serde_json::Value> = serde_json::from_slice(&stories.stdout).unwrap();
    assert_eq!(stories.len(), 2, "{stories:#?}");
    for s in &stories {
        let mut langs: Vec<&str> =
            s["versions"].as_array().unwrap().iter().map(|v| v["lang"].as_str().unwrap()).collect();
        langs.sort();
        assert_eq!(langs, ["en", "fi", "sv"], "{s:#}");
    }

    // Adding the site again finds the same three feeds and writes nothing.
    let again = env.run(&["add", &srv.url("/sv/"), "--yes"]);
    assert_eq!(exit(&again), 0, "{}", stderr(&again));
    assert!(stdout(&again).contains("nothing to add"), "{}", stdout(&again));
    assert_eq!(config_text(&env), text);
}

#[test]
fn a_feed_url_is_proposed_as_it_is_and_dry_run_writes_nothing() {
    let srv = site();
    let env = env_with(CONFIG);
    let out = env.run(&["add", &srv.url("/sv/feed.xml"), "--dry-run"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("found 1 feed for"), "{said}");
    assert!(said.contains("+ Borgå – nyheter  [sv, from the feed]"), "{said}");
    assert!(said.contains("2 entries, newest 2026-11-02 11:00 UTC"), "{said}");
    assert!(said.contains("dry run"), "{said}");
    assert!(said.contains(&format!("url = \"{}\"", srv.url("/sv/feed.xml"))), "{said}");
    assert_eq!(config_text(&env), CONFIG);

    // No terminal, no --yes: refuse with exit 2 instead of waiting.
    let out = env.run(&["add", &srv.url("/sv/feed.xml")]);
    assert_eq!(exit(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert_eq!(config_text(&env), CONFIG);

    // --name names it.
    let out = env.run(&["add", &srv.url("/sv/feed.xml"), "--name", "Borgå stad", "-y"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    let sources = sources_in(&config_text(&env));
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["name"].as_str(), Some("Borgå stad"));
    assert!(sources[0].get("group").is_none(), "one feed alone gets no group");
}

#[test]
fn sources_already_present_are_skipped_also_after_a_redirect() {
    let srv = site();
    let text =
        format!("{CONFIG}\n[[source]]\nurl = \"{}\"  # the Finnish one\nname = \"Porvoo\"\n", srv.url("/fi/feed.xml"));
    let env = env_with(&text);
    // /fi/rss redirects to the configured /fi/feed.xml.
    let out = env.run(&["add", &srv.url("/fi/rss"), "--yes"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("already in the config"), "{}", stdout(&out));
    assert!(stdout(&out).contains("nothing to add"), "{}", stdout(&out));
    assert_eq!(config_text(&env), text);

    let out = env.run(&["add", &srv.url("/sv/"), "--yes"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("added 2 sources"), "{}", stdout(&out));
    let now = config_text(&env);
    assert!(now.starts_with(&text));
    assert_eq!(sources_in(&now).len(), 3);
}

#[test]
fn failures_say_what_happened() {
    let srv = site();
    let env = env_with(CONFIG);
    let cases: [(&str, &[&str]); 5] = [
        (
            "/about/",
            &[
                "no feed found for",
                "/about/: advertises no feed",
                "/about/feed: HTTP 404",
                "/rss.xml: HTTP 404",
                "/feed.json",
            ],
        ),
        ("/blocked/", &["answered HTTP 403 Forbidden", "blocking automated clients", "Bots are not allowed here."]),
        ("/logo.png", &["is neither a web page nor a feed", "image/png"]),
        ("/broken.xml", &["does not parse as a feed"]),
        ("/missing", &["answered HTTP 404 Not Found"]),
    ];
    for (path, expected) in cases {
        let out = env.run(&["add", &srv.url(path), "--yes"]);
        assert_eq!(exit(&out), 1, "{path}: {}", stdout(&out));
        let err = stderr(&out);
        for e in expected {
            assert!(err.contains(e), "{path}: expected {e:?} in:\n{err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = env.run(&["add", "ftp://example.org/", "--yes"]);
    assert_eq!(exit(&out), 1);
    assert!(stderr(&out).contains("is not an http(s) URL"), "{}", stderr(&out));
    assert_eq!(config_text(&env), CONFIG);
}

#[test]
fn remove_by_name_and_by_url_and_purge() {
    let srv = site();
    let env = env_with(CONFIG);
    assert_eq!(exit(&env.run(&["add", &srv.url("/fi/"), "--yes"])), 0);
    let poll = env.run(&["poll"]);
    assert_eq!(exit(&poll), 0, "{}", stderr(&poll));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 6);

    // By name: the config loses it, the database keeps its entries.
    let out = env.run(&["remove", "Borgå – nyheter"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("stay in the database"), "{}", stdout(&out));
    let text = config_text(&env);
    assert!(text.starts_with(CONFIG), "{text}");
    assert!(!text.contains("/sv/feed.xml"), "{text}");
    assert_eq!(sources_in(&text).len(), 2);
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 6);
    assert_eq!(env.source(&srv.url("/sv/feed.xml"))["in_config"], false);

    // By URL, with --purge: its entries go, the stories stay consistent.
    let out = env.run(&["remove", &srv.url("/en/feed"), "--purge"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("purged 2 entries"), "{}", stdout(&out));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 4);
    assert_eq!(env.count(&format!("SELECT COUNT(*) FROM sources WHERE key = '{}'", srv.url("/en/feed"))), 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM story_entries WHERE entry_id NOT IN (SELECT id FROM entries)"), 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM entries WHERE id NOT IN (SELECT entry_id FROM story_entries)"), 0);
    env.integrity_ok();
    let stories: Vec<serde_json::Value> = serde_json::from_slice(&env.run(&["stories", "--json"]).stdout).unwrap();
    assert_eq!(stories.len(), 2);
    for s in &stories {
        assert_eq!(s["versions"].as_array().unwrap().len(), 2, "{s:#}");
    }

    // Purging the last version of every story deletes the stories.
    let out = env.run(&["remove", &srv.url("/fi/feed.xml"), "--purge"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    let text = config_text(&env);
    assert!(text.starts_with(CONFIG) && text[CONFIG.len()..].trim().is_empty(), "{text:?}");
    assert_eq!(env.count("SELECT COUNT(*) FROM stories WHERE id NOT IN (SELECT story_id FROM story_entries)"), 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 2, "the Swedish entries stay");

    let out = env.run(&["remove", "nothing like this"]);
    assert_eq!(exit(&out), 1);
    assert!(stderr(&out).contains("no source in"), "{}", stderr(&out));
    // A poll after all this still works.
    let poll = env.run(&["poll", "--all"]);
    assert_eq!(exit(&poll), 0, "{}", stderr(&poll));
}

const OPML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>My reader</title></head><body>
  <outline text="Kunnat" title="Kunnat">
    <outline type="rss" text="Porvoo" title="Porvoo – uutiset" xmlUrl="{FI}" language="fi"/>
    <outline type="rss" text="Borgå" xmlUrl="{SV}"/>
  </outline>
  <outline type="rss" text="Elsewhere &amp; more" xmlUrl="https://example.org/feed.xml" category="/news/world"/>
  <outline type="rss" text="Gopher" xmlUrl="gopher://example.org/"/>
</body></opml>"#;

#[test]
fn import_opml_adds_what_is_new_and_keeps_the_file() {
    let srv = site();
    let text = format!("{CONFIG}\n# already here\n[[source]]\nurl = \"{}\"\n", srv.url("/sv/feed.xml"));
    let env = env_with(&text);
    let opml = env.dir.path().join("subs.opml");
    std::fs::write(&opml, OPML.replace("{FI}", &srv.url("/fi/feed.xml")).replace("{SV}", &srv.url("/sv/feed.xml")))
        .unwrap();
    let out = env.run(&["import-opml", opml.to_str().unwrap(), "--yes"]);
    assert_eq!(exit(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("2 to add, 1 already present, 1 skipped"), "{said}");
    let now = config_text(&env);
    assert!(now.starts_with(&text), "{now}");
    let sources = sources_in(&now);
    assert_eq!(sources.len(), 3);
    assert_eq!(sources[1]["name"].as_str(), Some("Porvoo – uutiset"));
    assert_eq!(sources[1]["lang"].as_str(), Some("fi"));
    assert_eq!(sources[1]["tags"].as_array().unwrap()[0].as_str(), Some("Kunnat"));
    assert_eq!(sources[2]["name"].as_str(), Some("Elsewhere & more"));
    assert_eq!(sources[2]["tags"].as_array().unwrap()[0].as_str(), Some("world"));

    // Again: nothing new.
    let out = env.run(&["import-opml", opml.to_str().unwrap(), "--yes"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("0 to add, 3 already present"), "{}", stdout(&out));
    assert_eq!(config_text(&env), now);

    // Not OPML: a clear error, no panic, nothing written.
    for (name, body) in [("page.opml", "<!DOCTYPE html><html><body>hi</body></html>"), ("bin.opml", "\0\u{1}garbage")] {
        let bad = env.dir.path().join(name);
        std::fs::write(&bad, body).unwrap();
        let out = env.run(&["import-opml", bad.to_str().unwrap(), "--yes"]);
        assert_eq!(exit(&out), 1, "{name}");
        assert!(stderr(&out).contains("not an OPML file"), "{name}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
    assert_eq!(config_text(&env), now);
}
