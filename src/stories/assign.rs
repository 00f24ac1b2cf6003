//! Story assignment: every entry without a story, in a deterministic order,
//! gets one. Candidates for a new entry are the assigned entries sharing an
//! identity key (at any time) and those published nearest to it within the
//! dedup window (from an in-memory window of the assigned entries around the
//! entry, sliding along the batch, not a query per entry); `dedup::decide_prescored` chooses; the decision is
//! recorded with its evidence, and late strong evidence of a new version
//! may merge its story with others (`reconcile::merge_strong`). A scoring
//! thread ([`Ahead`]) works a few entries ahead of the decisions on the
//! other core, scoring pairs whose scores depend on the two entries alone.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use chrono::{DateTime, SubsecRound, Utc};

use super::reconcile::{
    SplitSet, displace, drop_split_candidates, merge_linked, merge_strong, resolve_merges, resolve_splits,
};
use super::{AssignStats, Join, Pending, PendingSource, Role, StoryData, StoryRules, Waiting};
use crate::dedup::{self, Candidate, Decision, Evidence, Features};

/// Window candidates looked at on each side of the new entry's date.
pub const NEAREST: usize = 50;

/// Key matches looked at per identity key.
const PER_KEY: usize = 50;

/// Assigns a story to every entry that has none yet (new in this cycle, or
/// left by an interrupted run), in a deterministic order: publication time,
/// then source key, then entry key. The same entries give the same stories
/// whatever order the fetches finished in. `now` stamps what is recorded.
pub fn assign_pending<D: StoryData>(
    data: &mut D,
    rules: &StoryRules,
    now: DateTime<Utc>,
) -> Result<AssignStats, D::Error> {
    // On one core a second thread only takes turns with the first.
    let scoring = if crate::cpu::cores().unwrap_or(1) > 1 { Scoring::Shared } else { Scoring::Inline };
    let (stats, compared) = assign_pending_with(data, rules, now, scoring)?;
    tracing::debug!(
        candidates = compared.candidates,
        scored_ahead = compared.scored_ahead,
        "candidates compared, and scored ahead by the scoring thread"
    );
    Ok(stats)
}

/// Candidates compared in one assignment run, and how many of them the
/// scoring thread had scored (which depends on its timing: not part of
/// [`AssignStats`], whose figures do not).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Compared {
    pub candidates: u64,
    pub scored_ahead: u64,
}

/// Who scores each entry's pairs before it is decided: changes how fast
/// entries are assigned, never where (the tests compare all three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scoring {
    /// The deciding thread alone, as it decides.
    Inline,
    /// The scoring thread ([`Ahead`]), every entry it is fed; the decisions
    /// wait for it (the tests: it scores the most pairs).
    #[cfg(test)]
    Ahead,
    /// The scoring thread, and the deciding thread for each entry the
    /// scoring thread has not begun when it comes to be decided: the
    /// deciding thread waits only for an entry being scored (the one used),
    /// and to hand over more while [`QUEUED_BATCHES`] batches wait.
    Shared,
}

/// [`assign_pending`], its pairs scored as `scoring` says.
pub(crate) fn assign_pending_with<D: StoryData>(
    data: &mut D,
    rules: &StoryRules,
    now: DateTime<Utc>,
    scoring: Scoring,
) -> Result<(AssignStats, Compared), D::Error> {
    let mut waiting = data.unassigned()?;
    waiting.sort();
    let todo = waiting.entries();
    let overrides = Overrides { splits: resolve_splits(data, rules)?, merges: resolve_merges(data, rules)? };
    let mut stats = AssignStats::default();
    let mut compared = Compared::default();
    let (Some(first), Some(last)) = (todo.first(), todo.last()) else { return Ok((stats, compared)) };
    let mut window = Window::load(data, first.published, last.published)?;
    std::thread::scope(|scope| {
        let mut ahead = Ahead::start(scope, scoring);
        for p in todo.iter().take(AHEAD) {
            ahead.feed(data, p.id)?;
        }
        ahead.hand_over();
        for (i, p) in todo.iter().enumerate() {
            match todo.get(i + AHEAD) {
                Some(next) => ahead.feed(data, next.id)?,
                None => ahead.hand_over(), // the last few: no batch to fill
            }
            let pre = ahead.take(p.id);
            let Some(Assigned { decision, story, candidates, scored_ahead }) =
                assign_one(data, rules, &mut window, &Turn::of(&waiting, p), &overrides, &pre, now)?
            else {
                continue;
            };
            compared.candidates += candidates;
            compared.scored_ahead += scored_ahead;
            match decision {
                Decision::New => stats.new_stories += 1,
                Decision::Version { .. } => stats.versions += 1,
                Decision::Duplicate { .. } => stats.duplicates += 1,
            }
            if let Some(story) = story {
                let langs = window.langs.get(story.as_str()).cloned().unwrap_or_default();
                ahead.placed(p.id, window.shared(&story), langs);
            }
        }
        ahead.finish();
        Ok((stats, compared))
    })
}

/// Entries fed to the scoring thread ahead of the one being assigned.
const AHEAD: usize = 16;

/// Entries handed to the scoring thread at once: it wakes once per batch,
/// not once per entry, when it has caught up. Fewer than [`AHEAD`], so
/// that the thread has an entry before its turn (`take` hands over what
/// is left in any case).
const FEED_BATCH: usize = 8;

