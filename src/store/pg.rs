//! Connecting to PostgreSQL the way libpq users expect: a `postgres://`
//! URL, with `PGPASSWORD`, `PGPASSFILE` (default `~/.pgpass`), `PGHOST`,
//! `PGPORT`, `PGUSER`, `PGDATABASE` and `PGSSLMODE` filling what the URL
//! leaves out, and `sslmode` as libpq reads it: `disable`; `prefer` (the
//! default) and `require` encrypt without checking the certificate;
//! `verify-ca` and `verify-full` check it against `sslrootcert` (a PEM
//! file) or else the system's trust store, and the host name (both modes
//! check the name: stricter than libpq's `verify-ca`). TLS is rustls
//! (already used for HTTP) through a small connector here. Errors name the
//! host and database, never the password.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::StoreError;

/// Connects; `shown` is the URL without its password, for errors.
pub(super) fn connect(url: &str, shown: &str) -> Result<postgres::Client, StoreError> {
    let fail = |why: String| StoreError::Connect { database: shown.to_string(), why };
    let (url, verify, root_cert) = split_tls_options(url);
    let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| fail(e.to_string()))?;
    fill_from_env(&mut config);
    let verify = match verify {
        Some(v) => v,
        None => match std::env::var("PGSSLMODE").ok().as_deref() {
            Some(m) => parse_sslmode(m).ok_or_else(|| fail(format!("unknown PGSSLMODE {m}")))?,
            None => Verify::Prefer,
        },
    };
    config.ssl_mode(match verify {
        Verify::Disable => SslMode::Disable,
        Verify::Prefer => SslMode::Prefer,
        Verify::Require | Verify::Full => SslMode::Require,
    });
    let root_cert = root_cert.or_else(|| std::env::var_os("PGSSLROOTCERT").map(PathBuf::from));
    let tls = RustlsConnect::new(verify == Verify::Full, root_cert.as_deref()).map_err(fail)?;
    super::db::off_runtime(|| config.connect(tls)).map_err(|e| fail(super::db::DbError::Postgres(e).to_string()))
}

/// What `sslmode` asks of the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    Disable,
    Prefer,
    Require,
    /// verify-ca and verify-full.
    Full,
}

fn parse_sslmode(s: &str) -> Option<Verify> {
    Some(match s {
        "disable" => Verify::Disable,
        "allow" | "prefer" => Verify::Prefer,
        "require" => Verify::Require,
        "verify-ca" | "verify-full" => Verify::Full,
        _ => return None,
    })
}

/// Takes `sslmode` and `sslrootcert` out of the URL's query (the driver
/// knows only three of libpq's modes); the rest of the URL is kept.
fn split_tls_options(url: &str) -> (String, Option<Verify>, Option<PathBuf>) {
    let Some((base, query)) = url.split_once('?') else { return (url.to_string(), None, None) };
    let (mut verify, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sslmode", v)) => verify = parse_sslmode(v).or(Some(Verify::Full)),
            Some(("sslrootcert", v)) => root = Some(PathBuf::from(v)),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    (url, verify, root)
}

/// libpq's environment variables, for what the URL does not say.
fn fill_from_env(config: &mut postgres::Config) {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(h) => {
                config.host(&h);
            }
            None if std::path::Path::new("/var/run/postgresql").is_dir() => {
                config.host_path("/var/run/postgresql");
            }
            None => {
                config.host("localhost");
            }
        }
    }
    if config.get_ports().is_empty()
        && let Some(p) = env("PGPORT").and_then(|p| p.parse().ok())
    {
        config.port(p);
    }
    if config.get_user().is_none()
        && let Some(u) = env("PGUSER")
    {
        config.user(&u);
    }
    if config.get_dbname().is_none()
        && let Some(d) = env("PGDATABASE")
    {
        config.dbname(&d);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_password().is_none() {
        if let Some(p) = env("PGPASSWORD") {
            config.password(p);
        } else if let Some(p) = passfile_password(config) {
            config.password(p);
        }
    }
}

/// The password for this host, port, database and user in `PGPASSFILE`
/// (default `~/.pgpass`): `host:port:db:user:password` lines, `*` matches
/// anything, `\` escapes `:` and `\`.
fn passfile_password(config: &postgres::Config) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(_)) | None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = config.get_user().map(str::to_string).or_else(|| std::env::var("USER").ok()).unwrap_or_default();
    let db = config.get_dbname().map_or_else(|| user.clone(), str::to_string);
    let want = [host.as_str(), port.as_str(), db.as_str(), user.as_str()];
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let fields = split_passfile_line(line);
        if fields.len() != 5 {
            return None;
        }
        let matches = fields[..4].iter().zip(want).all(|(f, w)| f == "*" || f == w);
        matches.then(|| fields[4].clone())
    })
}

fn split_passfile_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().expect("one field").push(n);
                }
            }
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// A rustls connector for the driver.
#[derive(Clone)]
struct RustlsConnect(Arc<rustls::ClientConfig>);

impl RustlsConnect {
    fn new(verify: bool, root_cert: Option<&std::path::Path>) -> Result<RustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let config = if !verify {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider))).with_no_client_auth()
        } else if let Some(path) = root_cert {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            let certs =
                CertificateDer::pem_file_iter(path).map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                roots.add(cert).map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder.with_platform_verifier().map_err(|e| e.to_string())?.with_no_client_auth()
        };
        Ok(RustlsConnect(Arc::new(config)))
    }
}

impl<S> MakeTlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnectOne;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnectOne> {
        // The driver asks for a connector for every host, a Unix socket's
        // too (domain ""), whatever the sslmode; a socket never negotiates
        // TLS, so a name that is no server name is an error only if used.
        let name = ServerName::try_from(domain.to_string()).map_err(|e| e.to_string());
        Ok(RustlsConnectOne { config: self.0.clone(), name })
    }
}

/// The connector for one host.
struct RustlsConnectOne {
    config: Arc<rustls::ClientConfig>,
    name: Result<ServerName<'static>, String>,
}

impl<S> TlsConnect<S> for RustlsConnectOne
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(self.config);
        Box::pin(async move {
            let name = self.name.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            Ok(RustlsStream(connector.connect(name, stream).await?))
        })
    }
}

/// A TLS stream for the driver (no channel binding: SCRAM works without).
struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// `sslmode=prefer|require`: encrypted, the certificate not checked (as libpq).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_leave_the_url() {
        let (url, v, root) =
            split_tls_options("postgres://u:p@h/db?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x");
        assert_eq!(url, "postgres://u:p@h/db?application_name=x");
        assert_eq!(v, Some(Verify::Full));
        assert_eq!(root, Some(PathBuf::from("/ca.pem")));
        assert_eq!(split_tls_options("postgres://h/db?sslmode=disable").0, "postgres://h/db");
    }

    #[test]
    fn passfile_lines_unescape() {
        assert_eq!(split_passfile_line(r"h:5432:*:u:pa\:ss\\"), vec!["h", "5432", "*", "u", r"pa:ss\"]);
    }
}
