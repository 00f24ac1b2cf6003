//! Ordered migrations, per engine. Each runs once, in a transaction, and
//! bumps the schema version (SQLite: `PRAGMA user_version`; PostgreSQL: the
//! one row of `polyfeed_schema`); never edit one that has shipped, add a new
//! one to both lists.

/// The migrations, oldest first. `user_version` = number applied.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: sources, fetch log, entries with links, categories and revisions.
    r#"
CREATE TABLE sources (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,      -- the URL as configured
    url             TEXT NOT NULL,             -- where we fetch now (after 301/308)
    name            TEXT,
    lang            TEXT,
    grp             TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    in_config       INTEGER NOT NULL DEFAULT 1,
    feed_title      TEXT,
    feed_lang       TEXT,
    feed_format     TEXT,
    etag            TEXT,
    last_modified   TEXT,
    last_status     INTEGER,
    last_outcome    TEXT,                      -- ok | not_modified | failed
    last_fetch_at   TEXT,
    last_ok_at      TEXT,
    error_count     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    warnings        TEXT NOT NULL DEFAULT '[]',
    moved_to        TEXT,
    gone            INTEGER NOT NULL DEFAULT 0,
    next_due_at     TEXT,
    due_reason      TEXT,
    claimed_until   TEXT,
    claim_token     TEXT,
    created_at      TEXT NOT NULL
);

CREATE TABLE fetches (
    id              INTEGER PRIMARY KEY,
    source_id       INTEGER NOT NULL REFERENCES sources(id),
    started_at      TEXT NOT NULL,
    duration_ms     INTEGER NOT NULL,
    url             TEXT NOT NULL,
    status          INTEGER,
    outcome         TEXT NOT NULL,
    bytes           INTEGER NOT NULL DEFAULT 0,
    entries_new     INTEGER NOT NULL DEFAULT 0,
    entries_updated INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    etag            TEXT,
    last_modified   TEXT
);
CREATE INDEX fetches_by_source ON fetches(source_id, id);

CREATE TABLE entries (
    id              INTEGER PRIMARY KEY,
    source_id       INTEGER NOT NULL REFERENCES sources(id),
    key             TEXT NOT NULL,
    guid            TEXT,
    url             TEXT,
    title           TEXT NOT NULL,
    summary_html    TEXT,
    content_html    TEXT,
    lang            TEXT,
    lang_origin     TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    date_given      INTEGER NOT NULL,
    first_seen_at   TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    authors         TEXT NOT NULL,             -- JSON array of persons
    enclosures      TEXT NOT NULL,             -- JSON array
    images          TEXT NOT NULL,             -- JSON array
    content_hash    TEXT NOT NULL,
    raw             TEXT NOT NULL,             -- JSON: what normalise needs to run again
    UNIQUE (source_id, key)
);
CREATE INDEX entries_by_published ON entries(published_at);
CREATE INDEX entries_by_url ON entries(url);

CREATE TABLE entry_links (
    entry_id        INTEGER NOT NULL REFERENCES entries(id),
    href            TEXT NOT NULL,
    rel             TEXT,
    hreflang        TEXT,
    mime            TEXT,
    title           TEXT
);
CREATE INDEX entry_links_by_entry ON entry_links(entry_id);
CREATE INDEX entry_links_by_href ON entry_links(href);

CREATE TABLE entry_categories (
    entry_id        INTEGER NOT NULL REFERENCES entries(id),
    term            TEXT NOT NULL,
    PRIMARY KEY (entry_id, term)
) WITHOUT ROWID;

CREATE TABLE entry_revisions (
    id              INTEGER PRIMARY KEY,
    entry_id        INTEGER NOT NULL REFERENCES entries(id),
    replaced_at     TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    raw             TEXT NOT NULL
);
CREATE INDEX entry_revisions_by_entry ON entry_revisions(entry_id);
"#,
    // 2: the feed's home page, for the published source links and OPML.
    "ALTER TABLE sources ADD COLUMN feed_link TEXT;",
    // 3: the feed's own scheduling hints (ttl, skipHours, skipDays, sy:),
    // kept so that polls answered 304 still honour them.
    "ALTER TABLE sources ADD COLUMN feed_hints TEXT;",
    // 4: stories. Every entry belongs to exactly one story, as its version in
    // one language or as a duplicate of such a version; the evidence of each
    // decision is kept. entry_keys indexes identity keys for candidate lookup.
    r#"
