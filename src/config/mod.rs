//! feeds.toml: read the user's file ([`raw`]), validate it, and derive the
//! ready-to-use [`Config`]. Every error names the file, line and column.

mod database;
pub mod edit;
pub mod raw;
mod values;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use raw::{RawConfig, RawSettings, RawSource};
use toml::Spanned;
use url::Url;

pub use crate::lang::normalise_tag as normalise_lang;
pub use database::{Database, is_postgres_url, redact as redact_database_url};
pub use values::{parse_duration, parse_size};

/// A configuration error located in the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A syntax, type or value error at a place in the file.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// Fetch limits and politeness settings.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Whole-request timeout (headers and body).
    pub timeout: Duration,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Cap on the bytes read from the network for one response.
    pub max_body_size: u64,
    /// Cap on the bytes after decompression.
    pub max_decompressed_size: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests in flight at once to one host.
    pub per_host_concurrency: usize,
    /// Least time between the starts of two requests to one host.
    pub per_host_delay: Duration,
    /// How long a node's leases (claimed sources, hosts) outlive it: renewed
    /// every third of it while the node works; another node takes over a
    /// dead node's sources this long after its last renewal.
    pub lease: Duration,
    /// Contact URL for the User-Agent.
    pub contact: Option<String>,
}

/// Where a source is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An http or https URL.
    Http(Url),
    /// A local file (offline use, fixtures).
    File(PathBuf),
}

/// One validated `[[source]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// The stable key of the source in the store: the URL as configured
    /// (a `file://` URL for local files).
    pub key: String,
    /// Where to read it.
    pub location: Location,
    /// Display name, if configured.
    pub name: Option<String>,
    /// Declared language, normalised BCP 47.
    pub lang: Option<String>,
    /// Tags given to every entry of this source.
    pub tags: Vec<String>,
    /// Publisher group: sources of one publisher in different languages.
    pub group: Option<String>,
    /// Poll interval for this source (the default when not configured).
    pub interval: Duration,
    /// `id_pattern`: a regex whose capture (`id`, else the first group)
    /// applied to an entry's link and guid identifies the post across languages.
    pub id_pattern: Option<IdPattern>,
    /// `follow_pages`: fetch each entry's own page once for its hreflang links.
    pub follow_pages: bool,
}

/// A validated `id_pattern`.
#[derive(Debug, Clone)]
pub struct IdPattern {
    /// The pattern as written.
    pub pattern: String,
    /// The compiled regex (size-limited).
    pub regex: regex::Regex,
}

/// Two patterns are the same when written the same (a reload compares them).
impl PartialEq for IdPattern {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// Longest `id_pattern` accepted, in bytes.
pub const MAX_ID_PATTERN: usize = 1000;
/// Compiled size limit of an `id_pattern` (bytes of the regex program).
const ID_PATTERN_SIZE_LIMIT: usize = 256 * 1024;

impl IdPattern {
    /// Compiles and checks a pattern: it must have a capture group.
    pub fn new(pattern: &str) -> Result<IdPattern, String> {
        if pattern.len() > MAX_ID_PATTERN {
            return Err(format!("longer than {MAX_ID_PATTERN} bytes"));
        }
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(ID_PATTERN_SIZE_LIMIT)
            .dfa_size_limit(ID_PATTERN_SIZE_LIMIT)
            .nest_limit(50)
            .build()
            .map_err(|e| {
                e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
            })?;
        if regex.captures_len() < 2 {
            return Err("it needs a capture group, e.g. \"/news/(\\d+)\" or \"(?<id>\\d+)\"".into());
        }
        Ok(IdPattern { pattern: pattern.to_string(), regex })
    }
}

/// A `[[merge]]` or `[[split]]` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Line of the table in feeds.toml (for messages and `explain`).
    pub line: usize,
    /// The entry URLs, as written (validated http(s) URLs).
    pub urls: Vec<String>,
}

