//! Finds and loads the cross-language word table once per process, for
//! `dedup` (which stays pure and receives it as a value); keeps a compiled
//! copy of it (`lexicon.bin`) that opens in milliseconds and reads only the
//! languages a run meets.
//!
//! The table is built on the user's machine by `polyfeed lexicon build`
//! ([`build`]) from the FreeDict dictionaries Debian packages (it keeps
//! their licences, so it is not shipped). Where it is looked for, first hit
//! wins: `$POLYFEED_LEXICON` (a file, or a folder holding `lexicon.tsv.gz`;
//! an empty value means none), `./data/lexicon/`, `data/lexicon/` beside
//! the executable's project, the source tree it was built from, the user's
//! data folder (`$XDG_DATA_HOME/polyfeed/lexicon/`, by default
//! `~/.local/share/polyfeed/lexicon/`: where `lexicon build` writes unless
//! told otherwise), and `/usr/share/polyfeed/lexicon/`. Without a table
//! polyfeed still runs: cross-language matching then uses numbers, names
//! and length only, and a warning says so.

pub mod build;
mod dictd;

use std::io::BufRead;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::dedup::content::Lexicon;
use crate::dedup::content::lexicon::SectionSource;

/// The environment variable naming the table.
pub const ENV: &str = "POLYFEED_LEXICON";
/// The table's file name inside a lexicon folder.
pub const FILE: &str = "lexicon.tsv.gz";

static SHARED: OnceLock<Lexicon> = OnceLock::new();

/// The process-wide lexicon, loaded on first use (empty, with a warning,
/// when none is found or it cannot be read).
pub fn shared() -> &'static Lexicon {
    SHARED.get_or_init(|| match find() {
        Some(path) => load(&path).unwrap_or_else(|e| {
            tracing::warn!("cannot read the lexicon {}: {e}; cross-language matching is weaker", path.display());
            Lexicon::default()
        }),
        None => {
            tracing::warn!(
                "no lexicon found (${ENV}, ./data/lexicon/{FILE}): cross-language matching uses numbers, names \
and length only; `polyfeed lexicon build` makes one"
            );
            Lexicon::default()
        }
    })
}

/// One line on the word table for `check`: where it is, in which form,
/// and the languages it has words for.
pub fn describe() -> String {
    let Some(path) = find() else {
        return "none found: cross-language matching uses numbers, names and length only \
(`polyfeed lexicon build` makes one)"
            .to_string();
    };
    let lex = shared();
    if lex.is_empty() {
        return format!("{} cannot be read (see the warning above)", path.display());
    }
    let compiled = path.with_file_name(COMPILED);
    let form =
        if compiled.is_file() && fresh(&compiled, &path) { format!(", compiled in {COMPILED}") } else { String::new() };
    format!("{}{form}; words for {}", path.display(), lex.languages().join(", "))
}

/// Where the table is, if anywhere.
pub fn find() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os(ENV) {
        let p = PathBuf::from(v);
        return (!p.as_os_str().is_empty()).then(|| if p.is_dir() { p.join(FILE) } else { p }).filter(|p| p.is_file());
    }
    let exe_project = std::env::current_exe().ok().and_then(|e| e.ancestors().nth(3).map(Path::to_path_buf));
    let dirs = [
        Some(PathBuf::from("data/lexicon")),
        exe_project.map(|p| p.join("data/lexicon")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/lexicon")),
        user_dir(),
        Some(PathBuf::from("/usr/share/polyfeed/lexicon")),
    ];
    dirs.into_iter().flatten().map(|d| d.join(FILE)).find(|p| p.is_file())
}

/// The user's own table folder: `$XDG_DATA_HOME/polyfeed/lexicon`, else
/// `~/.local/share/polyfeed/lexicon` (`None` without a home).
pub fn user_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let data = std::env::var_os("XDG_DATA_HOME")
        .and_then(absolute)
        .or_else(|| std::env::var_os("HOME").and_then(absolute).map(|h| h.join(".local/share")))?;
    Some(data.join("polyfeed/lexicon"))
}

/// The compiled table beside `lexicon.tsv.gz`: a cache that loads without
/// parsing or stemming, written by the first process that parses the text
/// and used while it is not older than the text.
pub const COMPILED: &str = "lexicon.bin";

/// Reads a table: a compiled one (each language's words read from the file
/// on first use), or text (gzip or plain), a line at a time so that the
/// text of the whole table (28 MB) is never held. For `lexicon.tsv.gz`,
/// a fresh `lexicon.bin` beside it is used instead, and written when
/// missing or stale (best effort: a read-only folder just means parsing
/// every time).
pub fn load(path: &Path) -> std::io::Result<Lexicon> {
    if let Some(lex) = open_compiled(path)? {
        return Ok(lex);
    }
    let cache = (path.file_name().and_then(|n| n.to_str()) == Some(FILE)).then(|| path.with_file_name(COMPILED));
    if let Some(cache) = cache.as_deref().filter(|c| fresh(c, path))
        && let Ok(Some(lex)) = open_compiled(cache)
    {
        return Ok(lex);
    }
    let lex = parse(path)?;
    if let Some(cache) = cache {
        write_compiled(&lex, &cache);
    }
    Ok(lex)
}