CREATE TABLE stories (
    id              TEXT PRIMARY KEY,          -- urn:polyfeed:story:...; never changes
    created_at      TEXT NOT NULL
);
CREATE TABLE story_entries (
    entry_id        INTEGER PRIMARY KEY REFERENCES entries(id),
    story_id        TEXT NOT NULL REFERENCES stories(id),
    role            TEXT NOT NULL,             -- version | duplicate
    lang            TEXT,                      -- primary subtag
    matched_entry   INTEGER,                   -- the entry it was matched with
    evidence        TEXT NOT NULL,             -- JSON: score and signals
    joined_at       TEXT NOT NULL
);
CREATE INDEX story_entries_by_story ON story_entries(story_id);
CREATE TABLE entry_features (
    entry_id        INTEGER PRIMARY KEY REFERENCES entries(id),
    features        TEXT NOT NULL              -- JSON dedup::Features
);
CREATE TABLE entry_keys (
    key             TEXT NOT NULL,             -- u:url, a:alternate, i:id, g:guid
    entry_id        INTEGER NOT NULL,
    PRIMARY KEY (key, entry_id)
) WITHOUT ROWID;
CREATE INDEX entry_keys_by_entry ON entry_keys(entry_id);
CREATE TABLE story_log (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    story_id        TEXT NOT NULL,
    action          TEXT NOT NULL,             -- created | joined | merged
    detail          TEXT NOT NULL
);
CREATE INDEX story_log_by_story ON story_log(story_id);
"#,
    // 5: the adaptive interval reads each source's newest dated entries.
    "CREATE INDEX entries_by_source_date ON entries(source_id, date_given, published_at);",
    // 6: re-evaluation of stories. story_events records every merge and
    // split after assignment (and merges an override asked for but that
    // would break the one-version-per-language rule) with its reason;
    // story_recheck queues assigned entries whose strong evidence changed
    // (updated entries, hreflang links found on their pages); entry_pages
    // remembers each `follow_pages` fetch; rule_state remembers the id
    // patterns the stored features were computed with.
    r#"
CREATE TABLE story_events (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    kind            TEXT NOT NULL,             -- merge | split | refused
    story_id        TEXT NOT NULL,             -- the surviving or kept story
    other_id        TEXT,                      -- the story merged in, split off or refused
    entries         TEXT NOT NULL,             -- JSON array of the entry ids that moved
    reason          TEXT NOT NULL
);
CREATE INDEX story_events_by_story ON story_events(story_id);
CREATE INDEX story_events_by_other ON story_events(other_id);
CREATE TABLE story_recheck (
    entry_id        INTEGER PRIMARY KEY
);
CREATE TABLE entry_pages (
    entry_id        INTEGER PRIMARY KEY REFERENCES entries(id),
    url             TEXT NOT NULL,
    fetched_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 1,
    status          INTEGER,
    etag            TEXT,
    last_modified   TEXT,
    links           TEXT NOT NULL DEFAULT '[]', -- JSON [[hreflang, href]]
    error           TEXT
);
CREATE TABLE rule_state (
    name            TEXT PRIMARY KEY,
    value           TEXT NOT NULL
);
"#,
    // 7: process-independent facts about polling as a whole (the end of the
    // last completed cycle, for /healthz and /metrics), keyed by name.
    "CREATE TABLE poll_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
    // 8: several nodes on one database. The nodes (each process that polls,
    // by lease token; live while `seen_at` is recent); hosts leased by a node
    // (one node at a time requests from a host, so per-host limits hold for
    // the whole cluster) with when the last request to each started, for the
    // next holder's spacing; the node that made each fetch; entries waiting
    // for a story, listed as they are stored (ids are no guide on
    // PostgreSQL, where a lower id can commit after a higher one was
    // assigned).
    "CREATE TABLE nodes (
    token           TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    seen_at         TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE host_leases (
    host            TEXT PRIMARY KEY,
    holder          TEXT,
    until           TEXT,
    last_request_at TEXT
) WITHOUT ROWID;
ALTER TABLE fetches ADD COLUMN node TEXT;
CREATE INDEX sources_by_claim ON sources(claim_token);
CREATE TABLE story_pending (
    entry_id        INTEGER PRIMARY KEY
);
INSERT INTO story_pending (entry_id)
    SELECT e.id FROM entries e WHERE NOT EXISTS (SELECT 1 FROM story_entries se WHERE se.entry_id = e.id);",
    // 9: the publishing index (issue 15), so that a feed's newest stories
    // are an indexed, LIMITed read whatever the size of the database.
    // story_index holds, per story, one row per key with the story's first
    // publication time: '' (every story), 'c:' || term for each category of
    // its entries, 's:' || source_id for each source of its entries. Tags
    // are mapped from these keys at read time (they depend on the config).
    // Triggers mark every story whose entries, their dates, sources or
    // categories change in story_dirty; `Store::refresh_story_index`
    // recomputes those stories' rows before the index is read. Existing
    // stories are marked here: the first refresh is the backfill.
    r#"