/// Publishing settings.
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// Title of the aggregate (feeds, index page).
    pub title: String,
    /// Public URL where `output_dir` is served, for self links.
    pub base_url: Option<Url>,
    /// The tagging entity of `tag:` feed ids (RFC 4151), as
    /// `authority,date`: `example.org,2026` or `me@example.org,2026-05-01`.
    pub id_authority: Option<String>,
    /// Newest stories per feed.
    pub items: usize,
    /// Publish feeds for categories that have no `[tags.NAME]` table.
    pub publish_untagged: bool,
    /// Address `serve` and `run` listen on.
    pub listen: std::net::SocketAddr,
    /// WebSub hub: feeds carry `<link rel="hub">` and polyfeed pings it
    /// after a feed changes. Requires `base_url` (for the `self` links).
    pub hub: Option<Url>,
    /// A separate address for `/healthz` and `/metrics`; `None`: they are
    /// served on `listen` beside the feeds.
    pub admin_listen: Option<std::net::SocketAddr>,
}

/// One declared tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagConfig {
    /// The slug (the table name, slugified): file names and ids.
    pub slug: String,
    /// Category names that mean this tag (the table name included).
    pub aliases: Vec<String>,
    /// Title per language (`""` for the default title).
    pub titles: std::collections::BTreeMap<String, String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The database: an SQLite file or a PostgreSQL URL (`POLYFEED_DATABASE`
    /// overrides the configured one).
    pub database: Database,
    /// Where published files go.
    pub output_dir: PathBuf,
    /// Language preference, most preferred first.
    pub languages: Vec<String>,
    /// Default poll interval.
    pub interval: Duration,
    /// No source is polled more often than this.
    pub min_interval: Duration,
    /// Fetch settings.
    pub fetch: FetchSettings,
    /// The sources, in file order.
    pub sources: Vec<SourceConfig>,
    /// Publishing settings.
    pub publish: PublishSettings,
    /// Declared tags, by slug.
    pub tags: Vec<TagConfig>,
    /// `[[merge]]` overrides, in file order.
    pub merges: Vec<Override>,
    /// `[[split]]` overrides, in file order.
    pub splits: Vec<Override>,
}

const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);
const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(3600);
const DEFAULT_MAX_BODY: u64 = 10 * 1024 * 1024;
const DEFAULT_LEASE: Duration = Duration::from_secs(120);

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(path, &text)
    }

    /// Validates config text as if read from `path` (relative paths in it are
    /// taken relative to the directory of `path`).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let ctx = Ctx { path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            ctx.error(e.span().unwrap_or(0..0), message)
        })?;
        ctx.validate(raw)
    }
}