/// Batches fed and not yet taken up by the scoring thread, at most. With
/// shared scoring the deciding thread does not wait for the scoring
/// thread, so while that thread gets no core the fed entries, each
/// holding its features, could pile up in the queue without bound. Past
/// this, feeding waits for the thread to take a batch (it skips the
/// entries the deciding thread claimed meanwhile, and scores the rest).
/// Large (512 entries, a few MiB of features), so that it only bites when
/// the thread is far behind, not while it scores one entry with many
/// candidates: with a bound of 4 batches a cold poll's assignment looked
/// 15 % slower (three alternated pairs; not confirmed by assignment
/// alone; BENCHMARKS.md, session 17).
const QUEUED_BATCHES: usize = 64;

/// How long the deciding thread spins for the scores of an entry the
/// scoring thread is working on before it sleeps: about the time one
/// entry's scoring takes. Sleeping and waking for each entry cost more
/// than the work itself when both threads go at one pace (up to 240,000
/// context switches and twice the time for 50,000 entries).
const SPIN: std::time::Duration = std::time::Duration::from_micros(200);

/// Entries before each one, in assignment order, that the scoring thread
/// scores it against: where a cold poll's candidates by date come from
/// (the [`NEAREST`] assigned entries before it).
const BEHIND: usize = NEAREST;

/// Where an entry went, as the scoring thread is told: its id, its story
/// and that story's version languages (the window's copies).
type Placement = (i64, Arc<str>, Arc<[String]>);

/// One entry handed to the scoring thread: its place in the order fed,
/// stored id, and features (if stored).
type Fed = (usize, i64, Option<Arc<Features>>);

/// The scoring thread: while one entry is decided and recorded, the
/// entries after it are scored against those before them
/// ([`dedup::Prescored`]: the pairs' content and duplicate scores, which
/// depend on the two entries alone), on another core. Decisions stay
/// sequential and the same: a candidate it did not score (a key match, a
/// stored entry from an earlier poll, a pair it skipped, an entry it had
/// not begun) is scored when the entry is decided.
///
/// With [`Scoring::Shared`], each entry is claimed by one of the two
/// threads, in order (`claims`: the place of the first entry nobody has
/// claimed): the scoring thread as it comes to it, the deciding thread
/// when the entry is to be decided and still unclaimed. So the deciding
/// thread never waits for an entry the scoring thread has not begun, and
/// the scoring thread does not score an entry already decided.
///
/// It is told where each entry went, to skip pairs that cannot be
/// versions: a story holds one version per language, and most candidates
/// of a cold poll are already in a story with the new entry's language.
struct Ahead {
    entries: Option<mpsc::SyncSender<Vec<Fed>>>,
    /// Fed, not yet handed over.
    batch: Vec<Fed>,
    placed: Option<mpsc::Sender<Placement>>,
    from: mpsc::Receiver<(i64, dedup::Prescored)>,
    /// [`Scoring::Shared`]: the place of the first unclaimed entry.
    claims: Option<Arc<AtomicUsize>>,
    /// Entries fed, and taken, so far.
    fed: usize,
    taken: usize,
}

