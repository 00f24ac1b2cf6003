//! One poll cycle, top to bottom: sync sources from the config, claim the
//! due ones, fetch them concurrently (bounded globally and per host), parse
//! and normalise each on a `cpu` thread, and store them in groups (a writer
//! thread, one transaction per group); then entry pages, story assignment
//! and reconciliation. A source's failure is recorded on it and never stops
//! the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;
use tracing::{Instrument, debug, error_span, warn};

use crate::config::{Config, Location, SourceConfig};
use crate::fetch::{FetchError, Fetched, Fetcher, ResponseMeta, Validators};
use crate::hosts::{HostGate, Hosts, LeaseKeeper, lease_end};
use crate::model::RawEntry;
use crate::schedule::{self, DueInputs};
use crate::store::{ClaimRequest, Claimed, FetchRecord, FetchToSave, Outcome, SaveStats, Store, StoreError};
use crate::stories::StoryRules;
use crate::{normalise, parse};

/// How many leases waiting entries are left to a node still fetching.
const ASSIGN_PATIENCE_LEASES: u32 = 5;

/// How many recent entries the adaptive interval looks at.
const RECENT_FOR_ADAPTIVE: usize = 10;

/// What gives freed memory back to the system between a cycle's fetch
/// phase and its story assignment, and at the end of a cycle that stored
/// entries, if the binary set one ([`set_memory_release`]).
static MEMORY_RELEASE: OnceLock<fn()> = OnceLock::new();

/// Sets what a cycle calls between its fetch phase and story assignment,
/// and at its end when it stored entries (before the publish after it), to
/// give freed memory back to the system (the binary: glibc's `malloc_trim`
/// and jemalloc's purge; the library has no `unsafe`). Assignment's thread
/// allocates in one of the allocator's arenas; what the fetch phase freed
/// in the others would otherwise stay part of the process's memory through
/// assignment, its peak (BENCHMARKS.md, session 18). Set once; later calls
/// change nothing.
pub fn set_memory_release(release: fn()) {
    let _ = MEMORY_RELEASE.set(release);
}

/// What the binary calls, once per process, when a cycle first has a
/// feed's body to read ([`set_bulk_work`]).
static BULK_WORK: OnceLock<fn()> = OnceLock::new();

/// Whether [`BULK_WORK`] was called.
static BULK_WORK_BEGUN: std::sync::Once = std::sync::Once::new();

/// Sets what a cycle calls, once per process, when it first has a feed's
/// body to read (the binary: its allocator keeps freed memory for reuse
/// from then on, since reading, features and storing allocate and free
/// much; until then it gives freed memory back at once, so that a poll of
/// unchanged feeds keeps a small footprint). Set once; later calls change
/// nothing.
pub fn set_bulk_work(begin: fn()) {
    let _ = BULK_WORK.set(begin);
}

/// Calls what [`set_bulk_work`] set, the first time only.
fn bulk_work_begins() {
    if let Some(begin) = BULK_WORK.get() {
        BULK_WORK_BEGUN.call_once(begin);
    }
}

/// Options of one cycle.
#[derive(Clone, Default)]
pub struct PollOptions {
    /// Poll every source, due or not (requests stay conditional).
    pub all: bool,
    /// Told as the cycle goes (the interactive progress bar).
    pub progress: Option<Arc<dyn Progress>>,
    /// Where the daemon counts fetches and their durations (`/metrics`).
    pub metrics: Option<Arc<crate::observe::Registry>>,
}

impl std::fmt::Debug for PollOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollOptions")
            .field("all", &self.all)
            .field("progress", &self.progress.is_some())
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

/// Listens to a cycle as it runs. Every method has an empty default.
pub trait Progress: Send + Sync {
    /// The cycle claimed this many sources.
    fn start(&self, _sources: usize) {}
    /// One source finished (in completion order).
    fn source_done(&self, _report: &SourceReport) {}
    /// Fetching is over; story assignment of the new entries begins.
    fn assigning(&self) {}
}

/// What happened to one source in a cycle.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// The configured URL.
    pub url: String,
    /// Display name.
    pub name: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// HTTP status.
    pub status: Option<u16>,
    /// Entries new and updated.
    pub stats: SaveStats,
    /// Why it failed.
    pub error: Option<String>,
}

/// The result of a cycle.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Per source, in completion order.
    pub sources: Vec<SourceReport>,
    /// What story assignment did with the new entries.
    pub stories: crate::stories::AssignStats,
    /// Entry pages fetched for `follow_pages`.
    pub pages: u64,
    /// Merges and splits by late evidence and overrides, with warnings.
    pub reevaluated: crate::stories::ReconcileStats,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Wall time of each phase of the cycle, in seconds.
    pub phases: Phases,
    /// Peak resident memory of the process so far, KiB (Linux only).
    pub peak_rss_kib: Option<u64>,
    /// Entries were left waiting for their stories because another node
    /// was fetching (it assigns them at the end of its cycle). A daemon
    /// comes back soon in case that node stops before it does.
    #[serde(skip)]
    pub stories_left_waiting: bool,
}

