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
    let reevaluated = store.reconcile_stories(&crate::store::StoryRules::from_config(config))?;
    for w in &reevaluated.warnings {
        eprintln!("warning: {w}");
    }
    let report = crate::pipeline::publish(&store, config)?;
    if args.json {
        crate::cli::say(serde_json::to_string_pretty(&report)?);
    } else {
        crate::cli::say(line(config, &report));
    }
    Ok(EXIT_OK)
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