impl Ahead {
    /// The thread, or (`Scoring::Inline`) no thread: every entry is scored
    /// when decided.
    fn start<'scope>(scope: &'scope std::thread::Scope<'scope, '_>, scoring: Scoring) -> Ahead {
        let (entries, input) = mpsc::sync_channel(QUEUED_BATCHES);
        // Unbounded, but it holds no more than the entries decided since
        // the thread last took a batch: the bound on `entries` bounds it.
        // (Bounded, a full `placed` would block the deciding thread while
        // the scoring thread waits for a batch: a deadlock.)
        let (placed, placements) = mpsc::channel();
        let (output, from) = mpsc::channel();
        let claims = (scoring == Scoring::Shared).then(|| Arc::new(AtomicUsize::new(0)));
        let off = |from| Ahead { entries: None, batch: Vec::new(), placed: None, from, claims: None, fed: 0, taken: 0 };
        if scoring == Scoring::Inline {
            return off(from);
        }
        let theirs = claims.clone();
        let thread = std::thread::Builder::new().name("assign-score".into()).spawn_scoped(scope, move || {
            // A panic here ends the scoring, not the assignment: the
            // channels close and each entry is scored when decided.
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                score_ahead(input, placements, output, theirs.as_deref())
            }));
            if let Err(panic) = run {
                tracing::warn!(
                    panic = %crate::cpu::panic_message(panic.as_ref()),
                    "the scoring thread of story assignment stopped: the rest is scored at each decision"
                );
            }
        });
        if let Err(e) = thread {
            tracing::warn!(error = %e, "cannot start the scoring thread of story assignment: scoring at each decision");
            let (_, from) = mpsc::channel();
            return off(from);
        }
        Ahead {
            entries: Some(entries),
            batch: Vec::with_capacity(FEED_BATCH),
            placed: Some(placed),
            from,
            claims,
            fed: 0,
            taken: 0,
        }
    }

    /// Queues entry `id` (its features, if stored) for scoring; reads
    /// nothing when the thread is not running.
    fn feed<D: StoryData>(&mut self, data: &mut D, id: i64) -> Result<(), D::Error> {
        if self.entries.is_none() {
            return Ok(());
        }
        let features = data.features(id)?;
        if let Some(f) = &features {
            // What lives with the features is allocated here, not on the
            // scoring thread: glibc gives that thread an arena of its own,
            // which long-lived pieces among its short-lived ones could keep
            // from shrinking (suspected, not shown: BENCHMARKS.md, "Story
            // assignment on two cores").
            f.content.prepare();
        }
        self.batch.push((self.fed, id, features));
        self.fed += 1;
        if self.batch.len() >= FEED_BATCH {
            self.hand_over();
        }
        Ok(())
    }

    /// Hands the fed entries to the thread.
    fn hand_over(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(FEED_BATCH));
        if let Some(to) = &self.entries
            && !batch.is_empty()
            && to.send(batch).is_err()
        {
            self.entries = None;
        }
    }

    /// Says that entry `id` is now in `story`, whose versions are in `langs`
    /// (the window's copies).
    fn placed(&mut self, id: i64, story: Arc<str>, langs: Arc<[String]>) {
        if let Some(to) = &self.placed
            && to.send((id, story, langs)).is_err()
        {
            self.placed = None;
        }
    }

    /// The scores of entry `id`, which must be the next entry fed and not
    /// yet taken (entries are taken in the order they were fed); empty
    /// when the thread never ran, stopped before scoring it, or (shared
    /// scoring) had not begun it: the decision scores it then.
    fn take(&mut self, id: i64) -> dedup::Prescored {
        let place = self.taken;
        self.taken += 1;
        if self.batch.first().is_some_and(|(at, ..)| *at <= place) {
            self.hand_over(); // the last few entries of the run
        }
        let next = if self.entries.is_none() {
            // Never started, or gone: only what it queued before.
            self.from.try_recv().ok()
        } else if let Some(claims) = &self.claims
            && claims.compare_exchange(place, place + 1, Ordering::AcqRel, Ordering::Acquire).is_ok()
        {
            return dedup::Prescored::default(); // not begun: scored as it is decided
        } else {
            self.wait()
        };
        match next {
            Some((got, pre)) if got == id => pre,
            Some((got, _)) => {
                debug_assert!(false, "scores of entry {got} taken for entry {id}");
                // Out of step: stop using the thread rather than guess.
                self.entries = None;
                self.placed = None;
                while self.from.try_recv().is_ok() {}
                dedup::Prescored::default()
            }
            None => dedup::Prescored::default(),
        }
    }

    /// The next scores the thread sends: spins for [`SPIN`], then sleeps;
    /// None when the thread has ended.
    fn wait(&self) -> Option<(i64, dedup::Prescored)> {
        let start = std::time::Instant::now();
        for turn in 0u32.. {
            match self.from.try_recv() {
                Ok(next) => return Some(next),
                Err(mpsc::TryRecvError::Disconnected) => return None,
                // The clock read now and then, not on every turn.
                Err(mpsc::TryRecvError::Empty) if turn % 64 != 0 || start.elapsed() < SPIN => std::hint::spin_loop(),
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        self.from.recv().ok()
    }

    /// Lets the thread end (the scope joins it).
    fn finish(mut self) {
        self.entries = None;
        self.placed = None;
    }
}

/// The scoring thread's loop: each fed entry against the [`BEHIND`] fed
/// before it, skipping version pairs whose story (as last told) already
/// has the new entry's language, and (with `claims`) entries the deciding
/// thread claimed first.
fn score_ahead(
    input: mpsc::Receiver<Vec<Fed>>,
    placements: mpsc::Receiver<Placement>,
    output: mpsc::Sender<(i64, dedup::Prescored)>,
    claims: Option<&AtomicUsize>,
) {
    // The entries behind, with their stories where told.
    let mut behind: VecDeque<(i64, Arc<Features>, Option<Arc<str>>)> = VecDeque::with_capacity(BEHIND + 1);
    // Versions of the stories told, as last told.
    let mut langs: HashMap<Arc<str>, (Arc<[String]>, usize)> = HashMap::new();
    for (place, id, f) in input.into_iter().flatten() {
        for (entry, story, story_langs) in placements.try_iter() {
            let Some(slot) = behind.iter_mut().find(|b| b.0 == entry) else { continue };
            let (held, users) = langs.entry(story.clone()).or_default();
            *held = story_langs;
            *users += 1;
            if let Some(was) = slot.2.replace(story) {
                release(&mut langs, &was);
            }
        }
        let mine =
            claims.is_none_or(|c| c.compare_exchange(place, place + 1, Ordering::AcqRel, Ordering::Acquire).is_ok());
        if mine {
            let pre = match &f {
                Some(new) => {
                    let lang = new.lang.as_deref();
                    let may_score = |(_, old, story): &&(i64, Arc<Features>, Option<Arc<str>>)| {
                        let Some(lang) = lang else { return true };
                        old.lang.as_deref() == Some(lang)
                            || story
                                .as_ref()
                                .and_then(|s| langs.get(s))
                                .is_none_or(|(l, _)| !l.iter().any(|x| x == lang))
                    };
                    let olds = behind.iter().filter(may_score).map(|(i, f, _)| (*i, &**f));
                    dedup::Prescored::score(new, olds, dedup::CONTENT_THRESHOLD)
                }
                None => dedup::Prescored::default(),
            };
            if output.send((id, pre)).is_err() {
                return;
            }
        }
        if let Some(f) = f {
            behind.push_back((id, f, None));
            if behind.len() > BEHIND
                && let Some((_, _, Some(story))) = behind.pop_front()
            {
                release(&mut langs, &story);
            }
        }
    }
}

/// One entry behind no longer refers to `story`.
fn release(langs: &mut HashMap<Arc<str>, (Arc<[String]>, usize)>, story: &Arc<str>) {
    if let Some((_, users)) = langs.get_mut(story) {
        *users -= 1;
        if *users == 0 {
            langs.remove(story);
        }
    }
}

/// The entry being assigned, with its source and key from the waiting
/// list.
#[derive(Clone, Copy)]
struct Turn<'a> {
    entry: &'a Pending,
    source: &'a PendingSource,
    key: &'a str,
}

