//! `polyfeed serve` and `polyfeed run`: the long-running modes.

use std::net::SocketAddr;

use super::{EXIT_OK, runtime};
use crate::config::Config;
use crate::daemon::Listeners;

/// Arguments of `serve` and `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: settings.listen, else 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Serve /healthz and /metrics on this address instead of beside the feeds [default: settings.admin_listen]
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Also reread feeds.toml when it changes (SIGHUP always rereads it)
    #[arg(long)]
    pub watch: bool,
}

async fn bind_one(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

async fn bind(config: &Config, args: &Args) -> anyhow::Result<Listeners> {
    let main = bind_one(args.listen.unwrap_or(config.publish.listen)).await?;
    let admin = match args.admin_listen.or(config.publish.admin_listen) {
        Some(addr) => Some(bind_one(addr).await?),
        None => None,
    };
    Ok(Listeners { main, admin })
}

pub(super) fn serve(config: Config, args: &Args) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let listeners = bind(&config, args).await?;
        crate::daemon::serve(config, listeners, args.watch).await
    })?;
    Ok(EXIT_OK)
}

pub(super) fn run(config: Config, args: &Args) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let listeners = bind(&config, args).await?;
        crate::daemon::run(config, listeners, args.watch).await
    })?;
    Ok(EXIT_OK)
}
