//! `polyfeed check`: validate a config and show what it contains.

use std::path::Path;

use super::EXIT_OK;
use crate::config::{Config, Location};
use crate::schedule::fmt;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub(super) fn run(path: &Path, _args: &Args) -> anyhow::Result<u8> {
    let c = Config::load(path)?;
    println!("{}: ok", path.display());
    println!("  database:    {}", c.database.display());
    println!("  output_dir:  {}", c.output_dir.display());
    println!("  languages:   {}", if c.languages.is_empty() { "(none)".into() } else { c.languages.join(", ") });
    println!("  interval:    {} (floor {})", fmt(c.interval), fmt(c.min_interval));
    println!("  user agent:  {}", crate::fetch::user_agent(c.fetch.contact.as_deref()));
    println!("  {} source{}:", c.sources.len(), if c.sources.len() == 1 { "" } else { "s" });
    for s in &c.sources {
        let missing = match &s.location {
            Location::File(p) if !p.exists() => "  (file not found)",
            _ => "",
        };
        println!(
            "    - {}  lang={}  group={}  tags=[{}]  every {}{}",
            s.name.as_deref().unwrap_or(&s.key),
            s.lang.as_deref().unwrap_or("detect"),
            s.group.as_deref().unwrap_or("-"),
            s.tags.join(", "),
            fmt(s.interval.max(c.min_interval)),
            missing
        );
        if s.name.is_some() {
            println!("      {}", s.key);
        }
    }
    Ok(EXIT_OK)
}
