//! `polyfeed publish`: render every feed and write the output directory.

use super::EXIT_OK;
use crate::config::Config;

/// Arguments of `publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(config: &Config, args: &Args) -> anyhow::Result<u8> {
    let mut store = super::open_store(config)?;
    // Overrides and id patterns changed in the config apply here too.
    let reevaluated = store.reconcile_stories(&crate::stories::StoryRules::from_config(config))?;
    for w in &reevaluated.warnings {
        eprintln!("warning: {w}");
    }
    let report = crate::pipeline::publish(&store, config)?;
    if args.json {
        crate::cli::say(serde_json::to_string_pretty(&report)?);
    } else {
        crate::cli::say(line(config, &report));
    }
    ping_hub(config, &report, !args.json)?;
    Ok(EXIT_OK)
}

/// Announces the changed feeds to the WebSub hub, when one is configured.
/// Failures are warnings (logged), never errors: the files are published.
pub(super) fn ping_hub(config: &Config, report: &crate::pipeline::PublishReport, tell: bool) -> anyhow::Result<()> {
    let urls = crate::websub::feed_urls(config, &report.files.changed);
    let Some(hub) = config.publish.hub.as_ref().filter(|_| !urls.is_empty()) else {
        return Ok(());
    };
    let pinged = super::runtime()?.block_on(crate::websub::ping(config, urls));
    if tell {
        crate::cli::say(format!(
            "pinged WebSub hub {hub}: {} feeds accepted, {} failed",
            pinged.accepted.len(),
            pinged.failed.len()
        ));
    }
    Ok(())
}

/// The one line `publish` (and `poll`, after publishing) prints.
pub(super) fn line(config: &Config, r: &crate::pipeline::PublishReport) -> String {
    format!(
        "published {} files to {} ({} written, {} unchanged; {:.2} s); open {}",
        r.artifacts,
        config.output_dir.display(),
        r.files.written,
        r.files.unchanged,
        r.seconds,
        config.output_dir.join("index.html").display()
    )
}
