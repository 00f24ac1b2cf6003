//! Editing feeds.toml in place for `add`, `remove` and `import-opml`: new
//! `[[source]]` tables are appended (rendered with toml_edit, so values are
//! quoted and escaped correctly), a removed source's text is cut out using
//! toml_edit's spans, and every other byte of the file stays as it was. The
//! new text is validated with [`Config::parse`] before it replaces the file,
//! atomically (temporary file, fsync, rename), so a bad edit never reaches
//! disk.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError, SourceConfig};

/// Why an edit was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The current file or the edited text is not a valid config.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// toml_edit could not read the file.
    #[error("cannot edit {path}: {message}")]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// No source matches what the user named.
    #[error("no source in {path} has the name or URL {what:?}")]
    NotFound {
        /// The config file.
        path: PathBuf,
        /// What was asked for.
        what: String,
    },
    /// Several sources have that name.
    #[error("{count} sources are named {what:?}; remove one by its URL: {urls}")]
    Ambiguous {
        /// What was asked for.
        what: String,
        /// How many match.
        count: usize,
        /// Their URLs, comma-separated.
        urls: String,
    },
    /// The file changed between reading and writing (another edit ran).
    #[error("{0} changed while it was being edited; nothing written, run the command again")]
    Changed(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The config file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
}

/// A `[[source]]` to append.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewSource {
    /// Feed URL.
    pub url: String,
    /// Display name.
    pub name: Option<String>,
    /// BCP 47 language.
    pub lang: Option<String>,
    /// Tags for every entry.
    pub tags: Vec<String>,
    /// Publisher group.
    pub group: Option<String>,
}

/// A config file read for editing: its exact text and what it means.
#[derive(Debug)]
pub struct Editable {
    /// The file.
    pub path: PathBuf,
    /// Its text as read.
    pub text: String,
    /// The validated config of that text.
    pub config: Config,
}

