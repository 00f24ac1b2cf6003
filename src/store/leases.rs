//! Leases, so that processes sharing one database (nodes) poll each source
//! once and keep per-host limits together: the nodes table (who is alive),
//! claims on due sources, and leases on hosts. Every lease carries the
//! holder's token and an expiry; the holder renews it while it works, so a
//! node that dies loses its leases when they run out, and a process seen
//! dead on the same machine loses them at once.
//!
//! A node that claims a source also leases the source's host: no other node
//! requests from that host (feeds or entry pages) until the holder releases
//! it at the end of its cycle, with the start of its last request there, so
//! the next holder keeps the spacing. Claims take turns (SQLite's IMMEDIATE
//! transaction; an advisory lock on PostgreSQL): each sees the claims
//! before it, whatever the isolation level.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::db::{Context, Db, p};
use super::sources::{Claimed, lock_sources};
use super::{Store, StoreError, parse_ts, ts};

/// How long a node's row stays after it was last seen (a node that stopped
/// is listed as gone for a day, then forgotten).
const FORGET_NODES_AFTER: chrono::Duration = chrono::Duration::days(1);

/// What a claim gave this node.
#[derive(Debug, Default)]
pub struct Claim {
    /// The sources to fetch, by id.
    pub sources: Vec<Claimed>,
    /// Hosts now leased to this node, with the start of the last request to
    /// each (by any node), for spacing the first one.
    pub hosts: HashMap<String, Option<DateTime<Utc>>>,
}

/// A node that shares the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeRow {
    /// Its name.
    pub name: String,
    /// When it started.
    pub started_at: String,
    /// When it last renewed its leases.
    pub seen_at: String,
    /// Whether it renewed them within the lease.
    pub alive: bool,
}

/// How a claim chooses.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// The time now.
    pub now: DateTime<Utc>,
    /// Leases run until then unless renewed.
    pub until: DateTime<Utc>,
    /// Claim every source, due or not (`poll --all`), and not only a share.
    pub all: bool,
    /// This process's lease token.
    pub token: &'a str,
    /// This process's node name.
    pub node: &'a str,
}

impl Store {
    /// Records this node as alive (and forgets nodes long gone).
    pub fn node_seen(&mut self, token: &str, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.db.transaction(true).ctx("cannot record the node")?;
        lock_sources(&tx)?;
        seen(&tx, token, name, now)?;
        tx.execute("DELETE FROM nodes WHERE seen_at < ?1", p![ts(now - FORGET_NODES_AFTER)])
            .ctx("cannot forget old nodes")?;
        tx.commit().ctx("cannot record the node")
    }

    /// Removes this node's row and gives up its leases (a clean stop).
    pub fn node_gone(&mut self, token: &str) -> Result<(), StoreError> {
        let tx = self.db.transaction(true).ctx("cannot release leases")?;
        lock_sources(&tx)?;
        release_all(&tx, token, crate::clock::now())?;
        tx.execute("DELETE FROM nodes WHERE token = ?1", p![token]).ctx("cannot release leases")?;
        tx.commit().ctx("cannot release leases")
    }

    /// The nodes seen within a day, alive ones (seen after `alive_since`) first.
    pub fn nodes(&self, alive_since: DateTime<Utc>) -> Result<Vec<NodeRow>, StoreError> {
        let mut rows = self
            .db
            .query_map("SELECT name, started_at, seen_at FROM nodes ORDER BY name, started_at", &[], |r| {
                Ok(NodeRow { name: r.get(0)?, started_at: r.get(1)?, seen_at: r.get(2)?, alive: false })
            })
            .ctx("cannot list nodes")?;
        for n in &mut rows {
            n.alive = parse_ts(&n.seen_at).is_some_and(|t| t > alive_since);
        }
        rows.sort_by_key(|n| !n.alive);
        Ok(rows)
    }

