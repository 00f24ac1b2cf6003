//! Finds and loads the cross-language word table once per process, for
//! `dedup` (which stays pure and receives it as a value).
//!
//! The table is built at setup by `scripts/build-lexicon` from the FreeDict
//! dictionaries Debian packages (it keeps their licences, so it is not
//! shipped). Where it is looked for, first hit wins:
//! `$POLYFEED_LEXICON` (a file, or a folder holding `lexicon.tsv.gz`; an
//! empty value means none), `./data/lexicon/`, `data/lexicon/` beside the
//! executable's project, the source tree it was built from, and
//! `/usr/share/polyfeed/lexicon/`. Without a table polyfeed still runs:
//! cross-language matching then uses numbers, names and length only, and a
//! warning says so.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::dedup::content::Lexicon;

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
and length only; run scripts/build-lexicon"
            );
            Lexicon::default()
        }
    })
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
        Some(PathBuf::from("/usr/share/polyfeed/lexicon")),
    ];
    dirs.into_iter().flatten().map(|d| d.join(FILE)).find(|p| p.is_file())
}

/// Reads a table (gzip or plain text), a line at a time: the text of the
/// whole table (28 MB) is never held.
pub fn load(path: &Path) -> std::io::Result<Lexicon> {
    let mut file = std::io::BufReader::new(std::fs::File::open(path)?);
    let gzip = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn BufRead> =
        if gzip { Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(file))) } else { Box::new(file) };
    let mut hash = Fnv::default();
    let mut builder = crate::dedup::content::lexicon::Builder::default();
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        hash.add(line.as_bytes());
        builder.line(line.trim_end_matches(['\n', '\r']));
        line.clear();
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(FILE);
    let lex = builder.finish(&format!("{name}:{}", hash.hex()));
    tracing::info!("lexicon {} loaded from {}", lex.id(), path.display());
    Ok(lex)
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