/// Validation context: turns spans into located errors.
struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        let (line, column) = line_col(self.text, span.start);
        ConfigError::Invalid { path: self.path.to_path_buf(), line, column, message: message.into() }
    }

    fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn duration(&self, value: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
        parse_duration(value.get_ref()).map_err(|e| self.error(value.span(), format!("invalid {key}: {e}")))
    }

    fn opt_duration(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        value.as_ref().map_or(Ok(default), |v| self.duration(v, key))
    }

    fn size(&self, value: &Option<Spanned<raw::SizeValue>>, key: &str) -> Result<u64, ConfigError> {
        let Some(v) = value else {
            return Ok(DEFAULT_MAX_BODY);
        };
        parse_size(v.get_ref()).map_err(|e| self.error(v.span(), format!("invalid {key}: {e}")))
    }

    fn count(&self, value: &Option<Spanned<i64>>, key: &str, default: usize) -> Result<usize, ConfigError> {
        let Some(v) = value else { return Ok(default) };
        match usize::try_from(*v.get_ref()) {
            Ok(n) if (1..=1024).contains(&n) => Ok(n),
            _ => Err(self.error(v.span(), format!("invalid {key}: expected a number from 1 to 1024"))),
        }
    }

    fn lang(&self, value: &Spanned<String>) -> Result<String, ConfigError> {
        normalise_lang(value.get_ref()).ok_or_else(|| {
            self.error(
                value.span(),
                format!("invalid language tag {:?}: expected BCP 47, e.g. \"fi\" or \"en-GB\"", value.get_ref()),
            )
        })
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let s = &raw.settings;
        let base = self.base_dir();
        let interval = self.opt_duration(&s.interval, "interval", DEFAULT_INTERVAL)?;
        let min_interval = self.opt_duration(&s.min_interval, "min_interval", DEFAULT_MIN_INTERVAL)?;
        let languages = s.languages.iter().flatten().map(|l| self.lang(l)).collect::<Result<Vec<_>, _>>()?;
        let fetch = self.fetch_settings(s)?;
        let mut sources = Vec::with_capacity(raw.source.len());
        for src in &raw.source {
            let source = self.source(src.get_ref(), &base, interval)?;
            if sources.iter().any(|o: &SourceConfig| o.key == source.key) {
                return Err(self.error(src.get_ref().url.span(), format!("duplicate source url {}", source.key)));
            }
            sources.push(source);
        }
        let publish = self.publish_settings(s)?;
        let tags = self.tags(&raw.tags)?;
        let merges = raw.merge.iter().map(|o| self.override_table(o, "merge")).collect::<Result<Vec<_>, _>>()?;
        let splits = raw.split.iter().map(|o| self.override_table(o, "split")).collect::<Result<Vec<_>, _>>()?;
        self.check_override_conflicts(&raw, &merges, &splits)?;
        Ok(Config {
            publish,
            tags,
            merges,
            splits,
            path: self.path.to_path_buf(),
            database: Database::resolve(s.database.as_deref(), &base),
            output_dir: base.join(s.output_dir.as_deref().unwrap_or("public")),
            languages,
            interval,
            min_interval,
            fetch,
            sources,
        })
    }

    fn override_table(&self, o: &Spanned<raw::RawOverride>, kind: &str) -> Result<Override, ConfigError> {
        let (line, _) = line_col(self.text, o.span().start);
        let mut urls: Vec<String> = Vec::new();
        for u in &o.get_ref().urls {
            let text = u.get_ref().trim();
            match Url::parse(text) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
                _ => {
                    return Err(
                        self.error(u.span(), format!("invalid URL in [[{kind}]]: expected an http(s) entry URL"))
                    );
                }
            }
            if urls.iter().any(|x| x == text) {
                return Err(self.error(u.span(), format!("URL listed twice in one [[{kind}]]")));
            }
            urls.push(text.to_string());
        }
        if urls.len() < 2 {
            return Err(self.error(o.span(), format!("[[{kind}]] needs at least two urls")));
        }
        if urls.len() > 64 {
            return Err(self.error(o.span(), format!("[[{kind}]] lists more than 64 urls")));
        }
        Ok(Override { line, urls })
    }

    /// A pair of URLs both forced together and kept apart is an error.
    fn check_override_conflicts(
        &self,
        raw: &RawConfig,
        merges: &[Override],
        splits: &[Override],
    ) -> Result<(), ConfigError> {
        let fold = |u: &str| crate::dedup::fold_url(u).unwrap_or_else(|| u.to_string());
        for (si, s) in splits.iter().enumerate() {
            let split: Vec<String> = s.urls.iter().map(|u| fold(u)).collect();
            for m in merges {
                let merged: Vec<String> = m.urls.iter().map(|u| fold(u)).collect();
                if split.iter().filter(|u| merged.contains(u)).count() >= 2 {
                    return Err(self.error(
                        raw.split[si].span(),
                        format!("this [[split]] separates URLs that the [[merge]] on line {} joins", m.line),
                    ));
                }
            }
        }
        Ok(())
    }

    fn publish_settings(&self, s: &RawSettings) -> Result<PublishSettings, ConfigError> {
        let base_url = match &s.base_url {
            None => None,
            Some(v) => match Url::parse(v.get_ref()) {
                Ok(mut u) if matches!(u.scheme(), "http" | "https") => {
                    if !u.path().ends_with('/') {
                        u.set_path(&format!("{}/", u.path()));
                    }
                    Some(u)
                }
                _ => return Err(self.error(v.span(), "invalid base_url: expected an http(s) URL")),
            },
        };
        let address = |v: &Spanned<String>, key: &str| {
            v.get_ref().parse().map_err(|_| {
                self.error(v.span(), format!("invalid {key}: expected an address and port, e.g. \"127.0.0.1:8080\""))
            })
        };
        let listen = match &s.listen {
            None => std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => address(v, "listen")?,
        };
        let hub = match &s.hub {
            None => None,
            Some(v) => match Url::parse(v.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    if base_url.is_none() {
                        return Err(self.error(
                            v.span(),
                            "hub needs base_url: WebSub subscribers identify a feed by its public URL (its self link)",
                        ));
                    }
                    Some(u)
                }
                _ => return Err(self.error(v.span(), "invalid hub: expected an http(s) URL")),
            },
        };
        let admin_listen = s.admin_listen.as_ref().map(|v| address(v, "admin_listen")).transpose()?;
        let id_authority = match &s.id_authority {
            None => None,
            Some(v) => match tag_entity(v.get_ref().trim()) {
                Some(e) => Some(e),
                None => {
                    return Err(self.error(
                        v.span(),
                        "invalid id_authority: expected a domain or e-mail address you own and a date when you \
                         owned it, as \"example.org,2026\" or \"me@example.org,2026-05-01\" (RFC 4151)",
                    ));
                }
            },
        };
        Ok(PublishSettings {
            hub,
            id_authority,
            title: s.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| "polyfeed".into()),
            base_url,
            items: self.count(&s.items, "items", 50)?,
            publish_untagged: s.publish_untagged.unwrap_or(true),
            listen,
            admin_listen,
        })
    }

    fn tags(
        &self,
        raw: &std::collections::BTreeMap<Spanned<String>, raw::RawTag>,
    ) -> Result<Vec<TagConfig>, ConfigError> {
        let mut out: Vec<TagConfig> = Vec::new();
        for (name, t) in raw {
            let slug = crate::tags::slugify(name.get_ref());
            if slug.is_empty() {
                return Err(self.error(name.span(), "invalid tag name: it must contain a letter or digit"));
            }
            if out.iter().any(|o| o.slug == slug) {
                return Err(
                    self.error(name.span(), format!("tag {:?} is declared twice (as slug {slug:?})", name.get_ref()))
                );
            }
            let mut aliases = vec![name.get_ref().clone()];
            aliases.extend(t.aliases.iter().filter(|a| !a.trim().is_empty()).cloned());
            let titles = match &t.title {
                None => Default::default(),
                Some(raw::RawTitle::One(s)) => [(String::new(), s.clone())].into(),
                Some(raw::RawTitle::PerLanguage(m)) => {
                    let mut titles = std::collections::BTreeMap::new();
                    for (lang, title) in m {
                        let lang = normalise_lang(lang).ok_or_else(|| {
                            self.error(
                                name.span(),
                                format!("invalid language tag {lang:?} in the titles of tag {:?}", name.get_ref()),
                            )
                        })?;
                        titles.insert(lang, title.clone());
                    }
                    titles
                }
            };
            out.push(TagConfig { slug, aliases, titles });
        }
        Ok(out)
    }

    fn fetch_settings(&self, s: &RawSettings) -> Result<FetchSettings, ConfigError> {
        let contact = match &s.contact {
            None => None,
            Some(c) => match Url::parse(c.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https" | "mailto") => Some(u.to_string()),
                _ => {
                    return Err(self.error(c.span(), "invalid contact: expected an http(s) or mailto URL"));
                }
            },
        };
        Ok(FetchSettings {
            timeout: self.opt_duration(&s.timeout, "timeout", Duration::from_secs(30))?,
            connect_timeout: self.opt_duration(&s.connect_timeout, "connect_timeout", Duration::from_secs(10))?,
            max_body_size: self.size(&s.max_body_size, "max_body_size")?,
            max_decompressed_size: self.size(&s.max_decompressed_size, "max_decompressed_size")?,
            concurrency: self.count(&s.concurrency, "concurrency", 16)?,
            per_host_concurrency: self.count(&s.per_host_concurrency, "per_host_concurrency", 2)?,
            per_host_delay: match &s.per_host_delay {
                None => Duration::from_millis(500),
                Some(v) => humantime::parse_duration(v.get_ref().trim())
                    .map_err(|e| self.error(v.span(), format!("invalid per_host_delay: {e}")))?,
            },
            lease: match &s.lease {
                None => DEFAULT_LEASE,
                Some(v) => match self.duration(v, "lease")? {
                    d if d < Duration::from_secs(1) => {
                        return Err(self.error(v.span(), "invalid lease: at least 1s"));
                    }
                    d => d,
                },
            },
            contact,
        })
    }

    fn source(&self, raw: &RawSource, base: &Path, default_interval: Duration) -> Result<SourceConfig, ConfigError> {
        let location = self.location(&raw.url, base)?;
        let key = match &location {
            Location::Http(u) => u.to_string(),
            Location::File(p) => file_key(p, &absolute(base)),
        };
        let lang = raw.lang.as_ref().map(|l| self.lang(l)).transpose()?;
        let id_pattern = match &raw.id_pattern {
            None => None,
            Some(p) => Some(
                IdPattern::new(p.get_ref()).map_err(|e| self.error(p.span(), format!("invalid id_pattern: {e}")))?,
            ),
        };
        let tags = raw.tags.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
        Ok(SourceConfig {
            key,
            location,
            name: raw.name.clone().filter(|n| !n.trim().is_empty()),
            lang,
            tags,
            group: raw.group.clone().filter(|g| !g.trim().is_empty()),
            interval: self.opt_duration(&raw.interval, "interval", default_interval)?,
            id_pattern,
            follow_pages: raw.follow_pages.unwrap_or(false),
        })
    }

    fn location(&self, url: &Spanned<String>, base: &Path) -> Result<Location, ConfigError> {
        let text = url.get_ref().trim();
        if text.is_empty() {
            return Err(self.error(url.span(), "empty url"));
        }
        match Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(Location::Http(u)),
            Ok(u) if u.scheme() == "file" => {
                u.to_file_path().map(Location::File).map_err(|_| self.error(url.span(), "invalid file URL"))
            }
            Ok(u) if u.scheme().len() > 1 => Err(self
                .error(url.span(), format!("unsupported URL scheme {:?}: use http, https or a file path", u.scheme()))),
            // No scheme (or a Windows drive letter): a local path.
            _ => {
                let p = Path::new(text);
                let abs = if p.is_absolute() { p.to_path_buf() } else { absolute(&base.join(p)) };
                Ok(Location::File(abs))
            }
        }
    }
}