    /// Claims the sources that are due (all of them with `all`), so that no
    /// other process polls them until the lease ends, and leases their
    /// hosts. Sources that are gone or no longer configured are never
    /// claimed; neither are sources on a host another live node holds.
    /// Without `all`, a node takes its share: the claimable sources divided
    /// by the live nodes not busy with claims of their own (whole hosts, in
    /// source order), so that nodes waking together split the work evenly. Leases of processes that `is_dead`
    /// says have died are taken over at once; `host_of` names a URL's host
    /// (`None`: no host to be polite to, such as a local file).
    pub fn claim_due(
        &mut self,
        req: ClaimRequest<'_>,
        is_dead: impl Fn(&str) -> bool,
        host_of: impl Fn(&str) -> Option<String>,
    ) -> Result<Claim, StoreError> {
        let ClaimRequest { now, until, all, token, node } = req;
        let tx = self.db.transaction(true).ctx("cannot claim sources")?;
        lock_sources(&tx)?;
        release_dead(&tx, now, &is_dead)?;
        seen(&tx, token, node, now)?;
        let busy: HashSet<String> = tx
            .query_map(
                "SELECT host FROM host_leases WHERE holder IS NOT NULL AND holder <> ?1 AND until > ?2",
                p![token, ts(now)],
                |r| r.get(0),
            )
            .ctx("cannot read host leases")?
            .into_iter()
            .collect();
        let candidates = tx
            .query_map(
                "SELECT id, key, url, etag, last_modified, error_count, feed_hints, last_fetch_at,
                        last_ok_at IS NOT NULL
                 FROM sources
                 WHERE in_config = 1 AND gone = 0
                   AND (claimed_until IS NULL OR claimed_until <= ?1)
                   AND (?2 OR next_due_at IS NULL OR next_due_at <= ?1)
                 ORDER BY id",
                p![ts(now), all],
                claimed_row,
            )
            .ctx("cannot read due sources")?;
        // Whole hosts, in the order of their first source; a source without
        // a host is a group of its own.
        let mut groups: BTreeMap<(Option<String>, i64), Vec<Claimed>> = BTreeMap::new();
        let mut first_of_host: HashMap<String, i64> = HashMap::new();
        for c in candidates {
            let host = host_of(&c.url);
            if host.as_ref().is_some_and(|h| busy.contains(h)) {
                continue;
            }
            let key = match host {
                Some(h) => {
                    let first = *first_of_host.entry(h.clone()).or_insert(c.id);
                    (Some(h), first)
                }
                None => (None, c.id),
            };
            groups.entry(key).or_default().push(c);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by_key(|((_, first), _)| *first);
        let claimable: usize = groups.iter().map(|(_, g)| g.len()).sum();
        let share = if all {
            claimable
        } else {
            let live = live_nodes(&tx, now, until, token)?;
            claimable.div_ceil(live.max(1))
        };
        let mut claim = Claim::default();
        for ((host, _), sources) in groups {
            if claim.sources.len() >= share {
                break;
            }
            if let Some(h) = host {
                claim.hosts.insert(h, None);
            }
            claim.sources.extend(sources);
        }
        let mut ids: Vec<i64> = claim.sources.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        for id in ids {
            tx.execute(
                "UPDATE sources SET claimed_until = ?1, claim_token = ?2 WHERE id = ?3",
                p![ts(until), token, id],
            )
            .ctx("cannot claim sources")?;
        }
        for (host, last) in &mut claim.hosts {
            *last = take_host(&tx, host, token, now, until)?;
        }
        tx.commit().ctx("cannot commit claims")?;
        Ok(claim)
    }

    /// Leases the hosts that no other live node holds (for entry pages);
    /// returns the ones this node now holds, with the start of the last
    /// request to each.
    pub fn lease_hosts(
        &mut self,
        hosts: &[String],
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        token: &str,
        is_dead: impl Fn(&str) -> bool,
    ) -> Result<HashMap<String, Option<DateTime<Utc>>>, StoreError> {
        let tx = self.db.transaction(true).ctx("cannot lease hosts")?;
        lock_sources(&tx)?;
        release_dead(&tx, now, &is_dead)?;
        let mut granted = HashMap::new();
        for host in hosts {
            let held: Option<(Option<String>, Option<String>)> = tx
                .query_opt("SELECT holder, until FROM host_leases WHERE host = ?1", p![host], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .ctx("cannot read host leases")?;
            let free = match held {
                None | Some((None, _)) => true,
                Some((Some(holder), until)) => {
                    holder == token || until.as_deref().and_then(parse_ts).is_none_or(|u| u <= now)
                }
            };
            if free {
                granted.insert(host.clone(), take_host(&tx, host, token, now, until)?);
            }
        }
        tx.commit().ctx("cannot lease hosts")?;
        Ok(granted)
    }

    /// Extends every lease this process holds (sources and hosts) and marks
    /// the node alive.
    pub fn renew_leases(&mut self, token: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.db.transaction(true).ctx("cannot renew leases")?;
        lock_sources(&tx)?;
        tx.execute("UPDATE sources SET claimed_until = ?1 WHERE claim_token = ?2", p![ts(until), token])
            .ctx("cannot renew leases")?;
        tx.execute("UPDATE host_leases SET until = ?1 WHERE holder = ?2", p![ts(until), token])
            .ctx("cannot renew leases")?;
        tx.execute("UPDATE nodes SET seen_at = ?1 WHERE token = ?2", p![ts(now), token]).ctx("cannot renew leases")?;
        tx.commit().ctx("cannot renew leases")
    }

    /// Gives up this process's host leases, recording when the last request
    /// to each started (to the millisecond: the next holder's spacing
    /// counts from it).
    pub fn release_hosts(&mut self, token: &str, last: &[(String, DateTime<Utc>)]) -> Result<(), StoreError> {
        let tx = self.db.transaction(true).ctx("cannot release hosts")?;
        lock_sources(&tx)?;
        for (host, at) in last {
            tx.execute(
                "UPDATE host_leases SET last_request_at = ?1 WHERE host = ?2 AND holder = ?3",
                p![millis(*at), host, token],
            )
            .ctx("cannot release hosts")?;
        }
        tx.execute("UPDATE host_leases SET holder = NULL, until = NULL WHERE holder = ?1", p![token])
            .ctx("cannot release hosts")?;
        tx.commit().ctx("cannot release hosts")
    }

    /// Whether story assignment should leave the waiting entries to
    /// another node: one that holds live leases is fetching, and assigns
    /// at the end of its cycle what all nodes stored, in one batch, as a
    /// single node would. Not once the oldest waiting entry was stored
    /// `patience` ago (nodes that never stop overlapping still assign).
    /// Gives the token of that node.
    pub fn assignment_waits_for_others(
        &self,
        token: &str,
        now: DateTime<Utc>,
        patience: chrono::Duration,
    ) -> Result<Option<String>, StoreError> {
        let busy: Option<String> = self
            .db
            .query_opt(
                "SELECT claim_token FROM sources WHERE claim_token <> ?1 AND claimed_until > ?2
                 UNION ALL SELECT holder FROM host_leases WHERE holder <> ?1 AND until > ?2
                 LIMIT 1",
                p![token, ts(now)],
                |r| r.get(0),
            )
            .ctx("cannot read leases")?;
        let Some(busy) = busy else {
            return Ok(None);
        };
        let oldest: Option<String> = self
            .db
            .query_row(
                "SELECT MIN(e.first_seen_at) FROM story_pending sp JOIN entries e ON e.id = sp.entry_id",
                &[],
                |r| r.get(0),
            )
            .ctx("cannot read waiting entries")?;
        let waits = oldest.as_deref().and_then(parse_ts).is_none_or(|t| t > now - patience);
        Ok(waits.then_some(busy))
    }

    /// Releases a claim without recording anything (e.g. on shutdown).
    pub fn release(&mut self, source_id: i64) -> Result<(), StoreError> {
        self.db
            .execute("UPDATE sources SET claimed_until = NULL, claim_token = NULL WHERE id = ?1", p![source_id])
            .ctx("cannot release claim")
            .map(|_| ())
    }
}

fn claimed_row(r: &super::db::Row) -> Result<Claimed, super::db::DbError> {
    Ok(Claimed {
        id: r.get(0)?,
        key: r.get(1)?,
        url: r.get(2)?,
        etag: r.get(3)?,
        last_modified: r.get(4)?,
        error_count: r.get(5)?,
        last_fetch_at: r.get::<Option<String>>(7)?.as_deref().and_then(parse_ts),
        ever_ok: r.get(8)?,
        hints: r.get::<Option<String>>(6)?.and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default(),
    })
}

/// Records node `token` (named `name`) as alive at `now`.
fn seen(tx: &Db, token: &str, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO nodes (token, name, started_at, seen_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (token) DO UPDATE SET seen_at = ?3",
        p![token, name, ts(now)],
    )
    .ctx("cannot record the node")
    .map(|_| ())
}

/// Drops the leases of holders that `is_dead` says have died.
fn release_dead(tx: &Db, now: DateTime<Utc>, is_dead: &impl Fn(&str) -> bool) -> Result<(), StoreError> {
    let holders: Vec<String> = tx
        .query_map(
            "SELECT claim_token FROM sources WHERE claim_token IS NOT NULL AND claimed_until > ?1
             UNION SELECT holder FROM host_leases WHERE holder IS NOT NULL AND until > ?1
             UNION SELECT token FROM nodes WHERE seen_at > ?2
             ORDER BY 1",
            p![ts(now), ts(now - FORGET_NODES_AFTER)],
            |r| r.get(0),
        )
        .ctx("cannot read leases")?;
    for dead in holders.iter().filter(|t| is_dead(t)) {
        release_all(tx, dead, now)?;
        tx.execute("DELETE FROM nodes WHERE token = ?1", p![dead]).ctx("cannot release a dead node's leases")?;
    }
    Ok(())
}

/// Drops every lease of `token`. Its hosts count as asked `now`: it may
/// have sent a request just before (the next holder waits one delay).
fn release_all(tx: &Db, token: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute("UPDATE sources SET claimed_until = NULL, claim_token = NULL WHERE claim_token = ?1", p![token])
        .ctx("cannot release leases")?;
    tx.execute(
        "UPDATE host_leases SET holder = NULL, until = NULL, last_request_at = ?2 WHERE holder = ?1",
        p![token, millis(now)],
    )
    .ctx("cannot release leases")?;
    Ok(())
}

/// A request time, to the millisecond.
fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The nodes that share what is claimable now, this one included: alive
/// (seen within one lease period) and not busy with claims of their own
/// (a node that took its share is not counted again).
fn live_nodes(tx: &Db, now: DateTime<Utc>, until: DateTime<Utc>, token: &str) -> Result<usize, StoreError> {
    let period = until - now;
    let n: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM nodes n WHERE n.token <> ?1 AND n.seen_at > ?2
               AND NOT EXISTS (SELECT 1 FROM sources s WHERE s.claim_token = n.token AND s.claimed_until > ?3)",
            p![token, ts(now - period), ts(now)],
            |r| r.get(0),
        )
        .ctx("cannot count nodes")?;
    Ok(usize::try_from(n).unwrap_or(0) + 1)
}

/// Leases `host` to `token` until `until`; the last request's start. A
/// host taken from a holder whose lease ran out counts as asked `now` (the
/// holder may have sent a request just before).
fn take_host(
    tx: &Db,
    host: &str,
    token: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let last: Option<Option<String>> = tx
        .query_opt(
            "INSERT INTO host_leases (host, holder, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (host) DO UPDATE SET holder = ?2, until = ?3,
                 last_request_at = CASE WHEN host_leases.holder IS NOT NULL AND host_leases.holder <> ?2
                                        THEN ?4 ELSE host_leases.last_request_at END
             RETURNING last_request_at",
            p![host, token, ts(until), millis(now)],
            |r| r.get(0),
        )
        .ctx("cannot lease a host")?;
    Ok(last.flatten().as_deref().and_then(parse_ts))
}
