//! When each source is due next, and why. Pure: the caller passes the time
//! and what the last response said; the answer comes with a reason that
//! `polyfeed sources` shows.

use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use sha2::{Digest, Sha256};

/// Longest wait we derive from server hints or back-off.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// What the last fetch told us.
#[derive(Debug, Clone, Default)]
pub struct DueInputs<'a> {
    /// The source's key (seeds the jitter, so it is stable per source).
    pub key: &'a str,
    /// The configured interval.
    pub interval: Duration,
    /// The global floor.
    pub min_interval: Duration,
    /// Consecutive failures including this fetch (0 after a success): the
    /// back-off step.
    pub errors: u32,
    /// With `errors` of 2 or more: the time from the previous failed request
    /// to this one, as the server saw it (a late cycle makes it longer).
    pub last_gap: Option<Duration>,
    /// `Retry-After` seconds.
    pub retry_after: Option<u64>,
    /// `Cache-Control: max-age` seconds.
    pub max_age: Option<u64>,
    /// `Expires` seconds from now.
    pub expires_in: Option<u64>,
    /// RSS `<ttl>` minutes.
    pub ttl_minutes: Option<u32>,
    /// Whether the server gave ETag or Last-Modified.
    pub has_validators: bool,
    /// `sy:updatePeriod` / `sy:updateFrequency`, seconds between updates.
    pub update_every: Option<u64>,
    /// RSS `<skipHours>` (GMT hours).
    pub skip_hours: &'a [u8],
    /// RSS `<skipDays>` (0 = Monday).
    pub skip_days: &'a [u8],
    /// Publication times of the source's newest entries (any order), for the
    /// adaptive interval.
    pub recent: &'a [DateTime<Utc>],
}

/// The next due time and a human-readable reason.
pub fn next_due(now: DateTime<Utc>, i: &DueInputs<'_>) -> (DateTime<Utc>, String) {
    let (wait, mut reason) = wait(now, i);
    let jitter = jitter(i.key, now, wait);
    let at = now + chrono::Duration::from_std(wait + jitter).unwrap_or(chrono::Duration::days(1));
    // Stored times are whole seconds: round up, never wait less.
    let at = at.duration_round_up(chrono::Duration::seconds(1)).unwrap_or(at);
    let allowed = skip(at, i.skip_hours, i.skip_days);
    if allowed != at {
        reason.push_str(", then skipHours/skipDays");
    }
    (allowed, reason)
}

/// The first time at or after `at` outside the skipped hours and days (GMT).
/// When the publisher skips every hour, the hints are ignored.
fn skip(at: DateTime<Utc>, hours: &[u8], days: &[u8]) -> DateTime<Utc> {
    use chrono::{Datelike, Timelike};
    let skipped = |t: DateTime<Utc>| {
        hours.contains(&(t.hour() as u8)) || days.contains(&(t.weekday().num_days_from_monday() as u8))
    };
    let mut t = at;
    for _ in 0..(8 * 24) {
        if !skipped(t) {
            return t;
        }
        t = t.duration_trunc(chrono::Duration::hours(1)).unwrap_or(t) + chrono::Duration::hours(1);
    }
    at
}

/// How often a source has published lately: the time from the oldest of its
/// newest entries until now, divided by their number.
fn publishing_gap(now: DateTime<Utc>, recent: &[DateTime<Utc>]) -> Option<Duration> {
    let past: Vec<&DateTime<Utc>> = recent.iter().filter(|t| **t <= now).collect();
    let oldest = past.iter().min()?;
    (now - **oldest).to_std().ok().map(|span| span / past.len() as u32)
}

fn wait(now: DateTime<Utc>, i: &DueInputs<'_>) -> (Duration, String) {
    let base = i.interval.max(i.min_interval);
    let reason = if i.interval < i.min_interval {
        format!("interval {} raised to the {} floor", fmt(i.interval), fmt(i.min_interval))
    } else {
        format!("interval {}", fmt(base))
    };
    if i.errors > 0 {
        // Back-off doubles the wait the source has without errors, so a
        // failing source is never polled more often than a healthy one.
        let (normal, why) = normal_wait(now, i, base, reason);
        let mut w = backoff(normal, i.errors, i.last_gap);
        if !why.starts_with("interval") {
            w.1 = format!("{} (doubling {why})", w.1);
        }
        if let Some(ra) = i.retry_after.map(Duration::from_secs).filter(|ra| *ra >= w.0) {
            w = (ra, format!("Retry-After {} (backoff step {})", fmt(ra), i.errors));
        }
        return w;
    }
    normal_wait(now, i, base, reason)
}

