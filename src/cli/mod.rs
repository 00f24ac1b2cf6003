//! The command line: argument definitions, config discovery, logging set-up,
//! and dispatch to one file per command. Exit codes are decided here.

mod add;
mod check;
mod copy_store;
mod eval_dedup;
mod explain;
mod generate;
mod import_opml;
mod lexicon;
mod poll;
mod publish;
mod remove;
mod serve;
mod sources;
mod stories;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// Exit code: everything worked.
pub const EXIT_OK: u8 = 0;
/// Exit code: a fatal error (bad config, database unusable).
pub const EXIT_ERROR: u8 = 1;
/// Exit code: bad command-line usage (clap's own).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the cycle ran, but some sources failed.
pub const EXIT_SOURCES_FAILED: u8 = 3;

/// polyfeed: one feed per story, in your language.
///
/// Polls the feeds listed in feeds.toml, stores every entry in SQLite, and
/// recognises one post published in several languages.
#[derive(Debug, Parser)]
#[command(name = "polyfeed", version, about, propagate_version = true)]
#[command(
    after_help = "Examples:\n  polyfeed check\n  polyfeed poll\n  polyfeed --config examples/feeds.toml poll --all\n  polyfeed sources --json\n  polyfeed add https://www.porvoo.fi/fi/"
)]
pub struct Cli {
    /// The config file [default: $POLYFEED_CONFIG, else ./feeds.toml]
    #[arg(long, short = 'c', global = true, env = "POLYFEED_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output (-v info, -vv debug); RUST_LOG overrides
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors (and the summary line of `poll`)
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log line format on stderr: `text` for people, `json` (one object per line) for log collectors
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
    /// This process's name among the nodes that share a database, in logs, `sources`, `explain`,
    /// /healthz and /metrics [default: host name and process id]
    #[arg(long, global = true, env = crate::node::ENV, value_name = "NAME")]
    pub node: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the current span's fields (source url and name, connection peer).
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Poll the sources that are due, store their entries, then exit (for cron)
    #[command(after_help = "Exit status: 0 when every polled source was fine, 3 when some failed \
(the others were stored), 1 on a fatal error.\n\nExample crontab line:\n  */15 * * * * polyfeed --config /etc/polyfeed/feeds.toml poll -q")]
    Poll(poll::Args),
    /// Render the merged per-tag feeds (Atom, RSS, JSON Feed), index.html and sources.opml
    Publish(publish::Args),
    /// Serve the published feeds over HTTP (re-rendered when the database changes)
    #[command(
        after_help = "Serves the same bytes `publish` writes, with ETag, Last-Modified, 304s and gzip.\n\nExample:\n  polyfeed serve --listen 127.0.0.1:8080"
    )]
    Serve(serve::Args),
    /// The daemon: poll each source when due, publish after changes, and serve
    #[command(
        after_help = "Shares the database safely with `poll` from cron. SIGHUP rereads feeds.toml (an invalid file is reported and the old config stays); SIGINT or SIGTERM stop it gracefully. /healthz and /metrics are served beside the feeds, or on --admin-listen."
    )]
    Run(serve::Args),
    /// Show every source with its state: last status, entries, errors, next due time
    Sources(sources::Args),
    /// List stories, newest first, with their language versions and duplicates
    Stories(stories::Args),
    /// Explain a story (why its versions are one story, its tags, its feeds), an entry or a source
    #[command(
        after_help = "Examples:\n  polyfeed explain urn:polyfeed:story:6a1f5e808d0e93064dc74ba5\n  polyfeed explain https://www.porvoo.fi/uutiset/...\n  polyfeed explain \"Borgå stad\" --json"
    )]
    Explain(explain::Args),
    /// Validate the config and print what it contains, without polling
    Check(check::Args),
    /// Find a site's feeds in every language and add them to feeds.toml as one group
    #[command(after_help = "Takes a feed URL, a page URL or a bare site. A page's feeds are the ones it \
advertises (else the usual paths such as /feed and /rss.xml), and its language versions (hreflang, \
language switchers) are followed. Every feed is fetched and parsed before it is proposed; sources \
already in feeds.toml are skipped. Asks before writing unless --yes; without a terminal, pass --yes \
or --dry-run (else exit 2).\n\nExamples:\n  polyfeed add https://www.porvoo.fi/fi/\n  \
polyfeed add porvoo.fi --tags kunta --dry-run\n  polyfeed add https://yle.fi/rss/uutiset.rss --name Yle --yes")]
    Add(add::Args),
    /// Remove a source from feeds.toml (its stored entries stay unless --purge)
    #[command(after_help = "Only the source's table (and the comment lines directly above it) is cut \