CREATE TABLE story_index (
    story_id        TEXT NOT NULL,
    key             TEXT NOT NULL,             -- '' | c:TERM | s:SOURCE_ID
    published       TEXT NOT NULL,             -- MIN(published_at) of the story's entries
    PRIMARY KEY (story_id, key)
) WITHOUT ROWID;
CREATE INDEX story_index_by_key ON story_index(key, published DESC, story_id);
CREATE TABLE story_dirty (story_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TRIGGER story_dirty_member_in AFTER INSERT ON story_entries
BEGIN INSERT OR IGNORE INTO story_dirty (story_id) VALUES (NEW.story_id); END;
CREATE TRIGGER story_dirty_member_out AFTER DELETE ON story_entries
BEGIN INSERT OR IGNORE INTO story_dirty (story_id) VALUES (OLD.story_id); END;
CREATE TRIGGER story_dirty_member_moved AFTER UPDATE OF story_id, entry_id ON story_entries
BEGIN
    INSERT OR IGNORE INTO story_dirty (story_id) VALUES (OLD.story_id);
    INSERT OR IGNORE INTO story_dirty (story_id) VALUES (NEW.story_id);
END;
CREATE TRIGGER story_dirty_entry_changed AFTER UPDATE OF published_at, source_id ON entries
WHEN OLD.published_at IS NOT NEW.published_at OR OLD.source_id IS NOT NEW.source_id
BEGIN INSERT OR IGNORE INTO story_dirty (story_id) SELECT story_id FROM story_entries WHERE entry_id = OLD.id; END;
CREATE TRIGGER story_dirty_entry_gone AFTER DELETE ON entries
BEGIN INSERT OR IGNORE INTO story_dirty (story_id) SELECT story_id FROM story_entries WHERE entry_id = OLD.id; END;
CREATE TRIGGER story_dirty_category_in AFTER INSERT ON entry_categories
BEGIN INSERT OR IGNORE INTO story_dirty (story_id) SELECT story_id FROM story_entries WHERE entry_id = NEW.entry_id; END;
CREATE TRIGGER story_dirty_category_out AFTER DELETE ON entry_categories
BEGIN INSERT OR IGNORE INTO story_dirty (story_id) SELECT story_id FROM story_entries WHERE entry_id = OLD.entry_id; END;
CREATE TRIGGER story_dirty_category_changed AFTER UPDATE ON entry_categories
BEGIN
    INSERT OR IGNORE INTO story_dirty (story_id) SELECT story_id FROM story_entries WHERE entry_id = OLD.entry_id;
    INSERT OR IGNORE INTO story_dirty (story_id) SELECT story_id FROM story_entries WHERE entry_id = NEW.entry_id;
END;
INSERT OR IGNORE INTO story_dirty (story_id) SELECT DISTINCT story_id FROM story_entries;
"#,
    // 10: two indexes no query reads (issue 15): nothing looks a link up by
    // its href, and `explain` finds entries through their identity keys
    // (entry_keys) and each source's entry keys. Each cost a random-page
    // insert per stored entry (per link for hrefs), which grows with the
    // database. IF EXISTS: an operator may have dropped them already.
    "DROP INDEX IF EXISTS entries_by_url; DROP INDEX IF EXISTS entry_links_by_href;",
    // 11: no change to the tables. Entries' features are now written in a
    // second, packed format (`dedup::features::FORMAT_PACKED`), which a polyfeed
    // before this version cannot read: it would leave those entries out as
    // candidates without a word. At version 11 it refuses the database
    // ("newer than this polyfeed knows") instead.
    "-- entry_features rows in format 2",
];

