//! `polyfeed completions SHELL` and `polyfeed man`: shell completions and
//! manual pages generated from the clap definitions, so they never drift
//! from the real command line.

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;

use super::{Cli, EXIT_OK};

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write polyfeed.1 and one page per subcommand (polyfeed-poll.1, ...)
    /// into this directory instead of printing polyfeed.1 to stdout
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub(super) fn completions(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "polyfeed", &mut out);
    emit(&out)?;
    Ok(EXIT_OK)
}

pub(super) fn man(args: &ManArgs) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    // Propagates global options, the version and "polyfeed poll"-style
    // names into the subcommands before their pages are rendered.
    cmd.build();
    match &args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            emit(&out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let mut pages = vec![(String::from("polyfeed"), cmd.clone())];
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("polyfeed-{}", sub.get_name());
                pages.push((name.clone(), sub.clone().display_name(&name)));
                // Nested commands (`lexicon build`) get a page each too.
                for inner in sub.get_subcommands().filter(|s| s.get_name() != "help") {
                    let inner_name = format!("{name}-{}", inner.get_name());
                    pages.push((inner_name.clone(), inner.clone().display_name(inner_name)));
                }
            }
            for (name, page) in pages {
                let mut out = Vec::new();
                clap_mangen::Man::new(page).render(&mut out)?;
                let path = dir.join(format!("{name}.1"));
                crate::publish::sink::write_atomic(&path, &out)?;
                super::say(path.display());
            }
        }
    }
    Ok(EXIT_OK)
}

/// Writes generated text to stdout; a closed pipe ends quietly.
fn emit(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => Ok(r?),
    }
}
