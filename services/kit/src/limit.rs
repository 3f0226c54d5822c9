//! Per-caller limits kept in memory, so one caller cannot make a call expensive or noisy for
//! everyone: [`Slots`] bounds how many long-lived things (streams) a caller holds at once,
//! [`RateLimit`] how many calls of one kind a caller makes per window. Both are per process: with
//! N replicas a caller gets at most N times the limit, which bounds cost without a shared store.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tonic::Status;

/// At most `max` concurrent holders per key; a [`Slot`] gives its place back when dropped.
#[derive(Clone, Debug)]
pub struct Slots {
    what: &'static str,
    max: usize,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

impl Slots {
    /// `max` 0 means no limit.
    pub fn new(what: &'static str, max: usize) -> Self {
        Self {
            what,
            max,
            held: Arc::default(),
        }
    }

    /// A slot for `key`, or RESOURCE_EXHAUSTED when it holds `max` already.
    pub fn acquire(&self, key: &str) -> Result<Slot, Status> {
        let mut held = self.held.lock().expect("slots lock");
        let n = held.entry(key.to_owned()).or_default();
        if self.max > 0 && *n >= self.max {
            return Err(Status::resource_exhausted(format!(
                "at most {} {} per caller are open; close one first",
                self.max, self.what
            )));
        }
        *n += 1;
        Ok(Slot {
            key: key.to_owned(),
            held: self.held.clone(),
        })
    }

    /// How many slots `key` holds now.
    pub fn held(&self, key: &str) -> usize {
        self.held
            .lock()
            .expect("slots lock")
            .get(key)
            .copied()
            .unwrap_or(0)
    }
}

/// One place of a [`Slots`], given back on drop.
#[derive(Debug)]
pub struct Slot {
    key: String,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().expect("slots lock");
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// At most `max` calls per key in each fixed `window`.
#[derive(Clone, Debug)]
pub struct RateLimit {
    what: &'static str,
    max: u32,
    window: Duration,
    counts: Arc<Mutex<(Instant, HashMap<String, u32>)>>,
}

impl RateLimit {
    /// `max` 0 means no limit.
    pub fn new(what: &'static str, max: u32, window: Duration) -> Self {
        Self {
            what,
            max,
            window,
            counts: Arc::new(Mutex::new((Instant::now(), HashMap::new()))),
        }
    }

    /// Counts one call of `key`; RESOURCE_EXHAUSTED beyond `max` in the current window.
    pub fn check(&self, key: &str) -> Result<(), Status> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Status> {
        if self.max == 0 {
            return Ok(());
        }
        let mut guard = self.counts.lock().expect("rate limit lock");
        let (started, counts) = &mut *guard;
        if now.duration_since(*started) >= self.window {
            // A new window forgets every key: the map never holds more than one window's callers.
            *started = now;
            counts.clear();
        }
        let n = counts.entry(key.to_owned()).or_default();
        if *n >= self.max {
            let left = self.window.saturating_sub(now.duration_since(*started));
            return Err(Status::resource_exhausted(format!(
                "at most {} {} per {} s per caller; try again in {} s",
                self.max,
                self.what,
                self.window.as_secs(),
                left.as_secs().max(1)
            )));
        }
        *n += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_given_back_on_drop() {
        let slots = Slots::new("streams", 2);
        let a = slots.acquire("platform-1").unwrap();
        let _b = slots.acquire("platform-1").unwrap();
        let refused = slots.acquire("platform-1").unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        // Another caller is not affected.
        let _c = slots.acquire("platform-2").unwrap();
        drop(a);
        assert_eq!(slots.held("platform-1"), 1);
        slots.acquire("platform-1").unwrap();
    }

    #[test]
    fn rates_reset_with_each_window() {
        let limit = RateLimit::new("reports", 2, Duration::from_secs(60));
        let t0 = Instant::now();
        limit.check_at("w", t0).unwrap();
        limit.check_at("w", t0).unwrap();
        let refused = limit
            .check_at("w", t0 + Duration::from_secs(59))
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(
            refused.message().contains("try again in 1 s"),
            "{refused:?}"
        );
        limit.check_at("other", t0).unwrap();
        limit.check_at("w", t0 + Duration::from_secs(60)).unwrap();
    }

    #[test]
    fn zero_means_no_limit() {
        let limit = RateLimit::new("reports", 0, Duration::from_secs(1));
        for _ in 0..1_000 {
            limit.check("w").unwrap();
        }
        let slots = Slots::new("streams", 0);
        let held: Vec<_> = (0..100).map(|_| slots.acquire("x").unwrap()).collect();
        assert_eq!(held.len(), 100);
    }
}
