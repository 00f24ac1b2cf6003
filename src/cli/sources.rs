//! `polyfeed sources`: one row per source, as a table or as JSON.

use super::EXIT_OK;
use crate::config::Config;
use crate::store::SourceRow;

/// Arguments of `sources`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (an array of objects; documented in the README)
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(config: &Config, args: &Args) -> anyhow::Result<u8> {
    let store = super::open_store(config)?;
    let rows = store.source_rows()?;
    if args.json {
        crate::cli::say(serde_json::to_string_pretty(&rows)?);
    } else {
        crate::cli::say(table(&rows).trim_end());
    }
    Ok(EXIT_OK)
}

fn status(r: &SourceRow) -> String {
    let base = match (r.gone, r.last_outcome.as_deref(), r.last_status) {
        (true, _, _) => "gone (410)".to_string(),
        (_, None, _) => "never polled".to_string(),
        (_, Some(o), Some(s)) => format!("{} {s}", o.replace('_', " ")),
        (_, Some(o), None) => o.replace('_', " "),
    };
    let base = if r.in_config { base } else { format!("{base}, not in config") };
    match &r.leased_by {
        Some(node) => format!("{base}, leased by {node}"),
        None => base,
    }
}

fn table(rows: &[SourceRow]) -> String {
    let header = ["NAME", "LANG", "STATUS", "LAST FETCH", "ENTRIES", "ERRORS", "NEXT DUE", "URL"];
    let mut cells: Vec<[String; 8]> = vec![header.map(String::from)];
    for r in rows {
        let url = match &r.moved_to {
            Some(m) => format!("{} -> {m}", r.url),
            None => r.url.clone(),
        };
        let errors = match (&r.last_error, r.error_count, r.backoff_step) {
            (Some(e), n, 0) if n > 0 => format!("{n}: {e}"),
            (Some(e), n, step) if n > 0 => format!("{n} (backoff step {step}): {e}"),
            _ => "0".into(),
        };
        let due = match (&r.next_due_at, &r.due_reason) {
            (Some(at), Some(why)) => format!("{at} ({why})"),
            (Some(at), None) => at.clone(),
            (None, _) => "now".into(),
        };
        cells.push([
            r.name.clone().unwrap_or_else(|| "-".into()),
            r.lang.clone().unwrap_or_else(|| "-".into()),
            status(r),
            r.last_fetch_at.clone().unwrap_or_else(|| "-".into()),
            r.entries.to_string(),
            errors,
            due,
            url,
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