impl<'a> Turn<'a> {
    fn of(waiting: &'a Waiting, entry: &'a Pending) -> Turn<'a> {
        Turn { entry, source: waiting.source_of(entry), key: waiting.key(entry) }
    }
}

/// Assigns one waiting entry; None if its row is gone.
fn assign_one<D: StoryData>(
    data: &mut D,
    rules: &StoryRules,
    window: &mut Window,
    p: &Turn,
    overrides: &Overrides,
    pre: &dedup::Prescored,
    now: DateTime<Utc>,
) -> Result<Option<Assigned>, D::Error> {
    let (id, source) = (p.entry.id, p.source);
    // Features are stored with the entry; computed here only for rows
    // stored without them (an older version, an interrupted run).
    if data.features(id)?.is_none() {
        let Some(entry) = data.entry(id)? else { return Ok(None) };
        let mut f = dedup::features(&entry, source.id, source.group.as_deref());
        f.pattern_ids = rules.pattern_ids(&source.key, entry.url.as_deref(), entry.guid.as_deref());
        let links = data.page_links(id)?;
        super::add_links(&mut f, links.iter().map(String::as_str));
        data.store_features(id, f)?;
    }
    assign(data, window, p, overrides, pre, now).map(Some)
}

/// The user's overrides, resolved to stored entries for one run.
struct Overrides {
    /// `[[split]]`s: never joined.
    splits: Vec<SplitSet>,
    /// `[[merge]]`s: the entries of each; never parted by assignment.
    merges: Vec<BTreeSet<i64>>,
}

/// Assigns a newly stored entry to a story and records why, keeping
/// `window` (the assigned entries around it) up to date.
fn assign<D: StoryData>(
    data: &mut D,
    window: &mut Window,
    p: &Turn,
    overrides: &Overrides,
    pre: &dedup::Prescored,
    now: DateTime<Utc>,
) -> Result<Assigned, D::Error> {
    let Turn { entry: &Pending { id, published, dated, .. }, source, key } = *p;
    let first_story_id = &crate::story::story_id(&source.key, key, dated.then_some(published));
    let at = &(published, source.id, key.to_string());
    let splits = &overrides.splits;
    let Some(new) = data.features(id)? else {
        return Ok(Assigned { decision: Decision::New, story: None, candidates: 0, scored_ahead: 0 });
    };
    // Entries are assigned in publication order: what lies more than the
    // dedup window before this one is no candidate by date for it or any
    // later one, and leaves memory (a cold poll's window would otherwise
    // hold every entry of the batch).
    window.slide(data, new.published.min(at.0))?;
    let candidates = candidates(data, window, id, &new)?;
    let candidates = drop_split_candidates(data, id, candidates, splits)?;
    let mut candidates = candidates;
    let compared = candidates.len() as u64;
    let scored_ahead = candidates.iter().filter(|c| pre.has(c.entry_id)).count() as u64;
    let mut decision = dedup::decide_prescored(&new, &candidates, dedup::CONTENT_THRESHOLD, pre);
    let mut merged = 0;
    // Stories that a displacement or a content link changed (the window
    // follows them without reading everything again).
    let mut touched: BTreeSet<String> = BTreeSet::new();
    // The story parts before this entry takes the weak version's place; one
    // the user put together (or that cannot part) is not this entry's to
    // take, and it decides again without it (each round drops a story).
    while let Decision::Version { story_id, matched, displaces: Some(c), .. } = &decision {
        let pinned = overrides.merges.iter().any(|m| m.contains(c) && m.contains(matched));
        if !pinned && displace(data, story_id, *c, id, now)? {
            touched.insert(story_id.clone());
            break;
        }
        let taken = story_id.clone();
        candidates.retain(|x| *x.story_id != *taken);
        decision = dedup::decide_prescored(&new, &candidates, dedup::CONTENT_THRESHOLD, pre);
    }
    let lang = new.lang.as_deref();
    match &decision {
        Decision::New => {
            data.create_story(first_story_id, now)?;
            let evidence = Evidence::default();
            let join = Join {
                entry: id,
                story: first_story_id,
                role: Role::Version,
                lang,
                matched: None,
                evidence: &evidence,
            };
            data.join(&join, now)?;
            data.log(first_story_id, "created", &format!("entry {id}"), now)?;
        }
        Decision::Duplicate { story_id, of_entry, evidence } => {
            let join =
                Join { entry: id, story: story_id, role: Role::Duplicate, lang, matched: Some(*of_entry), evidence };
            data.join(&join, now)?;
            data.log(story_id, "joined", &format!("entry {id} as a duplicate of entry {of_entry}"), now)?;
        }
        Decision::Version { story_id, matched, evidence, links, displaces } => {
            // After a displacement, the matched entry's part may have a new id.
            let story_id = &match displaces {
                Some(_) => data.story_of(*matched)?.unwrap_or_else(|| story_id.clone()),
                None => story_id.clone(),
            };
            let join =
                Join { entry: id, story: story_id, role: Role::Version, lang, matched: Some(*matched), evidence };
            data.join(&join, now)?;
            data.log(
                story_id,
                "joined",
                &format!("entry {id} ({}) as a version, matched entry {matched}", lang.unwrap_or("?")),
                now,
            )?;
            // Late evidence: links and pattern ids of the new version may
            // tie its story to others (the older id survives; recorded).
            merged += merge_strong(data, id, &new, splits, now)?;
            // Versions of one post that began apart meet through this one.
            if merge_linked(data, id, links, splits, now)? > 0 {
                touched.insert(story_id.clone());
                touched.extend(links.iter().map(|l| l.story_id.clone()));
            }
        }
    }
    let mut placed = None;
    if merged > 0 {
        // Strong evidence may have moved any story: read the window again.
        window.reload(data)?;
    } else {
        let (story, role) = match &decision {
            Decision::New => (first_story_id.to_string(), Role::Version),
            Decision::Duplicate { story_id, .. } => (story_id.clone(), Role::Duplicate),
            Decision::Version { story_id, .. } => (story_id.clone(), Role::Version),
        };
        let story = if touched.is_empty() {
            story
        } else {
            // Its own story too, which may lie outside the window (a key match).
            touched.insert(data.story_of(id)?.unwrap_or_else(|| story.clone()));
            window.restory(data, &touched)?;
            data.story_of(id)?.unwrap_or(story)
        };
        window.add(at.clone(), id, &story, role, lang, new.group.as_deref());
        placed = Some(story);
    }
    Ok(Assigned { decision, story: placed, candidates: compared, scored_ahead })
}

