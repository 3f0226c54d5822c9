//! A transaction's events go out only once other sessions can see the transaction. PostgreSQL
//! writes a commit to the WAL, where logical decoding reads it, a moment before the transaction
//! leaves the list of running ones: in that moment a consumer handed its event (the dispatch
//! reading the tip back) would find nothing, and the outbox table never allowed that (a row is
//! claimable only once visible). So the relay checks the transaction against a current snapshot
//! first, and takes a new snapshot while it is not visible yet (rarely more than once).

use std::time::Duration;

use sqlx::PgPool;

use super::RelayError;

/// A `pg_current_snapshot()`: transactions below `xmin` are complete, those in `running` (and
/// from `xmax` on) are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Snapshot {
    xmin: u64,
    xmax: u64,
    running: Vec<u64>,
}

impl Snapshot {
    /// Parses `xmin:xmax:xip,xip,...`.
    pub(super) fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let running = match parts.next()? {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?,
        };
        Some(Self {
            xmin,
            xmax,
            running,
        })
    }

    /// Whether the committed transaction `xid` (32 bits, as the replication stream gives it) is
    /// visible to this snapshot. Its full id is the one with those bits nearest to `xmax`: the
    /// transaction is recent, and may still be at or past `xmax` (not yet complete).
    pub(super) fn sees(&self, xid: u32) -> bool {
        const EPOCH: u64 = 1 << 32;
        let mut full = (self.xmax & !(EPOCH - 1)) | u64::from(xid);
        if full > self.xmax + EPOCH / 2 && full >= EPOCH {
            full -= EPOCH;
        } else if full + EPOCH / 2 < self.xmax {
            full += EPOCH;
        }
        full < self.xmin || (full < self.xmax && !self.running.contains(&full))
    }
}

/// The newest snapshot the relay read; a transaction it shows as visible stays so.
pub(super) struct Visibility {
    pool: PgPool,
    last: Option<Snapshot>,
}

impl Visibility {
    pub(super) fn new(pool: PgPool) -> Self {
        Self { pool, last: None }
    }

    /// Returns once the committed transaction `xid` is visible to new snapshots; fails after
    /// `GIVE_UP` (the session then ends, and resumes from the confirmed position).
    pub(super) async fn wait(&mut self, xid: u32) -> Result<(), RelayError> {
        const GIVE_UP: Duration = Duration::from_secs(30);
        let (started, mut pause) = (tokio::time::Instant::now(), Duration::from_micros(200));
        loop {
            if self.last.as_ref().is_some_and(|s| s.sees(xid)) {
                return Ok(());
            }
            let text: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
                .fetch_one(&self.pool)
                .await?;
            let fresh = Snapshot::parse(&text);
            let seen = fresh.as_ref().is_none_or(|s| s.sees(xid));
            self.last = fresh;
            if seen {
                return Ok(());
            }
            if started.elapsed() > GIVE_UP {
                return Err(RelayError::Invisible(xid, GIVE_UP));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Snapshot;

    #[test]
    fn a_snapshot_reads_and_answers_for_its_transactions() {
        let s = Snapshot::parse("100:110:104,107").unwrap();
        assert!(s.sees(99) && s.sees(100) && s.sees(105) && s.sees(109));
        assert!(!s.sees(104) && !s.sees(107), "still running");
        assert!(
            !s.sees(110) && !s.sees(111),
            "from xmax on, not yet complete"
        );
        assert_eq!(Snapshot::parse("7:7:").unwrap().running, Vec::<u64>::new());
        assert!(Snapshot::parse("7:x:").is_none());
    }

    #[test]
    fn a_transaction_id_past_a_wraparound_of_its_32_bits_is_placed_in_the_right_epoch() {
        // xmax in epoch 1, just past 2^32: a 32-bit id near the top belongs to epoch 0.
        let wrap = 1u64 << 32;
        let s = Snapshot::parse(&format!("{}:{}:{}", wrap - 5, wrap + 10, wrap + 3)).unwrap();
        assert!(s.sees(u32::MAX - 10), "epoch 0, below xmin");
        assert!(s.sees(2), "epoch 1, complete");
        assert!(!s.sees(3), "epoch 1, running");
        assert!(!s.sees(12), "epoch 1, at or past xmax");
        // xmax just below 2^32: a small 32-bit id is the next epoch's, not yet complete.
        let s = Snapshot::parse(&format!("{}:{}:", wrap - 20, wrap - 2)).unwrap();
        assert!(s.sees(u32::MAX - 30) && !s.sees(5) && !s.sees(u32::MAX - 1));
    }
}