/// Wall time of each phase of a cycle, in seconds (`poll --json`; the
/// benchmarks read story assignment's share from it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Phases {
    /// Fetching, parsing and storing every due source (concurrently).
    pub fetch: f64,
    /// Entry pages for `follow_pages`.
    pub pages: f64,
    /// Story assignment of the entries without a story.
    pub assign: f64,
    /// Re-evaluation by late evidence and overrides.
    pub reconcile: f64,
}

impl Summary {
    fn count(&self, o: Outcome) -> usize {
        self.sources.iter().filter(|s| s.outcome == o).count()
    }

    /// Sources that failed.
    pub fn failed(&self) -> usize {
        self.count(Outcome::Failed)
    }

    /// Entries stored for the first time.
    pub fn new_entries(&self) -> u64 {
        self.sources.iter().map(|s| s.stats.new).sum()
    }

    /// Entries whose content changed.
    pub fn updated_entries(&self) -> u64 {
        self.sources.iter().map(|s| s.stats.updated).sum()
    }

    /// The one line `poll` prints.
    pub fn line(&self) -> String {
        format!(
            "polled {} source{}: {} ok, {} not modified, {} failed; {} new entries, {} updated; {} new stories, {} language versions, {} duplicates ({:.2} s)",
            self.sources.len(),
            if self.sources.len() == 1 { "" } else { "s" },
            self.count(Outcome::Ok),
            self.count(Outcome::NotModified),
            self.failed(),
            self.new_entries(),
            self.updated_entries(),
            self.stories.new_stories,
            self.stories.versions,
            self.stories.duplicates,
            self.seconds
        ) + &self.extra()
    }

    /// Pages fetched and stories re-evaluated, when any.
    fn extra(&self) -> String {
        let mut parts = Vec::new();
        if self.pages > 0 {
            parts.push(format!("{} entry pages fetched", self.pages));
        }
        if self.reevaluated.merged > 0 {
            parts.push(format!("{} stories merged", self.reevaluated.merged));
        }
        if self.reevaluated.split > 0 {
            parts.push(format!("{} stories split off", self.reevaluated.split));
        }
        if parts.is_empty() { String::new() } else { format!("; {}", parts.join(", ")) }
    }

    /// True when stories changed without new or updated entries (a merge,
    /// a split): published feeds need rendering again.
    pub fn restructured(&self) -> bool {
        self.reevaluated.changed()
    }
}

/// Errors that stop a whole cycle (a single source's problems never do).
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The database could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A worker thread died.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The store shared between the async workers and blocking threads.
pub type SharedStore = Arc<Mutex<Store>>;

/// Runs one cycle over the due sources.
pub async fn poll(config: &Config, opts: &PollOptions) -> Result<Summary, PollError> {
    let store = open_store(config).await?;
    poll_with(&store, config, opts).await
}