/// What [`assign`] did with one entry.
struct Assigned {
    decision: Decision,
    /// The story it is in now (None where a merge read the window again,
    /// or where the entry has no features).
    story: Option<String>,
    /// Candidates compared.
    candidates: u64,
    /// Of those, how many the scoring thread had scored.
    scored_ahead: u64,
}

/// Where an entry sorts among its neighbours: publication time, then source
/// row id, then entry key.
type NearKey = (DateTime<Utc>, i64, String);

/// An assigned entry in the window: (source row id, entry key, entry id,
/// story), in this order so that entries published at one time sort by
/// (source, key).
type Slot = (i64, String, i64, Arc<str>);

/// Where a story's entry sits in the window: (publication time, entry id).
type Member = (DateTime<Utc>, i64);

/// The assigned entries published within the dedup window of a batch of
/// unassigned ones, with their stories' version languages: the candidates
/// by date come from here, without a query per new entry. Filled once per
/// assignment run, kept up to date as entries join stories, read again
/// when a merge changes stories of entries already in it; its start slides
/// along the batch (`slide`), so it holds the entries of about two dedup
/// windows, not all those a cold poll assigns. A story id the window holds
/// is one allocation ([`Window::shared`], found by content): its entries'
/// slots, its languages, the candidates taken from it and the scoring
/// thread's placements share it, so that a candidate costs no allocation
/// of its own (about 100 an entry). (A story that `restory` meets outside
/// the window may get a second copy; ids are compared by content.)
struct Window {
    /// First and last publication time covered.
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Entries by publication time; at one time, by (source, key).
    by_date: BTreeMap<DateTime<Utc>, Vec<Slot>>,
    /// Version languages of the stories met (also of key matches outside
    /// the window, looked up on demand).
    langs: HashMap<Arc<str>, Arc<[String]>>,
    /// Publisher group of each source met that has one.
    groups: HashMap<i64, String>,
    /// Where each story's entries sit in `by_date`: (publication time,
    /// entry id). A merge touches a few stories; their entries are found
    /// here instead of by a scan of the whole window.
    members: HashMap<Arc<str>, Vec<Member>>,
}

impl Window {
    /// The window around publication times `first..=last`.
    fn load<D: StoryData>(data: &mut D, first: DateTime<Utc>, last: DateTime<Utc>) -> Result<Window, D::Error> {
        let span = chrono::Duration::days(dedup::WINDOW_DAYS);
        let mut w = Window {
            from: (first - span).trunc_subsecs(0),
            to: (last + span).trunc_subsecs(0),
            by_date: BTreeMap::new(),
            langs: HashMap::new(),
            groups: HashMap::new(),
            members: HashMap::new(),
        };
        w.reload(data)?;
        Ok(w)
    }

