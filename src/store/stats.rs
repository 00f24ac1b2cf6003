//! What the operational endpoints read: sources by state, entries and
//! stories stored, and the end of the last completed poll cycle (written by
//! whichever process polled: `run`, or `poll` from cron).

use super::db::{Context, p};
use super::{Store, StoreError, parse_ts, ts};
use chrono::{DateTime, Utc};

/// The `poll_state` key of the last completed cycle's end time.
const LAST_CYCLE: &str = "last_cycle_at";

/// Counts for `/metrics`, read at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Sources per state, sorted by state: `ok`, `not_modified`, `failed`
    /// (the last poll's outcome), `pending` (never polled), `gone` (410),
    /// `removed` (no longer in the config).
    pub sources_by_state: Vec<(String, u64)>,
    /// Entries stored.
    pub entries: u64,
    /// Stories that hold entries (a merged-away story no longer counts).
    pub stories: u64,
    /// End of the last completed poll cycle.
    pub last_cycle: Option<DateTime<Utc>>,
}

impl Store {
    /// Records that a poll cycle completed at `at`.
    pub fn record_cycle(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO poll_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
                p![LAST_CYCLE, ts(at)],
            )
            .ctx("cannot record the poll cycle")
            .map(|_| ())
    }

    /// When the last poll cycle completed (`None`: never).
    pub fn last_cycle(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let value: Option<String> = self
            .db
            .query_opt("SELECT value FROM poll_state WHERE key = ?1", p![LAST_CYCLE], |r| r.get(0))
            .ctx("cannot read the last poll cycle")?;
        Ok(value.as_deref().and_then(parse_ts))
    }

    /// Everything `/metrics` reads from the database.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let sources_by_state = self
            .db
            .query_map(
                "SELECT CASE WHEN in_config = 0 THEN 'removed' WHEN gone <> 0 THEN 'gone'
                             ELSE COALESCE(last_outcome, 'pending') END AS state, COUNT(*)
                 FROM sources GROUP BY 1 ORDER BY 1",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx("cannot count sources")?;
        let count = |sql: &str| self.db.query_row(sql, &[], |r| r.get::<u64>(0)).ctx("cannot count rows");
        Ok(StoreStats {
            sources_by_state,
            entries: count("SELECT COUNT(*) FROM entries")?,
            stories: count("SELECT COUNT(DISTINCT story_id) FROM story_entries")?,
            last_cycle: self.last_cycle()?,
        })
    }
}