/// Runs one cycle with an open store (the daemon keeps one).
pub async fn poll_with(store: &SharedStore, config: &Config, opts: &PollOptions) -> Result<Summary, PollError> {
    let started = Instant::now();
    let store = store.clone();
    let now = crate::clock::now();
    let lease = config.fetch.lease;
    let token = crate::node::token();
    let claim = {
        let (store, all) = (store.clone(), opts.all);
        let req = ClaimRequest { now, until: lease_end(now, lease), all, token, node: crate::node::name() };
        blocking(move || lock(&store).claim_due(req, crate::node::is_dead, host_of)).await??
    };
    let _renewing = LeaseKeeper::start(&store, lease);
    let claimed = claim.sources;
    let mut hosts = Hosts::new(&config.fetch);
    hosts.hold(claim.hosts);
    if let Some(p) = &opts.progress {
        p.start(claimed.len());
    }
    let fetcher = Fetcher::new(&config.fetch)?;
    let shared = Arc::new(config.clone());
    let by_key: HashMap<&str, &SourceConfig> = config.sources.iter().map(|s| (s.key.as_str(), s)).collect();
    let global = Arc::new(Semaphore::new(config.fetch.concurrency));
    // As many as `cpu` has threads: one per core, and one more, which
    // keeps both cores busy while the writer thread takes a share of one.
    let cpu = Arc::new(Semaphore::new(crate::cpu::threads()));
    let writer = Arc::new(Writer::default());
    // Parsed fetches waiting for the writer, at most: a `cpu` thread goes
    // on to the next feed instead of waiting for the store, and no more
    // than this many fetches' entries are held while the store is behind.
    let unsaved = Arc::new(Semaphore::new(2 * crate::cpu::threads()));

    let mut tasks = tokio::task::JoinSet::new();
    for c in claimed {
        let Some(src) = by_key.get(c.key.as_str()).map(|s| (*s).clone()) else {
            continue;
        };
        let gate = host_of(&c.url).and_then(|h| hosts.gate(&h));
        // At error level so that it is on whatever the filter: every line
        // logged for this source, warnings included, names it.
        let span = error_span!("source", url = %c.url, source_name = src.name.as_deref().unwrap_or(""));
        let job = Job {
            src,
            claimed: c,
            config: shared.clone(),
            fetcher: fetcher.clone(),
            store: store.clone(),
            metrics: opts.metrics.clone(),
            cpu: cpu.clone(),
            unsaved: unsaved.clone(),
            writer: writer.clone(),
        };
        let global = global.clone();
        tasks.spawn(
            async move {
                let _admitted = admit(gate.as_deref(), global).await;
                job.run().await
            }
            .instrument(span),
        );
    }
    let mut summary = Summary::default();
    while let Some(r) = tasks.join_next().await {
        let report = r.map_err(|e| PollError::Internal(e.to_string()))?;
        if let Some(p) = &opts.progress {
            p.source_done(&report);
        }
        summary.sources.push(report);
    }
    summary.phases.fetch = started.elapsed().as_secs_f64();
    let phase = Instant::now();
    // Entry pages next (same client and host gates), so that assignment
    // already sees the links they give.
    // A failure here (the database, a worker) costs the pages of this
    // cycle, never the stories of the feeds already stored.
    summary.pages = match crate::follow::follow_pages(&store, config, &fetcher, &mut hosts, &global).await {
        Ok(n) => n,
        Err(e) => {
            warn!(error = %e, "entry pages not read this cycle");
            0
        }
    };
    // Requests are over: other nodes may have the hosts (spaced from ours).
    let (s, last) = (store.clone(), hosts.last_requests());
    if let Err(e) = blocking(move || lock(&s).release_hosts(token, &last)).await? {
        warn!(error = %e, "cannot release this node's hosts; they return when the lease ends");
    }
    summary.phases.pages = phase.elapsed().as_secs_f64();
    let phase = Instant::now();
    let rules = Arc::new(StoryRules::from_config(config));
    // Entries wait for a fetching node at most this long (a cold cycle
    // runs for minutes; nodes that overlap forever still assign).
    let patience = chrono::Duration::from_std(lease * ASSIGN_PATIENCE_LEASES).unwrap_or_default();
    let others = lock(&store).assignment_waits_for_others(token, crate::clock::now(), patience)?;
    if let Some(other) = others {
        let node = crate::node::holder_name(&other);
        debug!(node, "another node is fetching: it assigns the waiting entries at the end of its cycle");
        summary.stories_left_waiting = true;
    } else if summary.new_entries() > 0 || lock(&store).has_unassigned()? {
        if let Some(p) = &opts.progress {
            p.assigning();
        }
        let (s, r) = (store.clone(), rules.clone());
        summary.stories = blocking(move || {
            // Off the async threads: it takes every arena's lock in turn.
            if let Some(release) = MEMORY_RELEASE.get() {
                release();
            }
            lock(&s).assign_stories(&r)
        })
        .await??;
        let st = &summary.stories;
        debug!(
            new_stories = st.new_stories,
            versions = st.versions,
            duplicates = st.duplicates,
            seconds = phase.elapsed().as_secs_f64(),
            "stories assigned"
        );
    }
    summary.phases.assign = phase.elapsed().as_secs_f64();
    let phase = Instant::now();
    let s = store.clone();
    summary.reevaluated = blocking(move || lock(&s).reconcile_stories(&rules)).await??;
    summary.phases.reconcile = phase.elapsed().as_secs_f64();
    // What the cycle freed, and the pages assignment left in SQLite's
    // cache, go back before the publish after it allocates its own (off
    // the async threads; the allocator's release without the store): they
    // and the publish's made the peak of a cold poll.
    if summary.new_entries() + summary.updated_entries() > 0 {
        let s = store.clone();
        blocking(move || {
            if let Err(e) = lock(&s).shrink_memory() {
                debug!(error = %e, "cannot shrink the page cache");
            }
            if let Some(release) = MEMORY_RELEASE.get() {
                release();
            }
        })
        .await?;
    }
    for w in &summary.reevaluated.warnings {
        warn!("{w}");
    }
    summary.seconds = started.elapsed().as_secs_f64();
    summary.peak_rss_kib = peak_rss_kib();
    let s = store.clone();
    if let Err(e) = blocking(move || lock(&s).record_cycle(crate::clock::now())).await? {
        warn!(error = %e, "cannot record the end of the cycle");
    }
    if !summary.sources.is_empty() || summary.restructured() {
        let s = store.clone();
        if let Err(e) = blocking(move || lock(&s).announce_change(token)).await? {
            warn!(error = %e, "cannot tell the other nodes; they render again after their own next cycle or the next notice");
        }
    }
    if let Some(m) = &opts.metrics {
        m.cycle_done();
    }
    Ok(summary)
}

/// Opens the store and makes its sources match the config.
pub async fn open_store(config: &Config) -> Result<SharedStore, PollError> {
    let path = config.database.clone();
    let sources = config.sources.clone();
    let store = blocking(move || {
        let mut s = Store::open(&path)?;
        s.sync_sources(&sources, crate::clock::now())?;
        Ok::<_, StoreError>(s)
    })
    .await??;
    Ok(Arc::new(Mutex::new(store)))
}

pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, PollError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| PollError::Internal(e.to_string()))
}

pub(crate) fn lock(store: &SharedStore) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// The host of an http(s) URL; `None` for local files.
pub(crate) fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok().filter(|u| u.scheme() != "file").and_then(|u| u.host_str().map(str::to_string))
}

/// Waits for a request's turn: its host's gate (concurrency and spacing),
/// then a global slot. Hold the result while the request runs.
pub(crate) async fn admit(
    gate: Option<&HostGate>,
    global: Arc<Semaphore>,
) -> (Option<tokio::sync::OwnedSemaphorePermit>, Option<tokio::sync::OwnedSemaphorePermit>) {
    let host = match gate {
        Some(g) => g.enter().await,
        None => None,
    };
    (host, global.acquire_owned().await.ok())
}

/// One source's fetch-parse-store.
struct Job {
    src: SourceConfig,
    claimed: Claimed,
    config: Arc<Config>,
    fetcher: Fetcher,
    store: SharedStore,
    metrics: Option<Arc<crate::observe::Registry>>,
    /// Permits to parse and normalise (CPU work).
    cpu: Arc<Semaphore>,
    /// Permits to hold a parsed fetch until it is recorded.
    unsaved: Arc<Semaphore>,
    /// Where fetches are recorded, in groups.
    writer: Arc<Writer>,
}

impl Job {
    async fn run(self) -> SourceReport {
        let started_at = crate::clock::now();
        let t0 = Instant::now();
        let location = match (&self.src.location, url::Url::parse(&self.claimed.url)) {
            (Location::Http(_), Ok(moved)) => Location::Http(moved),
            (loc, _) => loc.clone(),
        };
        let validators =
            Validators { etag: self.claimed.etag.clone(), last_modified: self.claimed.last_modified.clone() };
        let fetched = self.fetcher.fetch(&location, &validators).await;
        let duration_ms = t0.elapsed().as_millis() as u64;
        let url = self.claimed.url.clone();
        let name = self.src.name.clone();
        let metrics = self.metrics.clone();
        // Many fetches wait on the network at once; only a few sources are
        // parsed at once (more would hold more feeds in memory, not finish
        // sooner), and a few more parsed ones wait for the writer. A `cpu`
        // thread never waits for the store: it goes on to the next feed.
        let span = tracing::Span::current();
        let report = if matches!(fetched, Ok(Fetched::Body(..))) {
            let unsaved = self.unsaved.clone();
            let _unsaved = unsaved.acquire().await;
            let prepared = {
                let cpu = self.cpu.clone();
                let _cpu = cpu.acquire().await;
                crate::cpu::run(move || {
                    let p = self.prepare(fetched, started_at, duration_ms);
                    (self, p)
                })
                .await
            };
            match prepared {
                Ok((job, p)) => job.writer.clone().record(Work::Prepared(Box::new((job, p))), span).await,
                Err(e) => Err(e),
            }
        } else {
            self.writer
                .clone()
                .record(Work::Fetched(Box::new(Done { job: self, fetched, started_at, duration_ms })), span)
                .await
        };
        let report = report.unwrap_or_else(|e| SourceReport {
            url: url.clone(),
            name,
            outcome: Outcome::Failed,
            status: None,
            stats: SaveStats::default(),
            error: Some(e),
        });
        if report.outcome == Outcome::Failed {
            warn!(error = report.error.as_deref().unwrap_or(""), "source failed");
        }
        if let Some(m) = metrics {
            m.fetched(report.outcome.as_str(), report.status, std::time::Duration::from_millis(duration_ms));
        }
        report
    }