/// The same migrations for PostgreSQL, one for one (a database at version
/// N has the same tables on both engines). Where the dialects differ:
/// BIGINT for INTEGER, identity columns for SQLite's implicit row ids,
/// BYTEA for BLOB, no WITHOUT ROWID, and every text column `COLLATE "C"`,
/// so that text compares and sorts byte-wise as in SQLite whatever the
/// database's locale. `entry_links` gets an explicit `rowid` (SQLite's
/// implicit one keeps a link's position in its entry). Flags stay integers
/// (0/1), as in SQLite, so that the queries are the same text.
pub(super) const PG_MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE sources (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    key             TEXT COLLATE "C" NOT NULL UNIQUE,
    url             TEXT COLLATE "C" NOT NULL,
    name            TEXT COLLATE "C",
    lang            TEXT COLLATE "C",
    grp             TEXT COLLATE "C",
    tags            TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    in_config       BIGINT NOT NULL DEFAULT 1,
    feed_title      TEXT COLLATE "C",
    feed_lang       TEXT COLLATE "C",
    feed_format     TEXT COLLATE "C",
    etag            TEXT COLLATE "C",
    last_modified   TEXT COLLATE "C",
    last_status     BIGINT,
    last_outcome    TEXT COLLATE "C",
    last_fetch_at   TEXT COLLATE "C",
    last_ok_at      TEXT COLLATE "C",
    error_count     BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT COLLATE "C",
    warnings        TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    moved_to        TEXT COLLATE "C",
    gone            BIGINT NOT NULL DEFAULT 0,
    next_due_at     TEXT COLLATE "C",
    due_reason      TEXT COLLATE "C",
    claimed_until   TEXT COLLATE "C",
    claim_token     TEXT COLLATE "C",
    created_at      TEXT COLLATE "C" NOT NULL
);

CREATE TABLE fetches (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_id       BIGINT NOT NULL REFERENCES sources(id),
    started_at      TEXT COLLATE "C" NOT NULL,
    duration_ms     BIGINT NOT NULL,
    url             TEXT COLLATE "C" NOT NULL,
    status          BIGINT,
    outcome         TEXT COLLATE "C" NOT NULL,
    bytes           BIGINT NOT NULL DEFAULT 0,
    entries_new     BIGINT NOT NULL DEFAULT 0,
    entries_updated BIGINT NOT NULL DEFAULT 0,
    error           TEXT COLLATE "C",
    etag            TEXT COLLATE "C",
    last_modified   TEXT COLLATE "C"
);
CREATE INDEX fetches_by_source ON fetches(source_id, id);