    fn reload<D: StoryData>(&mut self, data: &mut D) -> Result<(), D::Error> {
        self.by_date.clear();
        self.langs.clear();
        self.members.clear();
        for p in data.assigned_between(self.from, self.to)? {
            if let Some(g) = p.group {
                self.groups.insert(p.source_id, g);
            }
            let story = self.shared(&p.story);
            self.members.entry(story.clone()).or_default().push((p.published, p.id));
            self.by_date.entry(p.published).or_default().push((p.source_id, p.key, p.id, story));
        }
        for group in self.by_date.values_mut() {
            group.sort_unstable();
        }
        let mut langs: HashMap<String, Vec<String>> = HashMap::new();
        for (story, lang) in data.version_langs_between(self.from, self.to)? {
            langs.entry(story).or_default().push(lang);
        }
        let langs: Vec<_> = langs.into_iter().map(|(story, langs)| (self.shared(&story), langs.into())).collect();
        self.langs.extend(langs);
        Ok(())
    }

    /// The window's copy of story id `story`, shared by its entries, its
    /// languages and the candidates taken from it (a new copy for a story
    /// the window does not hold).
    fn shared(&self, story: &str) -> Arc<str> {
        let held = self.members.get_key_value(story).map(|(k, _)| k);
        let held = held.or_else(|| self.langs.get_key_value(story).map(|(k, _)| k));
        held.map_or_else(|| story.into(), Arc::clone)
    }

    /// Moves the start of the window to the dedup window before `at`:
    /// entries published earlier leave it, and with their stories' last
    /// entries, those stories' languages (read again from the store if a
    /// key match meets them later). An `at` whose window reaches before
    /// the start (stored features dated earlier than the entry row) reads
    /// the window again from there: every date within `WINDOW_DAYS` of
    /// `at` is always covered.
    fn slide<D: StoryData>(&mut self, data: &mut D, at: DateTime<Utc>) -> Result<(), D::Error> {
        let from = (at - chrono::Duration::days(dedup::WINDOW_DAYS)).trunc_subsecs(0);
        if from < self.from {
            self.from = from;
            return self.reload(data);
        }
        if from == self.from {
            return Ok(());
        }
        self.from = from;
        let kept = self.by_date.split_off(&from);
        for (at, group) in std::mem::replace(&mut self.by_date, kept) {
            for (_, _, id, story) in group {
                let Some(members) = self.members.get_mut(&story) else { continue };
                members.retain(|m| *m != (at, id));
                if members.is_empty() {
                    self.members.remove(&story);
                    self.langs.remove(&story);
                }
            }
        }
        Ok(())
    }

    /// Follows the entries of `touched` stories (merged or parted since
    /// the window was read) to their stories now, and reads the version
    /// languages of those stories again.
    fn restory<D: StoryData>(&mut self, data: &mut D, touched: &BTreeSet<String>) -> Result<(), D::Error> {
        let mut now_in = touched.clone();
        let moved: Vec<(Arc<str>, Member)> = touched
            .iter()
            .filter_map(|story| self.members.remove_entry(story.as_str()))
            .flat_map(|(story, m)| m.into_iter().map(move |at| (story.clone(), at)))
            .collect();
        for (was, (at, id)) in moved {
            let in_window = self.by_date.get(&at).is_some_and(|g| g.iter().any(|s| s.2 == id));
            let story = match data.story_of(id)? {
                Some(story) if in_window => {
                    let shared = self.shared(&story);
                    now_in.insert(story);
                    shared
                }
                _ => was,
            };
            if let Some(slot) = self.by_date.get_mut(&at).and_then(|g| g.iter_mut().find(|s| s.2 == id)) {
                slot.3 = story.clone();
            }
            self.members.entry(story).or_default().push((at, id));
        }
        for story in now_in {
            let langs = data.story_langs(&story)?;
            if langs.is_empty() {
                self.langs.remove(story.as_str());
            } else {
                let story = self.shared(&story);
                self.langs.insert(story, langs.into());
            }
        }
        Ok(())
    }

    /// Records an entry that just joined `story`.
    fn add(
        &mut self,
        (at, source, key): NearKey,
        id: i64,
        story: &str,
        role: Role,
        lang: Option<&str>,
        publisher: Option<&str>,
    ) {
        if let Some(g) = publisher {
            self.groups.entry(source).or_insert_with(|| g.to_string());
        }
        let story = self.shared(story);
        self.members.entry(story.clone()).or_default().push((at, id));
        let group = self.by_date.entry(at).or_default();
        let row = (source, key, id, story.clone());
        let i = group.partition_point(|r| *r < row);
        group.insert(i, row);
        let langs = self.langs.entry(story).or_default();
        if let Some(l) = lang.filter(|_| role == Role::Version)
            && !langs.iter().any(|x| x == l)
        {
            *langs = langs.iter().cloned().chain([l.to_string()]).collect();
        }
    }

