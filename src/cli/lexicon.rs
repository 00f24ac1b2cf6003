//! `polyfeed lexicon build`: the word table for cross-language matching,
//! built from the FreeDict dictionaries installed on this machine.

use std::path::PathBuf;

use super::EXIT_OK;
use crate::lexicon::build::{self, DEFAULT_FROM};

/// Arguments of `lexicon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do with the word table.
    #[command(subcommand)]
    pub command: Action,
}

/// The `lexicon` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Build the word table from FreeDict dictionaries (dictd format)
    #[command(after_help = "Reads every freedict-XXX-YYY dictionary in the folder (Debian and Ubuntu install \
them with the dict-freedict-* packages) and writes lexicon.tsv.gz, its compiled copy lexicon.bin and \
SOURCES.txt (the dictionaries' licences, which the table keeps: do not redistribute it under other terms). \
Existing files are replaced atomically; a failed build leaves them.\n\nExamples:\n  \
sudo apt-get install dict-freedict-fin-eng dict-freedict-eng-fin dict-freedict-swe-eng dict-freedict-fin-swe\n  \
polyfeed lexicon build\n  polyfeed lexicon build --from ~/dictionaries --out data/lexicon")]
    Build(BuildArgs),
}

/// Arguments of `lexicon build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The folder of dictd dictionaries
    #[arg(long, value_name = "DIR", default_value = DEFAULT_FROM)]
    pub from: PathBuf,
    /// Where to write the table [default: $XDG_DATA_HOME/polyfeed/lexicon, else ~/.local/share/polyfeed/lexicon]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub(super) fn run(args: &Args) -> anyhow::Result<u8> {
    match &args.command {
        Action::Build(args) => run_build(args),
    }
}

fn run_build(args: &BuildArgs) -> anyhow::Result<u8> {
    let Some(out) = args.out.clone().or_else(crate::lexicon::user_dir) else {
        anyhow::bail!("no home folder to write the table to: name one with --out");
    };
    let report = build::build(&args.from, &out)?;
    let counts: Vec<String> = report.counts.iter().map(|(l, n)| format!("{l}={n}")).collect();
    let damaged = match report.damaged.len() {
        0 => String::new(),
        n => format!(" ({n} left out as damaged: see the warnings)"),
    };
    super::say(format!(
        "lexicon: {} words from {} dictionaries{damaged} -> {}",
        counts.join(", "),
        report.used.len(),
        report.table.display()
    ));
    match &report.compiled {
        Ok(path) => super::say(format!("compiled: {}", path.display())),
        Err(e) => eprintln!("polyfeed: the compiled copy was not written ({e}): the first run will parse the text"),
    }
    let same = |a: &std::path::Path| std::fs::canonicalize(a).ok() == std::fs::canonicalize(&report.table).ok();
    match crate::lexicon::find() {
        Some(found) if !same(&found) => {
            eprintln!("polyfeed: note: polyfeed reads {} before this table (see `polyfeed check`)", found.display())
        }
        None => eprintln!(
            "polyfeed: note: polyfeed does not look in {}: set {}={}",
            out.display(),
            crate::lexicon::ENV,
            out.display()
        ),
        Some(_) => {}
    }
    Ok(EXIT_OK)
}