/// The wait without errors: `base` (the interval, at least the floor),
/// lengthened by the server's hints, the publishing rate and missing
/// validators.
fn normal_wait(now: DateTime<Utc>, i: &DueInputs<'_>, base: Duration, mut reason: String) -> (Duration, String) {
    let mut wait = base;
    let hints = [
        (i.max_age, "max-age"),
        (i.expires_in, "Expires"),
        (i.ttl_minutes.map(|m| u64::from(m) * 60), "ttl"),
        (i.update_every, "sy:updatePeriod"),
    ];
    for (secs, name) in hints {
        if let Some(d) = secs.map(Duration::from_secs).map(|d| d.min(MAX_WAIT)).filter(|d| *d > wait) {
            wait = d;
            reason = format!("{name} {}", fmt(d));
        }
    }
    // Adaptive: a source that posts rarely is polled less often (a quarter
    // of its usual gap between posts, never beyond a day).
    if let Some(gap) = publishing_gap(now, i.recent) {
        let adaptive = (gap / 4).min(MAX_WAIT);
        if adaptive > wait {
            wait = adaptive;
            reason =
                format!("adaptive: about one post every {}", fmt(Duration::from_secs(gap.as_secs() / 3600 * 3600)));
        }
    }
    if !i.has_validators && wait < base.saturating_mul(4).min(MAX_WAIT) {
        wait = base.saturating_mul(4).min(MAX_WAIT).max(base);
        reason = format!("no ETag or Last-Modified: every {}", fmt(wait));
    }
    (wait, reason)
}

/// The wait after `step` consecutive errors: `base` (the wait the source
/// has without errors) doubled once per step (the first error already waits
/// twice that), at most [`MAX_WAIT`] or `base` when that is longer. When the previous failed request came later than its own
/// step allowed (a long cycle before it, a stopped daemon), the wait is at
/// least twice the time between the last two failed requests instead, so
/// the gaps the server sees grow whatever delayed one of them. Jitter only
/// ever adds. The one back-off rule, for every kind of error.
pub fn backoff(base: Duration, step: u32, last_gap: Option<Duration>) -> (Duration, String) {
    let doubled = base.saturating_mul(1u32 << step.min(20));
    let previous = doubled / 2;
    // What the previous step could have waited: its wait, its jitter, and
    // the rounding of stored times to whole seconds.
    let allowed = previous + jitter_span(previous) + Duration::from_secs(2);
    let late_gap = last_gap.filter(|g| step >= 2 && *g > allowed && g.saturating_mul(2) > doubled);
    let cap = MAX_WAIT.max(base);
    let wait = late_gap.map_or(doubled, |g| g.saturating_mul(2)).min(cap).max(base);
    let errors = if step == 1 { "1 error".to_string() } else { format!("{step} errors in a row") };
    let why = match late_gap {
        Some(gap) if doubled < cap => {
            format!("backoff step {step} after {errors}: {} (twice the {} since the last try)", fmt(wait), fmt(gap))
        }
        _ => format!("backoff step {step} after {errors}: {}", fmt(wait)),
    };
    (wait, why)
}

/// The most jitter a wait gets: a tenth of it, at most 10 minutes.
fn jitter_span(wait: Duration) -> Duration {
    Duration::from_secs((wait.as_secs() / 10).min(600))
}

/// Up to a tenth of the wait (at most 10 minutes), derived from the source
/// and the time so that sources polled together spread out.
fn jitter(key: &str, now: DateTime<Utc>, wait: Duration) -> Duration {
    let span = jitter_span(wait).as_secs();
    if span == 0 {
        return Duration::ZERO;
    }
    let h = Sha256::digest(format!("{key}|{}", now.timestamp()));
    let n = u64::from_le_bytes(h[..8].try_into().unwrap_or([0; 8]));
    Duration::from_secs(n % span)
}

