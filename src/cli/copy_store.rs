//! `polyfeed copy-store FROM TO`: copies a whole store into an empty one
//! (SQLite to PostgreSQL and back, or within one engine), printing
//! progress per table on stderr and the row counts of both sides on
//! stdout. The copying itself is `store::copy`.

use std::time::Instant;

use super::{EXIT_OK, say};
use crate::config::Database;
use crate::store::{CopyReport, Progress};

/// Arguments of `copy-store`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store to copy: an SQLite file, or a postgres:// or postgresql:// URL
    #[arg(value_name = "FROM")]
    pub from: String,
    /// The empty store to copy into: an SQLite file (created if missing), or a postgres:// or postgresql:// URL
    #[arg(value_name = "TO")]
    pub to: String,
    /// Print the row counts as JSON
    #[arg(long)]
    pub json: bool,
}

/// Rows between two progress lines of one table.
const PROGRESS_EVERY: u64 = 50_000;

pub(super) fn run(args: &Args) -> anyhow::Result<u8> {
    // As `[settings] database` and POLYFEED_DATABASE take them; relative
    // paths from the working directory.
    let from = Database::parse(&args.from, std::path::Path::new(""));
    let to = Database::parse(&args.to, std::path::Path::new(""));
    let created = to.sqlite_path().filter(|p| !p.exists()).map(std::path::Path::to_path_buf);
    eprintln!("copy-store: {from} -> {to}");
    let started = Instant::now();
    let mut shown = 0u64;
    let mut progress = |p: Progress<'_>| {
        if p.copied == 0 {
            shown = 0;
        }
        if p.copied == p.total {
            eprintln!("copy-store: {}: {} rows", p.table, p.total);
        } else if p.copied >= shown + PROGRESS_EVERY {
            shown = p.copied;
            eprintln!("copy-store: {}: {} of {} rows", p.table, p.copied, p.total);
        }
    };
    let report = match crate::store::copy(&from, &to, &mut progress) {
        Ok(r) => r,
        Err(e) => {
            // A file this command created holds nothing worth keeping.
            if let Some(path) = created {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            return Err(e.into());
        }
    };
    let elapsed = started.elapsed();
    for skipped in &report.skipped {
        eprintln!("copy-store: skipped {} ({} rows): {}", skipped.table, skipped.rows, skipped.why);
    }
    eprintln!("copy-store: claims cleared on {} sources (a poller's lease is not copied)", report.claims_cleared);
    if !report.sequences.is_empty() {
        eprintln!("copy-store: {} sequences set past the copied ids", report.sequences.len());
    }
    eprintln!("copy-store: done in {:.2} s", elapsed.as_secs_f64());
    if args.json {
        say(serde_json::to_string_pretty(&report)?);
    } else {
        say(table(&report).trim_end());
    }
    Ok(EXIT_OK)
}

fn table(report: &CopyReport) -> String {
    let mut rows: Vec<[String; 3]> =
        vec![["TABLE".into(), format!("SOURCE ({})", report.from_engine), format!("TARGET ({})", report.to_engine)]];
    let mut tables: Vec<_> = report.tables.iter().collect();
    tables.sort_by(|a, b| a.table.cmp(&b.table));
    for t in tables {
        rows.push([t.table.clone(), t.source.to_string(), t.target.to_string()]);
    }
    let (source, target) = report.tables.iter().fold((0, 0), |(s, t), x| (s + x.source, t + x.target));
    rows.push(["total".into(), source.to_string(), target.to_string()]);
    let mut widths = [0usize; 3];
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let [a, b, c] = row;
        let (wa, wb, wc) = (widths[0], widths[1], widths[2]);
        out.push_str(&format!("{a:<wa$}  {b:>wb$}  {c:>wc$}\n"));
    }
    out
}
