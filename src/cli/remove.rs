//! `polyfeed remove NAME-or-URL`: take a source out of feeds.toml (the rest
//! of the file untouched); with `--purge`, also delete what is stored for it.

use std::path::Path;

use super::{EXIT_OK, say};
use crate::config::edit::Editable;

/// Arguments of `remove`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The source's URL as configured, or its name
    #[arg(value_name = "NAME-or-URL")]
    pub source: String,
    /// Also delete its stored entries, fetch log and story memberships from the database
    #[arg(long)]
    pub purge: bool,
}

pub(super) fn run(config_path: &Path, args: &Args) -> anyhow::Result<u8> {
    let file = Editable::read(config_path)?;
    let index = file.find(&args.source)?;
    let removed = file.config.sources[index].clone();
    let text = file.without_source(index)?;
    let after = crate::config::Config::parse(&file.path, &text)?;
    anyhow::ensure!(
        after.sources.len() + 1 == file.config.sources.len() && !after.sources.iter().any(|s| s.key == removed.key),
        "internal error: removing {} would change other sources; nothing written",
        removed.key
    );
    // Purge first: if it fails, feeds.toml still names the source and the
    // same command can be run again; the config is only saved after it.
    let db = &after.database;
    let stats =
        if args.purge && db.may_exist() { crate::store::Store::open(db)?.purge_source(&removed.key)? } else { None };
    file.save(&text)?;
    let label = match &removed.name {
        Some(n) => format!("{n} ({})", removed.key),
        None => removed.key.clone(),
    };
    say(format!("removed {label} from {}", file.path.display()));
    if !args.purge {
        say("its stored entries stay in the database (remove --purge deletes them)");
        return Ok(EXIT_OK);
    }
    match stats {
        None => say("nothing was stored for it"),
        Some(s) => say(format!(
            "purged {} entr{} from {}; {} stor{} left empty and deleted, {} duplicate{} promoted to version",
            s.entries,
            if s.entries == 1 { "y" } else { "ies" },
            db,
            s.stories_deleted,
            if s.stories_deleted == 1 { "y" } else { "ies" },
            s.promoted,
            if s.promoted == 1 { "" } else { "s" },
        )),
    }
    Ok(EXIT_OK)
}