    /// What a fetch brought: its record (without its next due time, which
    /// [`Job::finish`] works out), its entries, and what the due time needs.
    fn prepare(&self, fetched: Result<Fetched, FetchError>, started_at: DateTime<Utc>, duration_ms: u64) -> Prepared {
        let now = crate::clock::now();
        let mut rec = FetchRecord {
            started_at,
            duration_ms,
            url: self.claimed.url.clone(),
            status: None,
            outcome: Outcome::Failed,
            error: None,
            validators: None,
            moved_to: None,
            move_back: false,
            gone: false,
            next_due: (now, String::new()),
            bytes: 0,
            feed: None,
            warnings: Vec::new(),
        };
        // What the fetch tells; the source's key, its hints and its recent
        // publication times are added by `finish`.
        let mut due = DueInputs {
            interval: self.src.interval,
            min_interval: self.config.min_interval,
            errors: 0,
            has_validators: self.claimed.etag.is_some() || self.claimed.last_modified.is_some(),
            ..DueInputs::default()
        };
        let mut hints = self.claimed.hints.clone();
        let mut entries = Vec::new();
        match fetched {
            Ok(Fetched::NotModified(meta)) => {
                self.apply_meta(&mut rec, &mut due, &meta, true);
                // A 304 is no proof that the new location is a feed (an old
                // page answers If-Modified-Since too): `moved_to` stays unset,
                // the source moves when the new location answers with a feed.
                rec.outcome = Outcome::NotModified;
            }
            Ok(Fetched::Body(body, meta)) => {
                bulk_work_begins();
                self.apply_meta(&mut rec, &mut due, &meta, false);
                match parse::parse(&body, meta.content_type.as_deref(), Some(&meta.final_url)) {
                    Ok(mut parsed) => {
                        if parsed.feed.language.is_none() {
                            parsed.feed.language = meta.content_language.as_deref().and_then(header_language);
                        }
                        // Only a feed at the new location moves the source.
                        rec.moved_to = meta.moved_to.clone();
                        hints = crate::store::FeedHints {
                            ttl_minutes: parsed.feed.ttl_minutes,
                            schedule: parsed.feed.schedule.clone(),
                        };
                        entries = self.normalise(&parsed, &meta.final_url, now, &mut rec.warnings);
                        rec.feed = Some(feed_meta(&parsed.feed));
                        rec.warnings.extend(parsed.warnings);
                        rec.outcome = Outcome::Ok;
                    }
                    Err(e) => {
                        // Keep the old validators, so the next poll fetches the body again.
                        rec.validators = None;
                        let mut error = not_a_feed_message(&e, &meta);
                        // Moved (by an earlier version) to what is now a web
                        // page: back to the subscribed URL.
                        if matches!(e, parse::ParseError::HtmlPage { .. }) && self.claimed.url != self.claimed.key {
                            rec.move_back = true;
                            error.push_str(&format!(
                                "; the source was moved here from {}, which is polled again from now on",
                                self.claimed.key
                            ));
                        }
                        rec.error = Some(error);
                    }
                }
            }
            Err(e) => {
                let mut error = e.to_string();
                if let Some(meta) = e.meta() {
                    rec.status = Some(meta.status);
                    due.retry_after = meta.hints.retry_after;
                    if let Some(how) = meta.redirect_phrase() {
                        error = format!("{how} to {}, which answered {error}", meta.final_url);
                    }
                }
                // Gone only when the source's own URL answered 410: a
                // redirect to a 410 is a broken redirect, not the feed's end.
                rec.gone = e.status() == Some(410) && e.meta().is_none_or(|m| m.redirects.is_empty());
                rec.error = Some(error);
            }
        }
        if rec.outcome == Outcome::Failed {
            due.errors = self.claimed.error_count.saturating_add(1);
            // Back-off doubles the wait without errors, which is longer for
            // a source known to send no validators; one that never answered
            // is not known to lack them (an error page's headers do not count).
            due.has_validators =
                self.claimed.etag.is_some() || self.claimed.last_modified.is_some() || !self.claimed.ever_ok;
            // The previous fetch failed too: how far apart the two requests were.
            if self.claimed.error_count > 0 {
                due.last_gap = self.claimed.last_fetch_at.and_then(|prev| (started_at - prev).to_std().ok());
            }
        }
        Prepared { rec, entries, now, due, hints }
    }

    /// The fetch's next due time, from what [`Job::prepare`] found and the
    /// source's `recent` publication times (read from the store).
    fn finish(&self, p: Prepared, recent: impl FnOnce(i64) -> Vec<DateTime<Utc>>) -> Ready {
        let Prepared { mut rec, entries, now, due, hints } = p;
        let mut recent: Vec<DateTime<Utc>> = recent(self.claimed.id);
        recent.extend(entries.iter().filter(|n| n.entry.date_given).map(|n| n.entry.published));
        recent.sort_unstable_by(|a, b| b.cmp(a));
        recent.dedup();
        recent.truncate(RECENT_FOR_ADAPTIVE);
        let due = DueInputs {
            key: &self.src.key,
            ttl_minutes: hints.ttl_minutes,
            update_every: hints.schedule.update_every_secs,
            skip_hours: &hints.schedule.skip_hours,
            skip_days: &hints.schedule.skip_days,
            recent: &recent,
            ..due
        };
        rec.next_due = if rec.gone {
            (now + chrono::Duration::days(3650), "410 Gone: no longer polled; remove it from feeds.toml".into())
        } else {
            schedule::next_due(now, &due)
        };
        if let Some(f) = rec.feed.as_mut() {
            f.hints = hints;
        }
        Ready { rec, entries, now }
    }

    /// The report of a fetch recorded (`saved`), or not: then the source's
    /// claim is released.
    fn report(&self, mut rec: FetchRecord, saved: Result<SaveStats, StoreError>, store: &mut Store) -> SourceReport {
        let (stats, error) = match saved {
            Ok(stats) => (stats, rec.error.take()),
            Err(e) => {
                let _ = store.release(self.claimed.id);
                rec.outcome = Outcome::Failed;
                (SaveStats::default(), Some(format!("storing failed, nothing of this fetch was kept: {e}")))
            }
        };
        SourceReport {
            url: self.src.key.clone(),
            name: self.src.name.clone(),
            outcome: rec.outcome,
            status: rec.status,
            stats,
            error,
        }
    }