CREATE TABLE entries (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_id       BIGINT NOT NULL REFERENCES sources(id),
    key             TEXT COLLATE "C" NOT NULL,
    guid            TEXT COLLATE "C",
    url             TEXT COLLATE "C",
    title           TEXT COLLATE "C" NOT NULL,
    summary_html    TEXT COLLATE "C",
    content_html    TEXT COLLATE "C",
    lang            TEXT COLLATE "C",
    lang_origin     TEXT COLLATE "C" NOT NULL,
    published_at    TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL,
    date_given      BIGINT NOT NULL,
    first_seen_at   TEXT COLLATE "C" NOT NULL,
    last_seen_at    TEXT COLLATE "C" NOT NULL,
    authors         TEXT COLLATE "C" NOT NULL,
    enclosures      TEXT COLLATE "C" NOT NULL,
    images          TEXT COLLATE "C" NOT NULL,
    content_hash    TEXT COLLATE "C" NOT NULL,
    raw             TEXT COLLATE "C" NOT NULL,
    UNIQUE (source_id, key)
);
CREATE INDEX entries_by_published ON entries(published_at);
CREATE INDEX entries_by_url ON entries(url);

CREATE TABLE entry_links (
    rowid           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    entry_id        BIGINT NOT NULL REFERENCES entries(id),
    href            TEXT COLLATE "C" NOT NULL,
    rel             TEXT COLLATE "C",
    hreflang        TEXT COLLATE "C",
    mime            TEXT COLLATE "C",
    title           TEXT COLLATE "C"
);
CREATE INDEX entry_links_by_entry ON entry_links(entry_id);
CREATE INDEX entry_links_by_href ON entry_links(href);

CREATE TABLE entry_categories (
    entry_id        BIGINT NOT NULL REFERENCES entries(id),
    term            TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (entry_id, term)
);

CREATE TABLE entry_revisions (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    entry_id        BIGINT NOT NULL REFERENCES entries(id),
    replaced_at     TEXT COLLATE "C" NOT NULL,
    content_hash    TEXT COLLATE "C" NOT NULL,
    raw             TEXT COLLATE "C" NOT NULL
);
CREATE INDEX entry_revisions_by_entry ON entry_revisions(entry_id);
"#,
    r#"ALTER TABLE sources ADD COLUMN feed_link TEXT COLLATE "C";"#,
    r#"ALTER TABLE sources ADD COLUMN feed_hints TEXT COLLATE "C";"#,
    r#"
CREATE TABLE stories (
    id              TEXT COLLATE "C" PRIMARY KEY,
    created_at      TEXT COLLATE "C" NOT NULL
);
CREATE TABLE story_entries (
    entry_id        BIGINT PRIMARY KEY REFERENCES entries(id),
    story_id        TEXT COLLATE "C" NOT NULL REFERENCES stories(id),
    role            TEXT COLLATE "C" NOT NULL,
    lang            TEXT COLLATE "C",
    matched_entry   BIGINT,
    evidence        TEXT COLLATE "C" NOT NULL,
    joined_at       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX story_entries_by_story ON story_entries(story_id);
CREATE TABLE entry_features (
    entry_id        BIGINT PRIMARY KEY REFERENCES entries(id),
    features        BYTEA NOT NULL
);
CREATE TABLE entry_keys (
    key             TEXT COLLATE "C" NOT NULL,
    entry_id        BIGINT NOT NULL,
    PRIMARY KEY (key, entry_id)
);
CREATE INDEX entry_keys_by_entry ON entry_keys(entry_id);
CREATE TABLE story_log (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at              TEXT COLLATE "C" NOT NULL,
    story_id        TEXT COLLATE "C" NOT NULL,
    action          TEXT COLLATE "C" NOT NULL,
    detail          TEXT COLLATE "C" NOT NULL
);
CREATE INDEX story_log_by_story ON story_log(story_id);
"#,
    "CREATE INDEX entries_by_source_date ON entries(source_id, date_given, published_at);",
    r#"
CREATE TABLE story_events (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at              TEXT COLLATE "C" NOT NULL,
    kind            TEXT COLLATE "C" NOT NULL,
    story_id        TEXT COLLATE "C" NOT NULL,
    other_id        TEXT COLLATE "C",
    entries         TEXT COLLATE "C" NOT NULL,
    reason          TEXT COLLATE "C" NOT NULL
);
CREATE INDEX story_events_by_story ON story_events(story_id);
CREATE INDEX story_events_by_other ON story_events(other_id);
CREATE TABLE story_recheck (
    entry_id        BIGINT PRIMARY KEY
);
CREATE TABLE entry_pages (
    entry_id        BIGINT PRIMARY KEY REFERENCES entries(id),
    url             TEXT COLLATE "C" NOT NULL,
    fetched_at      TEXT COLLATE "C" NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 1,
    status          BIGINT,
    etag            TEXT COLLATE "C",
    last_modified   TEXT COLLATE "C",
    links           TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    error           TEXT COLLATE "C"
);
CREATE TABLE rule_state (
    name            TEXT COLLATE "C" PRIMARY KEY,
    value           TEXT COLLATE "C" NOT NULL
);
"#,
    r#"CREATE TABLE poll_state (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL);"#,
    r#"CREATE TABLE nodes (
    token           TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL,
    started_at      TEXT COLLATE "C" NOT NULL,
    seen_at         TEXT COLLATE "C" NOT NULL
);
CREATE TABLE host_leases (
    host            TEXT COLLATE "C" PRIMARY KEY,
    holder          TEXT COLLATE "C",
    until           TEXT COLLATE "C",
    last_request_at TEXT COLLATE "C"
);
ALTER TABLE fetches ADD COLUMN node TEXT COLLATE "C";
CREATE INDEX sources_by_claim ON sources(claim_token);
CREATE TABLE story_pending (
    entry_id        BIGINT PRIMARY KEY
);
INSERT INTO story_pending (entry_id)
    SELECT e.id FROM entries e WHERE NOT EXISTS (SELECT 1 FROM story_entries se WHERE se.entry_id = e.id);"#,
    r#"
