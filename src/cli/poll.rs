//! `polyfeed poll`: one cycle, one summary line, an exit code for cron; a
//! progress bar when a person is watching.

use super::{EXIT_OK, EXIT_SOURCES_FAILED, runtime};
use crate::config::Config;
use crate::pipeline::{self, PollOptions, Progress, SourceReport};
use crate::store::Outcome;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// How `poll` reports while it runs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Output {
    /// `-q`: only the summary line and errors.
    pub quiet: bool,
    /// `-v` given: logs go to stderr, so no bar fights them.
    pub verbose: bool,
}

pub(super) fn run(config: &Config, args: &Args, out: Output) -> anyhow::Result<u8> {
    let quiet = out.quiet;
    // A bar only for a person at a terminal: never in cron mail, pipes or logs.
    let bar = (!out.quiet && !out.verbose && std::io::stderr().is_terminal()).then(Bar::new);
    let opts =
        PollOptions { all: args.all, progress: bar.clone().map(|b| b as Arc<dyn Progress>), ..PollOptions::default() };
    let rt = runtime()?;
    // One store for the cycle and the publishing after it: a second
    // connection built a second page cache while the first one's memory
    // was still held (a cold poll of 1,000 feeds peaked 17 MiB higher).
    let summary = rt.block_on(async {
        let store = pipeline::open_store(config).await?;
        let summary = pipeline::poll_with(&store, config, &opts).await?;
        Ok::<_, pipeline::PollError>((store, summary))
    });
    if let Some(b) = &bar {
        b.bar.finish_and_clear();
    }
    let (store, summary) = summary?;
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
    // Polling anything changes the sources page's status table; feeds are
    // rendered again only when stories changed.
    let mut store = pipeline::lock(&store);
    // This run's node row and any lease it still holds go now, not when
    // they expire.
    if let Err(e) = store.node_gone(crate::node::token()) {
        tracing::warn!(error = %e, "cannot release this run's leases; they end with the lease");
    }
    if let Some(report) = crate::pipeline::publish_after_poll(&store, config, &summary)? {
        if !args.json && !quiet {
            crate::cli::say(super::publish::line(config, &report));
        }
        super::publish::ping_hub(config, &report, !args.json && !quiet)?;
    }
    Ok(if summary.failed() > 0 { EXIT_SOURCES_FAILED } else { EXIT_OK })
}

/// The interactive progress bar: sources done / total, rate, failures.
struct Bar {
    bar: indicatif::ProgressBar,
    failed: AtomicUsize,
}

impl Bar {
    fn new() -> Arc<Self> {
        let bar = indicatif::ProgressBar::hidden();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} {bar:30} {pos}/{len} sources · {per_sec:.0} · {elapsed} · {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Arc::new(Bar { bar, failed: AtomicUsize::new(0) })
    }
}

impl Progress for Bar {
    fn start(&self, sources: usize) {
        self.bar.set_length(sources as u64);
        self.bar.set_message("0 failed");
    }

    fn source_done(&self, report: &SourceReport) {
        if report.outcome == Outcome::Failed {
            let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!("{n} failed"));
        }
        self.bar.inc(1);
    }

    fn assigning(&self) {
        let failed = self.failed.load(Ordering::Relaxed);
        self.bar.set_message(format!("{failed} failed · matching stories across languages"));
    }
}