    fn apply_meta(&self, rec: &mut FetchRecord, due: &mut DueInputs<'_>, meta: &ResponseMeta, not_modified: bool) {
        rec.status = Some(meta.status);
        rec.bytes = meta.wire_bytes;
        let v = &meta.validators;
        // A 304 may omit unchanged validators: keep the stored ones then.
        let (etag, lm) = if not_modified {
            (
                v.etag.clone().or(self.claimed.etag.clone()),
                v.last_modified.clone().or(self.claimed.last_modified.clone()),
            )
        } else {
            (v.etag.clone(), v.last_modified.clone())
        };
        due.has_validators = etag.is_some() || lm.is_some();
        rec.validators = Some((etag, lm));
        due.max_age = meta.hints.max_age;
        due.expires_in = meta.hints.expires_in;
    }

    fn normalise(
        &self,
        parsed: &parse::Parsed,
        base: &str,
        now: DateTime<Utc>,
        warnings: &mut Vec<String>,
    ) -> Vec<crate::store::NewEntry> {
        let ctx = normalise::Context { base_url: Some(base), source_lang: self.src.lang.as_deref(), now };
        let (entries, w) = normalise::feed_indexed(&parsed.feed, &ctx);
        warnings.extend(w);
        entries
            .into_iter()
            .map(|(i, entry)| {
                let raw = &parsed.feed.entries[i];
                let raw = RawRecord { entry: raw, base_url: base, feed_lang: parsed.feed.language.as_deref() };
                let mut features = crate::dedup::features(&entry, self.claimed.id, self.src.group.as_deref());
                if let Some(p) = &self.src.id_pattern {
                    let scope = self.src.group.as_deref().unwrap_or(&self.src.key);
                    features.pattern_ids =
                        crate::dedup::pattern_ids(&p.regex, scope, entry.url.as_deref(), entry.guid.as_deref());
                }
                crate::store::NewEntry::new(entry, serde_json::to_string(&raw).unwrap_or_default(), features)
            })
            .collect()
    }
}

/// A fetch done, its body not parsed (a 304, a failure): the writer
/// works out its record.
struct Done {
    job: Job,
    fetched: Result<Fetched, FetchError>,
    started_at: DateTime<Utc>,
    duration_ms: u64,
}

/// What [`Job::prepare`] made of a fetch: its record, its entries, and
/// what its next due time needs besides the source's recent publications
/// (read where the fetch is recorded, under the store's lock).
struct Prepared {
    rec: FetchRecord,
    entries: Vec<crate::store::NewEntry>,
    now: DateTime<Utc>,
    /// What the fetch told of its next due time (nothing borrowed yet).
    due: DueInputs<'static>,
    hints: crate::store::FeedHints,
}

/// A fetch ready to store: its record, with its next due time, and its
/// entries.
struct Ready {
    rec: FetchRecord,
    entries: Vec<crate::store::NewEntry>,
    now: DateTime<Utc>,
}

/// What waits for the writer.
enum Work {
    /// A fetch with no body to parse.
    Fetched(Box<Done>),
    /// A fetch whose body a `cpu` thread parsed and normalised.
    Prepared(Box<(Job, Prepared)>),
}

/// A fetch waiting to be recorded: the source's span (entered where it is
/// recorded), and where its report goes.
type Queued = (Work, tracing::Span, tokio::sync::oneshot::Sender<SourceReport>);

/// Records fetches in groups: the first one queued starts a writer thread,
/// which records all that were queued meanwhile in one
/// transaction, then the next group, until none is left. Each commit
/// writes every page it changed to the log: one transaction per fetch
/// wrote the same few pages 1,000 times in a poll of 1,000 unchanged
/// feeds. And the threads that parse never wait for the store: when each
/// stored its own fetch, the fetch phase of a cold poll of 1,000 feeds kept
/// 1.55 of 2 cores busy; with the writer, 1.75 (BENCHMARKS.md, session 20).
#[derive(Default)]
struct Writer {
    /// The fetches waiting; whether a writer runs.
    queue: Mutex<(Vec<Queued>, bool)>,
}

impl Writer {
    /// Queues `work` and waits for its report.
    async fn record(self: Arc<Self>, work: Work, span: tracing::Span) -> Result<SourceReport, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.0.push((work, span, tx));
            !std::mem::replace(&mut queue.1, true)
        };
        if start {
            let writer = self.clone();
            tokio::spawn(async move {
                let w = writer.clone();
                // Its own thread, not the `cpu` pool's: it never waits
                // behind the parsing it frees.
                if let Err(e) = tokio::task::spawn_blocking(move || w.write()).await {
                    // No writer: the queued fetches fail (their senders
                    // dropped) rather than wait for ever.
                    tracing::error!(error = %e, "cannot record fetches");
                    let mut queue = writer.queue.lock().unwrap_or_else(|p| p.into_inner());
                    queue.0.clear();
                    queue.1 = false;
                }
            });
        }
        rx.await.map_err(|_| "recording the fetch failed (see the log)".to_string())
    }

    /// Records the queued fetches a group at a time until none is left.
    fn write(&self) {
        loop {
            let group = {
                let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if queue.0.is_empty() {
                    queue.1 = false;
                    return;
                }
                std::mem::take(&mut queue.0)
            };
            // A panic fails this group's fetches, not the ones queued after.
            if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_group(group))) {
                let what = crate::cpu::panic_message(panic.as_ref());
                tracing::error!(panic = what, "recording a group of fetches panicked");
            }
        }
    }
}

