//! `polyfeed poll`: one cycle, one summary line, an exit code for cron.

use super::{EXIT_OK, EXIT_SOURCES_FAILED, runtime};
use crate::config::Config;
use crate::pipeline::{self, PollOptions};
use crate::store::Outcome;

/// Arguments of `poll`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Poll every source now, due or not (requests stay conditional)
    #[arg(long)]
    pub all: bool,
    /// Print the cycle's result as JSON instead of the summary line
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(config: &Config, args: &Args, quiet: bool) -> anyhow::Result<u8> {
    let opts = PollOptions { all: args.all, ..PollOptions::default() };
    let summary = runtime()?.block_on(pipeline::poll(config, &opts))?;
    if args.json {
        crate::cli::say(serde_json::to_string_pretty(&summary)?);
    } else {
        for s in summary.sources.iter().filter(|s| s.outcome == Outcome::Failed) {
            eprintln!(
                "failed: {}: {}",
                s.name.as_deref().unwrap_or(&s.url),
                s.error.as_deref().unwrap_or("unknown error")
            );
        }
        // The summary line is printed even with -q: cron mails show one line per run.
        crate::cli::say(summary.line());
    }
    // Polling anything changes the index page's status table, not just new entries.
    let changed = summary.new_entries() + summary.updated_entries() > 0 || !summary.sources.is_empty();
    if changed || !config.output_dir.join("index.html").exists() {
        let store = crate::store::Store::open(&config.database)?;
        let report = crate::pipeline::publish(&store, config)?;
        if !args.json && !quiet {
            crate::cli::say(super::publish::line(config, &report));
        }
    }
    Ok(if summary.failed() > 0 { EXIT_SOURCES_FAILED } else { EXIT_OK })
}
