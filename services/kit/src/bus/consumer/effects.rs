//! The consumer's database side: an event's (or a group's) inbox row and the handler's effect in
//! one transaction, so a redelivered event finds its row and changes nothing (unless the effect
//! is keyed by the event itself, [`Handler::keyed_by_effect`], and needs no row); and the
//! dead-letter row of an event given up on.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{Outcome, Prepared, Runner};
use crate::bus::{
    Event,
    handler::{Handler, HandlerError},
};

impl<H: Handler> Runner<H> {
    /// The whole group in one transaction: one inbox insert for every event, then the handler's
    /// set-wise effect for the fresh ones. Outcomes in the order of `items`.
    pub(super) async fn apply_group(
        &self,
        items: &[Prepared],
    ) -> Result<Vec<Outcome>, HandlerError> {
        let mut tx = crate::db::begin_generic(&self.pool).await?;
        // Events whose effect is keyed by themselves need no inbox row (and, when none does, the
        // group no inbox statement).
        let (keyed, inboxed): (Vec<&Prepared>, Vec<&Prepared>) = items
            .iter()
            .partition(|i| self.handler.keyed_by_effect(&i.event));
        let ids: Vec<Uuid> = inboxed.iter().map(|i| i.event.id).collect();
        let mut fresh: std::collections::HashSet<Uuid> = if ids.is_empty() {
            Default::default()
        } else {
            sqlx::query_scalar(
                "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])
                 ON CONFLICT DO NOTHING RETURNING event_id",
            )
            .bind(self.spec.durable)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect()
        };
        fresh.extend(keyed.iter().map(|i| i.event.id));
        // An event delivered twice within the group is applied once.
        let mut first = std::collections::HashSet::new();
        let outcomes: Vec<Outcome> = items
            .iter()
            .map(|i| {
                if fresh.contains(&i.event.id) && first.insert(i.event.id) {
                    Outcome::Applied
                } else {
                    Outcome::Duplicate
                }
            })
            .collect();
        let events: Vec<&Event> = items
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| matches!(o, Outcome::Applied))
            .map(|(i, _)| &i.event)
            .collect();
        self.handler.handle_many(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The inbox row and the handler's effect, inside the caller's (savepoint) transaction.
    pub(super) async fn apply_in(
        &self,
        conn: &mut PgConnection,
        event: &Event,
    ) -> Result<Outcome, HandlerError> {
        if self.handler.keyed_by_effect(event) {
            self.handler.handle(conn, event).await?;
            return Ok(Outcome::Applied);
        }
        let fresh = sqlx::query(
            "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(self.spec.durable)
        .bind(event.id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(Outcome::Duplicate);
        }
        self.handler.handle(conn, event).await?;
        Ok(Outcome::Applied)
    }

    pub(super) async fn park(
        &self,
        event: &Event,
        error: &HandlerError,
    ) -> Result<(), sqlx::Error> {
        let headers = serde_json::to_value(&event.headers).unwrap_or_default();
        sqlx::query(
            "INSERT INTO dead_letters (consumer, event_id, subject, headers, payload, error, deliveries)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(self.spec.durable)
        .bind((!event.id.is_nil()).then_some(event.id))
        .bind(&event.subject)
        .bind(headers)
        .bind(event.payload.as_ref())
        .bind(error.to_string())
        .bind(event.delivered)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }
}