/// Records a group of fetches in one transaction, or, when that fails,
/// each on its own (so that each fails on its own).
fn write_group(group: Vec<Queued>) {
    let Some(store) = group.first().map(|(work, ..)| match work {
        Work::Fetched(d) => d.job.store.clone(),
        Work::Prepared(both) => both.0.store.clone(),
    }) else {
        return;
    };
    let mut store = lock(&store);
    // A panic fails the fetch it came from (its report's sender dropped:
    // the fetch is reported failed), not the rest of the group.
    let guarded = |span: &tracing::Span, f: &mut dyn FnMut()| {
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let _entered = span.enter();
            tracing::error!(panic = crate::cpu::panic_message(panic.as_ref()), "recording the fetch panicked");
        }
    };
    let mut ready: Vec<(Job, Ready, tracing::Span, _)> = Vec::with_capacity(group.len());
    for (work, span, tx) in group {
        let (mut work, mut tx) = (Some(work), Some(tx));
        guarded(&span, &mut || {
            let _entered = span.enter();
            let (job, p) = match work.take() {
                Some(Work::Prepared(both)) => *both,
                Some(Work::Fetched(d)) => {
                    let p = d.job.prepare(d.fetched, d.started_at, d.duration_ms);
                    (d.job, p)
                }
                None => return,
            };
            let r = job.finish(p, |id| store.recent_published(id, RECENT_FOR_ADAPTIVE).unwrap_or_default());
            ready.push((job, r, span.clone(), tx.take()));
        });
    }
    let mut together = None;
    guarded(&tracing::Span::current(), &mut || {
        let saves: Vec<FetchToSave<'_>> = ready
            .iter()
            .map(|(job, r, ..)| FetchToSave {
                source_id: job.claimed.id,
                fetch: &r.rec,
                entries: &r.entries,
                now: r.now,
            })
            .collect();
        together = Some(store.save_fetches(&saves));
    });
    let mut together = match together {
        Some(Ok(stats)) => Some(stats.into_iter()),
        Some(Err(e)) => {
            debug!(error = %e, fetches = ready.len(), "cannot record the group at once: one at a time");
            None
        }
        None => None,
    };
    for (job, r, span, tx) in ready {
        let stats = together.as_mut().and_then(Iterator::next);
        let mut item = Some((job, r, tx));
        guarded(&span, &mut || {
            let Some((job, r, tx)) = item.take() else { return };
            let _entered = span.enter();
            let saved = match stats {
                Some(stats) => Ok(stats),
                None => store.save_fetch(job.claimed.id, &r.rec, &r.entries, r.now),
            };
            // The entries are freed here, before the report goes.
            drop(r.entries);
            let report = job.report(r.rec, saved, &mut store);
            if let Some(tx) = tx {
                let _ = tx.send(report);
            }
        });
    }
}

/// Why a body is not a feed, naming where a redirect led: a feed URL that
/// now redirects to a web page (a redesign sending every old URL to the home
/// page) keeps its URL, and the error says what the target was.
fn not_a_feed_message(e: &parse::ParseError, meta: &ResponseMeta) -> String {
    let Some(how) = meta.redirect_phrase() else { return e.to_string() };
    let kept = if meta.moved_to.is_some() { "; the source keeps its URL until it redirects to a feed" } else { "" };
    match e {
        parse::ParseError::HtmlPage { advertised } => {
            let hint = advertised.first().map(|u| format!("; the page advertises a feed at {u}")).unwrap_or_default();
            format!("{how} to an HTML page at {}, not a feed{hint}{kept}", meta.final_url)
        }
        other => format!("{how} to {}, which is not a feed ({other}){kept}", meta.final_url),
    }
}

/// What is stored beside each entry so that it can be normalised again.
#[derive(Serialize)]
struct RawRecord<'a> {
    entry: &'a RawEntry,
    base_url: &'a str,
    feed_lang: Option<&'a str>,
}

/// `VmHWM` from /proc/self/status: the peak resident set size, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A `Content-Language` header naming one language (a list names several
/// audiences, none of them the feed's language).
fn header_language(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.contains(',')).then(|| crate::lang::normalise_tag(value)).flatten().map(|_| value.to_string())
}

