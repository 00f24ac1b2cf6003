//! The wall clock, with one seam for tests: `POLYFEED_NOW` (RFC 3339) shifts
//! the process's clock to start at that time, so scheduling can be tested
//! across hours in seconds. Only the IO layers (pipeline, cli) read it; pure
//! modules get the time as a value.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};

/// The environment variable that shifts the clock (for tests).
pub const ENV: &str = "POLYFEED_NOW";

fn offset() -> Duration {
    static OFFSET: OnceLock<Duration> = OnceLock::new();
    *OFFSET.get_or_init(|| {
        std::env::var(ENV)
            .ok()
            .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
            .map(|t| t.with_timezone(&Utc) - Utc::now())
            .unwrap_or_else(Duration::zero)
    })
}

/// The current time (shifted when `POLYFEED_NOW` is set).
pub fn now() -> DateTime<Utc> {
    Utc::now() + offset()
}