impl Editable {
    /// Reads and validates the file. A missing file reads as empty, so
    /// `add` can start a new feeds.toml.
    pub fn read(path: &Path) -> Result<Editable, EditError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ConfigError::Read { path: path.to_path_buf(), source }.into()),
        };
        let config = Config::parse(path, &text)?;
        Ok(Editable { path: path.to_path_buf(), text, config })
    }

    /// The configured source with this key (a URL normalised as the config
    /// does), if any.
    pub fn source_with_key(&self, url: &str) -> Option<&SourceConfig> {
        let key = url::Url::parse(url).map(|u| u.to_string()).unwrap_or_else(|_| url.to_string());
        self.config.sources.iter().find(|s| s.key == key)
    }

    /// The text with `sources` appended as `[[source]]` tables after a blank
    /// line, headed by `comment` (one `#` line per line of it).
    pub fn with_sources(&self, sources: &[NewSource], comment: &str) -> String {
        let mut out = self.text.clone();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.is_empty() {
            out.push('\n');
        }
        for line in comment.lines() {
            out.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
        }
        out.push_str(&render(sources));
        out
    }

    /// The index (in file order) of the source named `what`: its URL, else
    /// its exact name, else its name ignoring case.
    pub fn find(&self, what: &str) -> Result<usize, EditError> {
        let sources = &self.config.sources;
        let key = url::Url::parse(what.trim()).map(|u| u.to_string()).ok();
        if let Some(i) = sources.iter().position(|s| Some(&s.key) == key.as_ref() || s.key == what.trim()) {
            return Ok(i);
        }
        let exact: Vec<usize> = (0..sources.len()).filter(|&i| sources[i].name.as_deref() == Some(what)).collect();
        let matches = if exact.is_empty() {
            let lower = what.trim().to_lowercase();
            (0..sources.len())
                .filter(|&i| sources[i].name.as_ref().is_some_and(|n| n.to_lowercase() == lower))
                .collect()
        } else {
            exact
        };
        match matches.as_slice() {
            [i] => Ok(*i),
            [] => Err(EditError::NotFound { path: self.path.clone(), what: what.to_string() }),
            many => Err(EditError::Ambiguous {
                what: what.to_string(),
                count: many.len(),
                urls: many.iter().map(|&i| sources[i].key.as_str()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// The text without the `index`-th source: its header, its keys and the
    /// comment lines directly above its header (no blank line between).
    pub fn without_source(&self, index: usize) -> Result<String, EditError> {
        let doc = toml_edit::Document::parse(self.text.as_str())
            .map_err(|e| EditError::Syntax { path: self.path.clone(), message: e.message().to_string() })?;
        let not_found = || EditError::NotFound { path: self.path.clone(), what: format!("source #{}", index + 1) };
        let mut headers = Vec::new();
        header_spans(doc.as_table(), &mut headers);
        headers.sort_by_key(|r| r.start);
        let cut = match doc.get("source").ok_or_else(not_found)? {
            toml_edit::Item::ArrayOfTables(a) => {
                let start = a.get(index).and_then(toml_edit::Table::span).ok_or_else(not_found)?.start;
                let end = headers.iter().map(|h| h.start).find(|&h| h > start).unwrap_or(self.text.len());
                attached_start(&self.text, start)..attached_start(&self.text, end)
            }
            toml_edit::Item::Value(toml_edit::Value::Array(a)) => {
                inline_element(&self.text, a, index).ok_or_else(not_found)?
            }
            _ => return Err(not_found()),
        };
        Ok(format!("{}{}", &self.text[..cut.start], &self.text[cut.end..]))
    }

    /// Validates `new_text` as the config and writes it in place of the
    /// file, atomically. Refuses when the file changed since it was read.
    pub fn save(&self, new_text: &str) -> Result<Config, EditError> {
        let config = Config::parse(&self.path, new_text)?;
        toml_edit::Document::parse(new_text)
            .map_err(|e| EditError::Syntax { path: self.path.clone(), message: e.message().to_string() })?;
        // Two polyfeed edits at once: the lock makes the check below and the
        // rename one step, so the second sees the first's text and refuses
        // instead of overwriting it. (Editors that ignore the lock can still
        // race; the check narrows that to the instant of the rename.)
        let _lock = lock_beside(&self.path).map_err(|source| EditError::Write { path: self.path.clone(), source })?;
        let now = std::fs::read_to_string(&self.path).unwrap_or_default();
        if now != self.text {
            return Err(EditError::Changed(self.path.clone()));
        }
        write_atomic(&self.path, new_text.as_bytes())
            .map_err(|source| EditError::Write { path: self.path.clone(), source })?;
        Ok(config)
    }
}

/// An exclusive advisory lock on `.NAME.lock` beside the file, held until
/// the returned file is dropped.
fn lock_beside(path: &Path) -> std::io::Result<std::fs::File> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("feeds.toml");
    let lock_path = path.with_file_name(format!(".{name}.lock"));
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path)?;
    f.lock()?;
    Ok(f)
}

/// The `[[source]]` tables of `sources`, as toml_edit renders them.
fn render(sources: &[NewSource]) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    let mut array = toml_edit::ArrayOfTables::new();
    for s in sources {
        let mut t = toml_edit::Table::new();
        t["url"] = toml_edit::value(s.url.as_str());
        if let Some(n) = &s.name {
            t["name"] = toml_edit::value(n.as_str());
        }
        if let Some(l) = &s.lang {
            t["lang"] = toml_edit::value(l.as_str());
        }
        if let Some(g) = &s.group {
            t["group"] = toml_edit::value(g.as_str());
        }
        if !s.tags.is_empty() {
            t["tags"] = toml_edit::value(s.tags.iter().map(String::as_str).collect::<toml_edit::Array>());
        }
        array.push(t);
    }
    doc.insert("source", toml_edit::Item::ArrayOfTables(array));
    // Tables after the first are separated by a blank line, as people write them.
    doc.to_string().replace("\n[[source]]", "\n\n[[source]]")
}

/// Spans of every table header in the document.
fn header_spans(table: &toml_edit::Table, out: &mut Vec<Range<usize>>) {
    out.extend(table.span());
    for (_, item) in table.iter() {
        match item {
            toml_edit::Item::Table(t) => header_spans(t, out),
            toml_edit::Item::ArrayOfTables(a) => a.iter().for_each(|t| header_spans(t, out)),
            _ => {}
        }
    }
}

/// Moves a header's start up over the comment lines directly above it, to
/// the start of the first of them.
fn attached_start(text: &str, at: usize) -> usize {
    let mut start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    loop {
        if start == 0 {
            return start;
        }
        let prev = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        if !text[prev..start].trim_start().starts_with('#') {
            return start;
        }
        start = prev;
    }
}

/// The text range of one element of an inline `source = [{...}, ...]` array,
/// with the comma that follows it (or precedes it, for the last one).
fn inline_element(text: &str, array: &toml_edit::Array, index: usize) -> Option<Range<usize>> {
    let span = array.get(index)?.span()?;
    let after = &text[span.end..];
    let comma = after.find(|c: char| !c.is_whitespace()).filter(|&i| after[i..].starts_with(','));
    match comma {
        Some(i) => Some(span.start..span.end + i + 1),
        None if index > 0 => {
            let prev = array.get(index - 1)?.span()?;
            Some(prev.end..span.end)
        }
        None => Some(span),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory:
/// written, flushed to disk, then renamed over the target (a symlink's
/// target is replaced, not the link). The permissions of the old file stay.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    crate::publish::sink::write_atomic(&target, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# my feeds\n[settings]\ncontact = \"https://example.org/\" # us\n\n\
# --- news ---\n\n# Porvoo in Finnish\n[[source]]\nurl = \"https://a.fi/fi.xml\"\nname = \"A\"\n\n\
[[source]]\nurl = \"https://a.fi/sv.xml\"   # keep me\nname = \"B\"\n# about tags\n[tags.traffic]\naliases = [\"liikenne\"]\n";

    fn editable(text: &str) -> Editable {
        let path = PathBuf::from("/nonexistent/feeds.toml");
        Editable { config: Config::parse(&path, text).unwrap(), path, text: text.into() }
    }

    #[test]
    fn appending_keeps_every_byte_before() {
        let e = editable(FILE);
        let s = NewSource {
            url: "https://a.fi/en.xml".into(),
            name: Some("Q \"x\"".into()),
            lang: Some("en".into()),
            tags: vec!["t".into()],
            group: Some("a.fi".into()),
        };
        let new = e.with_sources(&[s.clone(), NewSource { url: "https://b.fi/".into(), ..s }], "added");
        assert!(new.starts_with(FILE));
        let c = Config::parse(&e.path, &new).unwrap();
        assert_eq!(c.sources.len(), 4);
        assert_eq!(c.sources[2].name.as_deref(), Some("Q \"x\""));
        assert_eq!(c.sources[2].group.as_deref(), Some("a.fi"));
        assert!(new[FILE.len()..].starts_with("\n# added\n[[source]]\n"), "{}", &new[FILE.len()..]);
    }

    #[test]
    fn removing_cuts_only_the_source_and_its_attached_comment() {
        let e = editable(FILE);
        let first = e.without_source(0).unwrap();
        assert_eq!(
            first,
            FILE.replace("# Porvoo in Finnish\n[[source]]\nurl = \"https://a.fi/fi.xml\"\nname = \"A\"\n\n", "")
        );
        let second = e.without_source(1).unwrap();
        assert_eq!(second, FILE.replace("[[source]]\nurl = \"https://a.fi/sv.xml\"   # keep me\nname = \"B\"\n", ""));
        assert_eq!(Config::parse(&e.path, &second).unwrap().sources.len(), 1);
    }

    #[test]
    fn inline_sources_are_removed_too() {
        let text = "source = [ { url = \"https://a.fi/1\" }, { url = \"https://a.fi/2\" } ]\n";
        let e = editable(text);
        assert_eq!(e.without_source(0).unwrap(), "source = [  { url = \"https://a.fi/2\" } ]\n");
        assert_eq!(e.without_source(1).unwrap(), "source = [ { url = \"https://a.fi/1\" } ]\n");
    }

    #[test]
    fn find_by_url_then_name() {
        let e = editable(FILE);
        assert_eq!(e.find("https://a.fi/sv.xml").unwrap(), 1);
        assert_eq!(e.find("A").unwrap(), 0);
        assert_eq!(e.find("b").unwrap(), 1);
        assert!(matches!(e.find("zzz"), Err(EditError::NotFound { .. })));
    }
}