from feeds.toml; the rest of the file stays as it is.\n\nExamples:\n  polyfeed remove \"Borgå stad\"\n  \
polyfeed remove https://www.porvoo.fi/sv/rss --purge")]
    Remove(remove::Args),
    /// Add the feeds of an OPML file (from another reader) to feeds.toml
    #[command(
        name = "import-opml",
        after_help = "Folders become tags; feeds already in feeds.toml are skipped; comments and layout \
of feeds.toml are kept.\n\nExamples:\n  polyfeed import-opml subscriptions.opml --dry-run\n  \
polyfeed import-opml subscriptions.opml --tags imported --yes"
    )]
    ImportOpml(import_opml::Args),
    /// Copy a whole store into an empty one: SQLite to PostgreSQL and back
    #[command(
        name = "copy-store",
        after_help = "FROM and TO are each an SQLite file or a postgres:// / postgresql:// URL, as \
`[settings] database` and POLYFEED_DATABASE take them (no config file is read). Both are migrated \
to this polyfeed's schema first (the source too). Every table is copied with its ids, in one \
transaction on TO, a page of rows at a time; what running pollers hold (claims on sources, \
nodes, host leases) is not copied. \
TO must be empty (else nothing is written, exit 1) and another store than FROM. Stop pollers on \
FROM while copying, then point `database` at TO. A password can come from PGPASSWORD or \
~/.pgpass instead of the URL; it is never printed.\n\nExamples:\n  \
polyfeed copy-store polyfeed.db postgres://polyfeed@db.example/polyfeed\n  \
polyfeed copy-store postgresql://polyfeed@db.example/polyfeed restored.db --json"
    )]
    CopyStore(copy_store::Args),
    /// Run story assignment over a labelled corpus; print pairwise precision, recall and F1 per language pair
    #[command(name = "eval-dedup")]
    EvalDedup(eval_dedup::Args),
    /// Build the word table for cross-language matching from FreeDict dictionaries
    Lexicon(lexicon::Args),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Examples:\n  polyfeed completions bash > ~/.local/share/bash-completion/completions/polyfeed\n  polyfeed completions zsh > ~/.zfunc/_polyfeed\n  polyfeed completions fish > ~/.config/fish/completions/polyfeed.fish"
    )]
    Completions(generate::CompletionsArgs),
    /// Print the manual page (roff), or write one page per subcommand with --dir
    #[command(after_help = "Examples:\n  polyfeed man | man -l -\n  polyfeed man --dir /usr/local/share/man/man1")]
    Man(generate::ManArgs),
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet, cli.log_format);
    crate::node::set(cli.node.as_deref());
    // A named node names itself on every log line of the command.
    crate::node::enter_log_span();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("polyfeed: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let config_path = cli.config.clone().unwrap_or_else(|| PathBuf::from("feeds.toml"));
    match cli.command {
        Command::Poll(args) => {
            poll::run(&load(&config_path)?, &args, poll::Output { quiet: cli.quiet, verbose: cli.verbose > 0 })
        }
        Command::Publish(args) => publish::run(&load(&config_path)?, &args),
        Command::Serve(args) => serve::serve(load(&config_path)?, &args),
        Command::Run(args) => serve::run(load(&config_path)?, &args),
        Command::Sources(args) => sources::run(&load(&config_path)?, &args),
        Command::Stories(args) => stories::run(&load(&config_path)?, &args),
        Command::Explain(args) => explain::run(&load(&config_path)?, &args),
        Command::Check(args) => check::run(&config_path, &args),
        Command::Add(args) => add::run(&config_path, &args),
        Command::Remove(args) => remove::run(&config_path, &args),
        Command::ImportOpml(args) => import_opml::run(&config_path, &args),
        Command::CopyStore(args) => copy_store::run(&args),
        Command::EvalDedup(args) => eval_dedup::run(&args),
        Command::Lexicon(args) => lexicon::run(&args),
        Command::Completions(args) => generate::completions(&args),
        Command::Man(args) => generate::man(&args),
    }
}

/// Opens the configured database with its sources in step with the config.
fn open_store(config: &Config) -> anyhow::Result<crate::store::Store> {
    let mut store = crate::store::Store::open(&config.database)?;
    store.sync_sources(&config.sources, crate::clock::now())?;
    Ok(store)
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Ok(Config::load(path)?)
}

/// Prints a line to stdout. A closed pipe (`polyfeed sources | head`) ends
/// the process quietly instead of panicking.
pub(crate) fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Logs go to stderr; RUST_LOG wins over -v/-q. Colour only on a terminal
/// (cron mail and journald get plain text) and never with NO_COLOR set.
fn init_logging(verbose: u8, quiet: bool, format: LogFormat) {
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("polyfeed={default},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}

/// A current-thread-free runtime for the async commands.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().on_thread_start(crate::node::enter_log_span).build()?)
}