    /// Up to [`NEAREST`] entries published at or before `at` (`before`)
    /// or after it, within `from..=to`. Where the last time taken is shared
    /// by more entries than fit (undated entries of one poll all carry its
    /// time), those of the new entry's publisher group come first, then
    /// the lowest (source, key): a publisher's language versions are found
    /// in a crowded second, and the same entries always give the same
    /// candidates, whatever order their sources were stored in.
    fn nearest(
        &self,
        at: DateTime<Utc>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        publisher: Option<&str>,
        out: &mut Vec<(i64, Arc<str>)>,
    ) {
        use std::ops::Bound::{Excluded, Included};
        let before = self.by_date.range((Included(from), Included(at))).rev();
        let after = self.by_date.range((Excluded(at), Included(to)));
        for side in [Box::new(before) as Box<dyn Iterator<Item = _>>, Box::new(after)] {
            let mut room = NEAREST;
            for (_, group) in side {
                if group.len() <= room {
                    out.extend(group.iter().map(|r| (r.2, r.3.clone())));
                    room -= group.len();
                } else {
                    let own = |r: &&Slot| publisher.is_some() && self.groups.get(&r.0).map(String::as_str) == publisher;
                    let first = group.iter().filter(own);
                    let rest = group.iter().filter(|r| !own(r));
                    out.extend(first.chain(rest).take(room).map(|r| (r.2, r.3.clone())));
                    room = 0;
                }
                if room == 0 {
                    break;
                }
            }
        }
    }
}

