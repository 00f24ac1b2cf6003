//! Decoded dedup features of the stored entries met most recently, kept by
//! a store for its whole life (assignment reads them often). Bounded:
//! assignment goes in publication order and compares each entry with its
//! nearest neighbours, which are the entries it met last; anything older is
//! read again when a key match needs it. Pure: the store reads and decodes
//! on a miss.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::dedup::Features;

/// Entries kept decoded (a few KiB each, and up to as much again for the
/// paragraph index built on first comparison). Assignment compares an
/// entry with at most `NEAREST` neighbours a side, met within the last
/// few hundred entries it assigned: 4,096 gave the same speed on the
/// 1,000 x 50 farms and 30 MiB more at the peak of the assignment.
const CACHE_MAX: usize = 1024;

/// The cache (see the module documentation).
#[derive(Default)]
pub struct FeatureCache {
    map: HashMap<i64, Arc<Features>>,
    order: VecDeque<i64>,
}

impl FeatureCache {
    /// An entry's features, when kept.
    pub fn get(&self, id: i64) -> Option<Arc<Features>> {
        self.map.get(&id).cloned()
    }

    /// Keeps an entry's features (just read), dropping the oldest beyond the bound.
    pub fn put(&mut self, id: i64, f: Features) -> Arc<Features> {
        let f = Arc::new(f);
        if self.map.insert(id, f.clone()).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > CACHE_MAX {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        f
    }

    /// Forgets an entry whose features were just replaced.
    pub fn forget(&mut self, id: i64) {
        if self.map.remove(&id).is_some() {
            self.order.retain(|i| *i != id);
        }
    }
}