/// The store key of a local file: `file:` and the path relative to the
/// config's directory when it lies below it (so moving the directory with
/// its config keeps every source, entry and story id), else a `file://` URL.
fn file_key(path: &Path, base: &Path) -> String {
    match path.strip_prefix(base) {
        Ok(rel) => format!("file:{}", rel.to_string_lossy().replace('\\', "/")),
        Err(_) => Url::from_file_path(path).map(|u| u.to_string()).unwrap_or_else(|_| path.display().to_string()),
    }
}

/// Makes a path absolute without touching the filesystem beyond the cwd.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// An RFC 4151 `taggingEntity` (`authorityName "," date`), lower-cased
/// (as RFC 4151 recommends, and as the W3C Feed Validator requires), or
/// `None` when it is not one: the authority a DNS name or an e-mail address
/// (letters, digits, `-._` before the `@`), the date `YYYY`, `YYYY-MM` or
/// `YYYY-MM-DD`.
pub fn tag_entity(text: &str) -> Option<String> {
    let (authority, date) = text.rsplit_once(',')?;
    let dns = |d: &str| {
        d.contains('.')
            && d.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
    };
    let authority_ok = match authority.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !local.starts_with('.')
                && !local.ends_with('.')
                && local.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
                && dns(domain)
        }
        None => dns(authority),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let digits = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_digit());
    let date_ok = match parts.as_slice() {
        [y] => digits(y, 4),
        [y, m] => digits(y, 4) && digits(m, 2) && (1..=12).contains(&m.parse::<u8>().unwrap_or(0)),
        [y, m, d] => {
            digits(y, 4)
                && digits(m, 2)
                && digits(d, 2)
                && chrono::NaiveDate::parse_from_str(&format!("{y}-{m}-{d}"), "%Y-%m-%d").is_ok()
        }
        _ => false,
    };
    (authority_ok && date_ok).then(|| text.to_ascii_lowercase())
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests;