/// True when `cache` exists and is not older than `source`.
fn fresh(cache: &Path, source: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(cache), modified(source)), (Some(c), Some(s)) if c >= s)
}

/// Writes the compiled table next to the text, atomically (a process that
/// has the old file open keeps reading the old file).
fn write_compiled(lex: &Lexicon, cache: &Path) {
    match try_write_compiled(lex, cache) {
        Ok(()) => tracing::info!("compiled word table written to {}", cache.display()),
        Err(e) => tracing::debug!("cannot write the compiled word table {}: {e}", cache.display()),
    }
}

fn try_write_compiled(lex: &Lexicon, cache: &Path) -> std::io::Result<()> {
    write_atomic(cache, &lex.compile())
}

/// Writes `bytes` to `path` through a temporary file renamed over it, so
/// that a reader sees the old file or the new one, never a part.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes the compiled copy of `lex`, the table just written to `table`,
/// beside it; returns its path.
pub(crate) fn write_compiled_beside(table: &Path, lex: &Lexicon) -> std::io::Result<PathBuf> {
    let cache = table.with_file_name(COMPILED);
    try_write_compiled(lex, &cache).map(|()| cache)
}

/// A compiled table, opened: its header is read now, each language when
/// first used. `Ok(None)` when the file is not a compiled table.
fn open_compiled(path: &Path) -> std::io::Result<Option<Lexicon>> {
    let file = std::fs::File::open(path)?;
    let mut first = [0u8; 16];
    if file.read_exact_at(&mut first, 0).is_err() {
        return Ok(None);
    }
    let Some(head_len) = Lexicon::compiled_head_len(&first) else {
        if first.starts_with(b"PFLEXv") {
            return Err(std::io::Error::other(
                "a compiled word table of another version: use lexicon.tsv.gz, or `polyfeed lexicon build` again",
            ));
        }
        return Ok(None);
    };
    let size = file.metadata()?.len();
    if head_len as u64 > size {
        return Err(std::io::Error::other("the compiled word table is truncated"));
    }
    let mut head = vec![0u8; head_len];
    file.read_exact_at(&mut head, 0)?;
    let source = Arc::new(CompiledFile { file, size });
    let lex = Lexicon::open_compiled(&head, source)
        .ok_or_else(|| std::io::Error::other("the compiled word table's header is damaged"))?;
    tracing::info!("lexicon {} opened from {}", lex.id(), path.display());
    Ok(Some(lex))
}

/// A compiled table's open file: sections are read from it by offset, so
/// a newer table renamed over the path meanwhile never mixes with it.
#[derive(Debug)]
struct CompiledFile {
    file: std::fs::File,
    size: u64,
}

impl SectionSource for CompiledFile {
    fn read(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        if offset.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(std::io::Error::other("section out of range"));
        }
        let mut buf = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
}

/// Parses a table in text form.
fn parse(path: &Path) -> std::io::Result<Lexicon> {
    let mut file = std::io::BufReader::new(std::fs::File::open(path)?);
    let gzip = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn BufRead> =
        if gzip { Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(file))) } else { Box::new(file) };
    let mut text = TextReader::default();
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        text.line(&line);
        line.clear();
    }
    let lex = text.finish(path.file_name().and_then(|n| n.to_str()).unwrap_or(FILE));
    tracing::info!("lexicon {} loaded from {}", lex.id(), path.display());
    Ok(lex)
}

/// Turns the table's text, a line at a time, into a [`Lexicon`] named by
/// the file's name and the hash of the text.
#[derive(Default)]
pub(crate) struct TextReader {
    hash: Fnv,
    builder: crate::dedup::content::lexicon::Builder,
}

impl TextReader {
    /// One line, with its line end.
    pub(crate) fn line(&mut self, line: &str) {
        self.hash.add(line.as_bytes());
        self.builder.line(line.trim_end_matches(['\n', '\r']));
    }

    /// The table read, for the file `name`.
    pub(crate) fn finish(self, name: &str) -> Lexicon {
        self.builder.finish(&format!("{name}:{}", self.hash.hex()))
    }
}

/// A short stable hash of the table, so stored features name the table
/// they were computed with (FNV-1a 64 over its bytes, top 32 bits in hex).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn hex(&self) -> String {
        format!("{:08x}", self.0 >> 32)
    }
}
