//! This process's identity among the processes that share one database:
//! the node name people see (`--node`, `POLYFEED_NODE`, else host name and
//! process id) in logs, `sources` ("leased by"), `explain`, `/healthz` and
//! `/metrics`, and the lease token its claims on sources and hosts carry.
//!
//! A token is `machine:pid:nanos:node`, where `machine` is the host name
//! and the PID namespace: two processes that share both can tell from
//! `/proc` whether the other still runs, so the claims of a process that
//! died on this machine are taken over at once. Claims made elsewhere wait
//! for their lease to run out.

use std::sync::OnceLock;

/// The environment variable that names the node.
pub const ENV: &str = "POLYFEED_NODE";

struct Identity {
    name: String,
    token: String,
    /// Set when the node was named: every log line carries it.
    span: Option<tracing::Span>,
}

static IDENTITY: OnceLock<Identity> = OnceLock::new();

/// Names this process (`None`: host name and process id). Only the first
/// call counts; call it before anything asks for [`name`] or [`token`].
pub fn set(name: Option<&str>) {
    let _ = IDENTITY.set(identity(name));
}

fn get() -> &'static Identity {
    IDENTITY.get_or_init(|| identity(None))
}

fn identity(name: Option<&str>) -> Identity {
    let host = host_name();
    let pid = std::process::id();
    let named = name.is_some_and(|n| !n.trim().is_empty());
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => clean(n),
        None => format!("{host}:{pid}"),
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let token = format!("{}:{pid}:{nanos}:{name}", machine());
    let span = named.then(|| tracing::error_span!("node", node = %name));
    Identity { name, token, span }
}

/// Makes every log line of the calling thread, for the rest of its life,
/// name the node (when it was named). Call it first thing on every thread
/// the process starts: the main one, the async runtime's workers and
/// blocking threads, and threads of its own.
pub fn enter_log_span() {
    if let Some(span) = &get().span {
        // The guard is never dropped: the span stays entered on this thread.
        std::mem::forget(span.clone().entered());
    }
}

/// Control characters cannot reach logs or label values.
fn clean(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The node's name.
pub fn name() -> &'static str {
    &get().name
}

/// The token this process's leases carry (unique per process).
pub fn token() -> &'static str {
    &get().token
}

/// The node name inside a lease token (a token from an older polyfeed,
/// without one, is shown whole).
pub fn holder_name(token: &str) -> &str {
    token.splitn(4, ':').nth(3).unwrap_or(token)
}

/// True when `token` belongs to a process that ran on this machine (same
/// host name and PID namespace) and no longer runs (Linux: no /proc/PID).
/// Elsewhere, or where this cannot be known, false: the lease decides.
pub fn is_dead(token: &str) -> bool {
    let mut parts = token.splitn(4, ':');
    let (Some(machine), Some(pid)) = (parts.next(), parts.next().and_then(|p| p.parse::<u32>().ok())) else {
        return false;
    };
    if token == self::token() || pid == std::process::id() {
        return false;
    }
    let proc_fs = std::path::Path::new("/proc/self").exists();
    machine == self::machine() && proc_fs && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn host_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    if host.is_empty() { "localhost".into() } else { host.replace(':', "_") }
}

/// Host name and PID namespace (containers that share a host name have
/// their own process ids: a pid seen from one says nothing of another).
fn machine() -> String {
    let ns = std::fs::read_link("/proc/self/ns/pid").map(|p| p.display().to_string()).unwrap_or_default();
    let ns: String = ns.chars().filter(char::is_ascii_digit).collect();
    format!("{}/{ns}", host_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_node() {
        let t = format!("{}:{}:1:edge-1:a", machine(), std::process::id());
        assert_eq!(holder_name(&t), "edge-1:a");
        assert_eq!(holder_name("oldhost:12:34"), "oldhost:12:34");
        assert!(token().ends_with(name()));
    }

    #[test]
    fn only_a_gone_process_of_this_machine_is_dead() {
        // Pids are below 2^22 on Linux: this one cannot run.
        let gone = format!("{}:{}:1:n", machine(), 1u32 << 30);
        assert_eq!(is_dead(&gone), std::path::Path::new("/proc/self").exists());
        assert!(!is_dead(&format!("elsewhere/1:{}:1:n", 1u32 << 30)));
        assert!(!is_dead(&format!("{}:{}:1:n", machine(), std::process::id())));
        assert!(!is_dead("not a token"));
        assert!(!is_dead(token()));
    }
}