/// Candidates: assigned entries sharing an identity key, and the assigned
/// entries published nearest before and after the new one within the dedup
/// window (from `window`). A few indexed reads per new entry, whatever the
/// size of the database.
fn candidates<D: StoryData>(
    data: &mut D,
    window: &mut Window,
    id: i64,
    new: &Features,
) -> Result<Vec<Candidate>, D::Error> {
    let mut keyed: Vec<(i64, String)> = Vec::new();
    for k in new.lookups() {
        data.assigned_with_key(&k, PER_KEY, &mut keyed)?;
    }
    let mut found: Vec<(i64, Arc<str>)> = keyed.into_iter().map(|(c, s)| (c, window.shared(&s))).collect();
    let span = chrono::Duration::days(dedup::WINDOW_DAYS);
    // Compared to the second, as stored.
    let at = new.published.trunc_subsecs(0);
    window.nearest(at, at - span, at + span, new.group.as_deref(), &mut found);
    found.sort_unstable();
    found.dedup();
    found.retain(|(c, _)| *c != id);
    let missing: Vec<&str> = found.iter().map(|(_, s)| &**s).filter(|s| !window.langs.contains_key(*s)).collect();
    if !missing.is_empty() {
        let mut ids = missing;
        ids.sort_unstable();
        ids.dedup();
        let mut more: HashMap<String, Vec<String>> = HashMap::new();
        for (s, l) in data.version_langs_of(&ids)? {
            // Distinct, as the window keeps them.
            let langs = more.entry(s).or_default();
            if !langs.contains(&l) {
                langs.push(l);
            }
        }
        for (_, s) in &found {
            if !window.langs.contains_key(s) {
                window.langs.insert(s.clone(), more.remove(&**s).map(Into::into).unwrap_or_default());
            }
        }
    }
    let mut out = Vec::with_capacity(found.len());
    for (cid, story_id) in found {
        let Some(features) = data.features(cid)? else { continue };
        let story_langs = window.langs.get(&story_id).cloned().unwrap_or_default();
        out.push(Candidate { entry_id: cid, story_id, story_langs, features });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shared scoring: each entry comes back scored by whichever thread
    /// claimed it, to the entry it is taken for, across batches and the
    /// part batch at the end, also past the queue's bound; what the
    /// scoring thread claimed holds the pairs it scored (here,
    /// same-language pairs: every entry before it).
    #[test]
    fn shared_scoring_hands_each_entry_back_scored_by_the_thread_that_claimed_it() {
        use crate::stories::memory::Memory;
        let at: DateTime<Utc> = "2026-12-06T09:00:00Z".parse().unwrap();
        // More than the queue holds: feeding them all waits for the thread.
        let n = (QUEUED_BATCHES + 2) * FEED_BATCH + 3;
        let mut m = Memory::default();
        for id in 1..=n as i64 {
            let f = Features { lang: Some("fi".into()), published: at, source_id: id, ..Features::default() };
            m.store_features(id, f).unwrap();
        }
        let scored = |id: i64| (id as usize - 1).min(BEHIND);
        std::thread::scope(|scope| {
            // The scoring thread claims all before any is taken.
            let mut ahead = Ahead::start(scope, Scoring::Shared);
            for id in 1..=n as i64 {
                ahead.feed(&mut m, id).unwrap();
            }
            ahead.hand_over();
            let claims = ahead.claims.clone().expect("shared scoring counts claims");
            let started = std::time::Instant::now();
            while claims.load(Ordering::Acquire) < n {
                assert!(started.elapsed() < std::time::Duration::from_secs(60), "the scoring thread stalled");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            for id in 1..=n as i64 {
                assert_eq!(ahead.take(id).len(), scored(id), "entry {id}, scored ahead");
            }
            ahead.finish();
            // Taken at once: each by one thread or the other.
            let mut ahead = Ahead::start(scope, Scoring::Shared);
            for id in 1..=n as i64 {
                ahead.feed(&mut m, id).unwrap();
                if id > AHEAD as i64 {
                    let turn = id - AHEAD as i64;
                    let held = ahead.take(turn).len();
                    assert!(held == 0 || held == scored(turn), "entry {turn}: {held}");
                }
            }
            for turn in (n - AHEAD) as i64 + 1..=n as i64 {
                let held = ahead.take(turn).len();
                assert!(held == 0 || held == scored(turn), "entry {turn}: {held}");
            }
            ahead.finish();
        });
    }

    /// A window over `from..=to` holding nothing yet.
    fn empty_window(from: DateTime<Utc>, to: DateTime<Utc>) -> Window {
        Window {
            from,
            to,
            by_date: BTreeMap::new(),
            langs: HashMap::new(),
            groups: HashMap::new(),
            members: HashMap::new(),
        }
    }

    /// Undated entries of one poll share its time: when more of them than
    /// fit are candidates, the new entry's publisher comes first.
    #[test]
    fn a_crowded_second_gives_the_publishers_own_entries_first() {
        let at: DateTime<Utc> = "2026-12-06T09:02:22Z".parse().unwrap();
        let mut rows: Vec<Slot> =
            (0..NEAREST as i64 + 10).map(|i| (i, format!("k{i}"), 100 + i, format!("s{i}").into())).collect();
        rows.push((500, "fi-post".into(), 900, "porvoo-story".into()));
        rows.sort_unstable();
        let window = Window {
            from: at - chrono::Duration::days(7),
            to: at + chrono::Duration::days(7),
            by_date: BTreeMap::from([(at, rows)]),
            langs: HashMap::new(),
            groups: HashMap::from([(500, "porvoo".to_string())]),
            members: HashMap::new(),
        };
        let near = |publisher: Option<&str>| {
            let mut out = Vec::new();
            window.nearest(at, window.from, window.to, publisher, &mut out);
            out
        };
        let own = near(Some("porvoo"));
        assert_eq!(own.len(), NEAREST);
        assert_eq!(own[0], (900, "porvoo-story".into()), "the publisher's entry first");
        assert_eq!(own[1], (100, "s0".into()), "then by (source, key)");
        let other = near(Some("elsewhere"));
        assert_eq!(other.len(), NEAREST);
        assert!(!other.iter().any(|c| c.0 == 900), "a crowd of lower sources fills the room");
        assert_eq!(near(None), other, "no group: (source, key) order");
    }

    /// A story's id is held once: its entries' slots, its languages and the
    /// candidates taken from the window share one copy.
    #[test]
    fn the_window_holds_one_copy_of_each_story_id() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let day = chrono::Duration::days(1);
        let mut window = empty_window(t0 - day * 7, t0 + day * 7);
        window.add((t0, 1, "fi-post".into()), 1, "porvoo", Role::Version, Some("fi"), None);
        window.add((t0 + day, 2, "sv-post".into()), 2, &String::from("porvoo"), Role::Version, Some("sv"), None);
        window.add((t0, 3, "other".into()), 3, "elsewhere", Role::Version, Some("fi"), None);
        let held = window.members.get_key_value("porvoo").expect("a member").0.clone();
        assert!(Arc::ptr_eq(window.langs.get_key_value("porvoo").unwrap().0, &held), "its languages");
        assert!(Arc::ptr_eq(&window.shared("porvoo"), &held));
        let mut near = Vec::new();
        window.nearest(t0, window.from, window.to, None, &mut near);
        let porvoo: Vec<&Arc<str>> = near.iter().filter(|(id, _)| *id != 3).map(|(_, s)| s).collect();
        assert_eq!(porvoo.len(), 2);
        assert!(porvoo.iter().all(|s| Arc::ptr_eq(s, &held)), "its candidates");
        assert_eq!(window.langs["porvoo"][..], ["fi", "sv"]);
        let elsewhere = window.members.get_key_value("elsewhere").expect("a member").0;
        assert!(Arc::ptr_eq(&window.shared("elsewhere"), elsewhere), "each story its own copy");
    }

    /// Entries older than the dedup window before the entry being assigned
    /// leave the window, and with a story's last entry its languages; an
    /// entry dated before the window's start reads it again.
    #[test]
    fn the_window_slides_with_the_batch() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let day = chrono::Duration::days(1);
        let mut window = empty_window(t0 - day * 7, t0 + day * 30);
        for (at, source, id, story, lang) in [
            (t0, 1, 1, "old", "fi"),
            (t0, 2, 2, "long", "sv"),
            (t0 + day * 3, 1, 3, "mid", "fi"),
            (t0 + day * 10, 1, 4, "long", "en"),
        ] {
            window.add((at, source, format!("k{id}")), id, story, Role::Version, Some(lang), None);
        }
        let mut data = super::super::memory::Memory::default();
        window.slide(&mut data, t0 + day * 9).unwrap();
        assert_eq!(window.from, t0 + day * 2);
        let mut near = Vec::new();
        window.nearest(t0 + day * 9, window.from, window.to, None, &mut near);
        assert_eq!(near, vec![(3, "mid".into()), (4, "long".into())]);
        assert!(!window.langs.contains_key("old") && !window.members.contains_key("old"), "its only entry left");
        assert_eq!(window.langs["long"][..], ["sv", "en"], "a story with an entry still inside keeps every language");
        assert_eq!(window.members["long"], [(t0 + day * 10, 4)]);
        // Sliding forward by less than a second, or not at all, changes nothing.
        window.slide(&mut data, t0 + day * 9).unwrap();
        assert_eq!(window.by_date.len(), 2);
        // Earlier than the start: read again (from this empty store).
        window.slide(&mut data, t0 + day * 8).unwrap();
        assert_eq!(window.from, t0 + day);
        assert!(window.by_date.is_empty() && window.langs.is_empty());
    }
}