/// `3600s` -> `1h`, `5400s` -> `1h 30m`.
pub fn fmt(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> DueInputs<'static> {
        DueInputs {
            key: "k",
            interval: Duration::from_secs(3600),
            min_interval: Duration::from_secs(3600),
            has_validators: true,
            ..DueInputs::default()
        }
    }

    #[test]
    fn interval_floor_backoff_and_hints() {
        assert_eq!(wait(T, &inputs()), (Duration::from_secs(3600), "interval 1h".into()));
        let fast = DueInputs { interval: Duration::from_secs(60), ..inputs() };
        assert_eq!(wait(T, &fast).0, Duration::from_secs(3600));
        assert!(wait(T, &fast).1.contains("floor"));
        let failing = DueInputs { errors: 3, ..inputs() };
        assert_eq!(
            wait(T, &failing),
            (Duration::from_secs(8 * 3600), "backoff step 3 after 3 errors in a row: 8h".into())
        );
        let many = DueInputs { errors: 30, ..inputs() };
        assert_eq!(wait(T, &many).0, MAX_WAIT);
        let limited = DueInputs { errors: 1, retry_after: Some(7200), ..inputs() };
        assert_eq!(wait(T, &limited), (Duration::from_secs(7200), "Retry-After 2h (backoff step 1)".into()));
        let cached = DueInputs { max_age: Some(3 * 3600), ttl_minutes: Some(90), ..inputs() };
        assert_eq!(wait(T, &cached), (Duration::from_secs(3 * 3600), "max-age 3h".into()));
        let bare = DueInputs { has_validators: false, ..inputs() };
        assert_eq!(wait(T, &bare).0, Duration::from_secs(4 * 3600));
    }

    #[test]
    fn backoff_doubles_from_the_first_error_and_outgrows_a_late_gap() {
        let hour = Duration::from_secs(3600);
        let waits: Vec<u64> = (1..=6).map(|n| backoff(hour, n, None).0.as_secs() / 3600).collect();
        assert_eq!(waits, [2, 4, 8, 16, 24, 24], "doubling from the first error, capped at a day");
        assert_eq!(backoff(hour, 1, None).1, "backoff step 1 after 1 error: 2h");
        // The previous attempt came 5h after the one before (a late cycle):
        // the next wait is at least twice that, not the scheduled 4h.
        let (w, why) = backoff(hour, 2, Some(5 * hour));
        assert_eq!(w, 10 * hour);
        assert_eq!(why, "backoff step 2 after 2 errors in a row: 10h (twice the 5h since the last try)");
        assert_eq!(backoff(hour, 2, Some(hour)).0, 4 * hour, "an early gap never shortens the step");
        assert_eq!(backoff(hour, 1, Some(9 * hour)).0, 2 * hour, "after a success the gap does not count");
        assert_eq!(backoff(hour, 3, Some(20 * hour)).0, MAX_WAIT);
        // A gap within the step and its jitter is on time: no compounding.
        let on_time = 2 * hour + Duration::from_secs(599);
        assert_eq!(backoff(hour, 2, Some(on_time)).0, 4 * hour);
        // Small intervals (tests, aggressive configs) follow the same rule.
        let second = Duration::from_secs(1);
        let small: Vec<u64> = (1..=4).map(|n| backoff(second, n, None).0.as_secs()).collect();
        assert_eq!(small, [2, 4, 8, 16]);
    }

    #[test]
    fn backoff_doubles_the_wait_a_healthy_source_would_have() {
        let hour = Duration::from_secs(3600);
        let step = |i: DueInputs<'_>, n: u32| wait(T, &DueInputs { errors: n, ..i }).0.as_secs() / 3600;
        // ttl 3h: healthy every 3h, so a failing one waits 6h, then 12h.
        let ttl = DueInputs { ttl_minutes: Some(180), ..inputs() };
        assert_eq!((step(ttl.clone(), 0), step(ttl.clone(), 1), step(ttl.clone(), 2)), (3, 6, 12));
        assert_eq!(wait(T, &DueInputs { errors: 1, ..ttl }).1, "backoff step 1 after 1 error: 6h (doubling ttl 3h)");
        // No validators: healthy every 4h, failing 8h, 16h.
        let bare = DueInputs { has_validators: false, ..inputs() };
        assert_eq!((step(bare.clone(), 0), step(bare.clone(), 1), step(bare, 2)), (4, 8, 16));
        let syn = DueInputs { update_every: Some(5 * 3600), ..inputs() };
        assert_eq!(step(syn, 1), 10);
        // An interval over a day: the cap is the normal wait, never shorter.
        let slow = DueInputs { interval: 48 * hour, ..inputs() };
        assert_eq!((step(slow.clone(), 0), step(slow.clone(), 1), step(slow, 5)), (48, 48, 48));
        assert_eq!(backoff(30 * hour, 3, Some(100 * hour)).0, 30 * hour);
        // Never more often than healthy, at any step.
        for hints in [
            inputs(),
            DueInputs { ttl_minutes: Some(600), ..inputs() },
            DueInputs { max_age: Some(20 * 3600), ..inputs() },
        ] {
            for n in 1..8 {
                assert!(step(hints.clone(), n) >= step(hints.clone(), 0), "{hints:?} step {n}");
            }
        }
    }

    #[test]
    fn jitter_never_undoes_a_backoff_step() {
        for key in ["a", "b", "c", "d"] {
            let mut last = Duration::ZERO;
            for n in 1..=5 {
                let i = DueInputs { key, errors: n, ..inputs() };
                let (at, _) = next_due(T, &i);
                let w = (at - T).to_std().unwrap();
                assert!(w > last, "{key} step {n}: {w:?} after {last:?}");
                assert!(w.as_secs() >= 3600 << n.min(4), "{w:?}");
                last = w;
            }
        }
    }

    const T: DateTime<Utc> = DateTime::from_timestamp(1_800_000_000, 0).unwrap(); // 2027-01-15T08:00:00Z, a Friday

    #[test]
    fn sy_update_period_and_adaptive_interval() {
        let sy = DueInputs { update_every: Some(6 * 3600), ..inputs() };
        assert_eq!(wait(T, &sy), (Duration::from_secs(6 * 3600), "sy:updatePeriod 6h".into()));
        let days = |d: i64| T - chrono::Duration::days(d);
        let every_other_day = [days(2), days(4), days(6)];
        let slow = DueInputs { recent: &every_other_day, ..inputs() };
        let (w, why) = wait(T, &slow);
        assert_eq!(w, Duration::from_secs(12 * 3600));
        assert_eq!(why, "adaptive: about one post every 2days");
        let busy = [T - chrono::Duration::minutes(10), T - chrono::Duration::minutes(40)];
        assert_eq!(wait(T, &DueInputs { recent: &busy, ..inputs() }).1, "interval 1h");
        let dead = [days(400)];
        assert_eq!(wait(T, &DueInputs { recent: &dead, ..inputs() }).0, MAX_WAIT);
    }

    #[test]
    fn skip_hours_and_days_move_the_due_time() {
        use chrono::{Datelike, Timelike};
        let night = [8u8, 9, 10];
        let i = DueInputs { skip_hours: &night, ..inputs() };
        let (at, why) = next_due(T, &i);
        assert_eq!(at.hour(), 11);
        assert_eq!(at.minute(), 0);
        assert!(why.ends_with("then skipHours/skipDays"), "{why}");
        let weekend = [4u8, 5, 6];
        let (at, _) = next_due(T, &DueInputs { skip_days: &weekend, ..inputs() });
        assert_eq!(at.weekday(), chrono::Weekday::Mon);
        let all: Vec<u8> = (0..24).collect();
        let (at, why) = next_due(T, &DueInputs { skip_hours: &all, ..inputs() });
        assert!(at < T + chrono::Duration::hours(2), "skipping every hour is ignored");
        assert!(!why.contains("skip"));
    }

    #[test]
    fn jitter_is_bounded_and_stable() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (a, _) = next_due(now, &inputs());
        let (b, _) = next_due(now, &inputs());
        assert_eq!(a, b);
        let delta = (a - now).num_seconds();
        assert!((3600..3600 + 360).contains(&delta), "{delta}");
    }
}