CREATE TABLE story_index (
    story_id        TEXT COLLATE "C" NOT NULL,
    key             TEXT COLLATE "C" NOT NULL,
    published       TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (story_id, key)
);
CREATE INDEX story_index_by_key ON story_index(key, published DESC, story_id);
CREATE TABLE story_dirty (story_id TEXT COLLATE "C" PRIMARY KEY);
CREATE FUNCTION polyfeed_story_dirty_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO story_dirty (story_id) VALUES (OLD.story_id) ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO story_dirty (story_id) VALUES (NEW.story_id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER story_dirty_member AFTER INSERT OR DELETE OR UPDATE OF story_id, entry_id ON story_entries
    FOR EACH ROW EXECUTE FUNCTION polyfeed_story_dirty_member();
CREATE FUNCTION polyfeed_story_dirty_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO story_dirty (story_id) SELECT story_id FROM story_entries WHERE entry_id = OLD.id ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER story_dirty_entry_changed AFTER UPDATE OF published_at, source_id ON entries FOR EACH ROW
    WHEN (OLD.published_at IS DISTINCT FROM NEW.published_at OR OLD.source_id IS DISTINCT FROM NEW.source_id)
    EXECUTE FUNCTION polyfeed_story_dirty_entry();
CREATE TRIGGER story_dirty_entry_gone AFTER DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION polyfeed_story_dirty_entry();
CREATE FUNCTION polyfeed_story_dirty_category() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO story_dirty (story_id) SELECT story_id FROM story_entries WHERE entry_id = OLD.entry_id ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO story_dirty (story_id) SELECT story_id FROM story_entries WHERE entry_id = NEW.entry_id ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER story_dirty_category AFTER INSERT OR DELETE OR UPDATE ON entry_categories
    FOR EACH ROW EXECUTE FUNCTION polyfeed_story_dirty_category();
INSERT INTO story_dirty (story_id) SELECT DISTINCT story_id FROM story_entries ON CONFLICT DO NOTHING;
"#,
    "DROP INDEX IF EXISTS entries_by_url; DROP INDEX IF EXISTS entry_links_by_href;",
    "-- entry_features rows in format 2",
];

#[cfg(test)]
mod tests {
    #[test]
    fn both_engines_have_every_migration() {
        assert_eq!(super::MIGRATIONS.len(), super::PG_MIGRATIONS.len());
    }
}
