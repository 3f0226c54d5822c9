//! Waiting on what fills by event: read-model rows and counts, consumers with nothing left to do,
//! and the stations ledger checked against its balances.

use uuid::Uuid;

use crate::{TestApp, eventually};

impl TestApp {
    /// Waits until `count_sql` (a `count(*)` with `$1` for the id) finds the row: a read model
    /// that fills by event.
    pub async fn await_row(&self, what: &str, count_sql: &'static str, id: Uuid) {
        let pool = self.db.pool().await;
        eventually(what, || {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar(count_sql)
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .ok()?;
                (n == 1).then_some(())
            }
        })
        .await;
    }

    /// What `count_sql` (a `count(*)` without parameters) counts now.
    pub async fn count(&self, count_sql: &'static str) -> i64 {
        sqlx::query_scalar(count_sql)
            .fetch_one(&self.db.pool().await)
            .await
            .expect("the count")
    }

    /// Waits until `count_sql` (a `count(*)` without parameters) counts `n`.
    pub async fn await_count(&self, what: &str, count_sql: &'static str, n: i64) {
        let pool = self.db.pool().await;
        eventually(what, || {
            let pool = pool.clone();
            async move {
                let now: i64 = sqlx::query_scalar(count_sql).fetch_one(&pool).await.ok()?;
                (now == n).then_some(())
            }
        })
        .await;
    }

    /// Waits until stations' read models know the worker (its registration arrives by event).
    pub async fn stations_know_worker(&self, worker: Uuid) {
        self.await_row(
            "stations to learn the worker",
            "SELECT count(*) FROM stations.workers WHERE id = $1",
            worker,
        )
        .await;
    }

    /// Waits until stations' read models know the community (it arrives by event).
    pub async fn stations_know_community(&self, community: Uuid) {
        self.await_row(
            "stations to learn the community",
            "SELECT count(*) FROM stations.communities WHERE id = $1",
            community,
        )
        .await;
    }

    /// Waits until a consumer has nothing pending and nothing unacknowledged.
    pub async fn consumer_idle(
        &self,
        producer: &str,
        durable: &str,
    ) -> async_nats::jetstream::consumer::Info {
        let js = self.rt.bus.jetstream.clone();
        let stream = kit::bus::stream_name(producer);
        eventually(&format!("{durable} to be idle"), || {
            let js = js.clone();
            let stream = stream.clone();
            async move {
                let mut consumer: async_nats::jetstream::consumer::PullConsumer = js
                    .get_stream(&stream)
                    .await
                    .ok()?
                    .get_consumer(durable)
                    .await
                    .ok()?;
                let info = consumer.info().await.ok()?.clone();
                (info.num_pending == 0 && info.num_ack_pending == 0).then_some(info)
            }
        })
        .await
    }

    /// Every balance equals the sum of its worker's ledger entries.
    pub async fn assert_ledger_replays(&self) {
        // Every part of every balance is the sum of its ledger's movements of that part.
        let drift: Vec<(Uuid, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT b.worker_id, b.points, b.pending, b.debt,
                    COALESCE(sum(l.points - l.pending_change + l.debt_change), 0)::bigint,
                    COALESCE(sum(l.pending_change), 0)::bigint, COALESCE(sum(l.debt_change), 0)::bigint
             FROM stations.balances b LEFT JOIN stations.ledger_entries l ON l.worker_id = b.worker_id
             GROUP BY b.worker_id, b.points, b.pending, b.debt
             HAVING b.points <> COALESCE(sum(l.points - l.pending_change + l.debt_change), 0)
                 OR b.pending <> COALESCE(sum(l.pending_change), 0)
                 OR b.debt <> COALESCE(sum(l.debt_change), 0)",
        )
        .fetch_all(&self.db.pool().await)
        .await
        .expect("ledger query");
        assert!(
            drift.is_empty(),
            "balances (available, pending, debt) differ from their ledgers: {drift:?}"
        );
    }
}