/// The feed-level facts worth keeping on the source.
fn feed_meta(feed: &crate::model::RawFeed) -> crate::store::FeedMeta {
    let home = feed.links.iter().find(|l| matches!(l.rel.as_deref(), None | Some("alternate")) && !l.href.is_empty());
    crate::store::FeedMeta {
        title: feed
            .title
            .as_deref()
            .map(crate::normalise::plain_text)
            .map(|t| crate::parse::encoding::repair_controls(&t).unwrap_or(t))
            .filter(|t| !t.is_empty()),
        lang: feed.language.as_deref().and_then(crate::lang::normalise_tag),
        format: feed.format.clone(),
        link: home.and_then(|l| crate::normalise::canonical_url(&l.href, None)),
        hints: crate::store::FeedHints::default(),
    }
}

/// What `publish` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishReport {
    /// Artifacts rendered.
    pub artifacts: usize,
    /// Files written and left unchanged.
    pub files: crate::publish::sink::WriteStats,
    /// Stories in the `all` feed.
    pub stories: usize,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Errors of publishing.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Reading the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the files failed.
    #[error("cannot write to {dir}: {source}")]
    Write {
        /// The output directory.
        dir: String,
        /// The IO error.
        source: std::io::Error,
    },
}

/// Renders every artifact from the database: the one renderer behind both
/// sinks (files and the HTTP server).
pub fn render_site(store: &Store, config: &Config) -> Result<Vec<crate::publish::Artifact>, StoreError> {
    Ok(with_input(store, config, crate::publish::render)?.0)
}

/// Reads what publishing needs and hands it to `f`; the number of stories
/// in the `all` feed. Everything is read in one snapshot, so that a poll
/// committing meanwhile cannot make the feeds of one publish disagree (a
/// story in the plan but moved or merged by the time its versions are
/// read). The publishing index is brought up to date first; if a poll
/// committed between that and the snapshot (its stories marked in it),
/// the index is refreshed again and the snapshot taken again (a few times;
/// then the snapshot is used as it is, and the next publish catches up).
fn with_input<T>(
    store: &Store,
    config: &Config,
    f: impl FnOnce(&crate::publish::Input<'_>) -> T,
) -> Result<(T, usize), StoreError> {
    const ATTEMPTS: usize = 3;
    let tagger = crate::tags::Tagger::new(&config.tags, config.publish.publish_untagged);
    let mut attempt = 0;
    let (sources, plan, index, stories) = loop {
        attempt += 1;
        store.refresh_story_index()?;
        let read = store.read_snapshot(|| {
            if attempt < ATTEMPTS && store.story_index_stale()? {
                return Ok(None);
            }
            let sources = store.source_infos()?;
            let plan = crate::publish::plan_stored(store, &sources, &tagger, config.publish.items)?;
            let ids = plan.story_ids();
            let index = store.index_rows(&ids)?;
            let stories = store.stories(&ids, &sources)?;
            Ok::<_, StoreError>(Some((sources, plan, index, stories)))
        })?;
        if let Some(read) = read {
            break read;
        }
    };
    let input = crate::publish::Input {
        config,
        plan: &plan,
        index: &index,
        stories: &stories,
        sources: &sources,
        tagger: &tagger,
    };
    let in_all = plan.feeds.first().map_or(0, |(_, ids)| ids.len());
    Ok((f(&input), in_all))
}

/// Renders and writes the output directory, each file as it is rendered.
pub fn publish(store: &Store, config: &Config) -> Result<PublishReport, PublishError> {
    let started = Instant::now();
    let mut writer = crate::publish::sink::Writer::new(&config.output_dir);
    let ((), stories) = with_input(store, config, |input| crate::publish::render_each(input, &mut |a| writer.put(&a)))?;
    report(config, writer, stories, started)
}

/// What to publish after a poll: everything when stories changed (or the
/// output directory has no index yet), only the sources' status page when
/// sources were polled and nothing else changed (a poll where every feed
/// answered 304 renders no feed), nothing otherwise.
pub fn publish_after_poll(
    store: &Store,
    config: &Config,
    summary: &Summary,
) -> Result<Option<PublishReport>, PublishError> {
    let changed = summary.new_entries() + summary.updated_entries() > 0 || summary.restructured();
    if changed || !config.output_dir.join("index.html").exists() {
        return publish(store, config).map(Some);
    }
    if summary.sources.is_empty() {
        return Ok(None);
    }
    let started = Instant::now();
    let mut writer = crate::publish::sink::Writer::new(&config.output_dir);
    crate::publish::render_status(config, &store.source_infos()?).iter().for_each(|a| writer.put(a));
    report(config, writer, 0, started).map(Some)
}

/// Finishes the writing and reports it.
fn report(
    config: &Config,
    writer: crate::publish::sink::Writer<'_>,
    stories: usize,
    started: Instant,
) -> Result<PublishReport, PublishError> {
    let artifacts = writer.artifacts();
    let files = writer
        .finish()
        .map_err(|source| PublishError::Write { dir: config.output_dir.display().to_string(), source })?;
    Ok(PublishReport { artifacts, files, stories, seconds: started.elapsed().as_secs_f64() })
}
