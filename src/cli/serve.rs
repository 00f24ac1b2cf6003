//! `polyfeed serve` and `polyfeed run`: the long-running modes.

use std::net::SocketAddr;

use super::{EXIT_OK, runtime};
use crate::config::Config;

/// Arguments of `serve` and `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: settings.listen, else 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

async fn bind(config: &Config, args: &Args) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = args.listen.unwrap_or(config.publish.listen);
    tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

pub(super) fn serve(config: Config, args: &Args) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let listener = bind(&config, args).await?;
        crate::daemon::serve(config, listener).await
    })?;
    Ok(EXIT_OK)
}

pub(super) fn run(config: Config, args: &Args) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let listener = bind(&config, args).await?;
        crate::daemon::run(config, listener).await
    })?;
    Ok(EXIT_OK)
}
