//! What a consumer is made of, apart from the machinery that runs it: which events it takes
//! ([`ConsumerSpec`]), the effect a service gives each event ([`Handler`]), and why an effect was
//! not applied ([`HandlerError`]: retry, retry without limit, or park at once).

use std::{error::Error as StdError, future::Future};

use sqlx::PgConnection;

use super::Event;
use crate::api::cause_chain;

/// Which events a consumer takes.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Durable name, `<service>-<purpose>`; also the inbox key.
    pub durable: &'static str,
    /// The producing service whose stream holds the events.
    pub producer: &'static str,
    /// One subject filter (wildcards allowed); nats-server 2.9 knows no filter lists.
    pub subject: &'static str,
}

impl ConsumerSpec {
    /// The consumer `durable` of `subject` (one of `redsupply_proto::subjects`), read from the
    /// stream of the service the subject names (`redsupply.<service>.…`).
    pub fn new(durable: &'static str, subject: &'static str) -> Self {
        let producer = subject
            .strip_prefix("redsupply.")
            .and_then(|rest| rest.split('.').next())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| panic!("{subject} is not a redsupply.<service>.… subject"));
        Self {
            durable,
            producer,
            subject,
        }
    }
}

/// Why a handler did not apply an event.
#[derive(Debug)]
pub struct HandlerError {
    pub(super) permanent: bool,
    /// The database was away or overloaded: retried without limit, never parked.
    pub(super) infrastructure: bool,
    pub(super) source: Box<dyn StdError + Send + Sync>,
}

impl HandlerError {
    /// Retrying cannot help (e.g. the payload does not decode): park it at once.
    pub fn permanent(e: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            permanent: true,
            infrastructure: false,
            source: e.into(),
        }
    }
    /// Worth retrying later.
    pub fn transient(e: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            permanent: false,
            infrastructure: false,
            source: e.into(),
        }
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", cause_chain(self.source.as_ref()))
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        Self {
            permanent: false,
            infrastructure: crate::db::classify(&e).is_infrastructure(),
            source: e.into(),
        }
    }
}

/// The effect of one event, applied inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a Event,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a;

    /// Applies several events that arrived together, none applied before, in one go. The default
    /// applies them one after another; a handler may instead work set-wise (a few statements for
    /// the whole group). On any error the consumer undoes the group and applies its events again
    /// one by one, each in its own savepoint, so a set-wise path only has to handle the common
    /// case and may refuse anything unusual with an error.
    fn handle_many<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a Event],
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a {
        async move {
            for event in events {
                self.handle(&mut *tx, event).await?;
            }
            Ok(())
        }
    }

    /// Whether the effect of `event` is keyed by the event itself, so that applying it again
    /// changes nothing: a row whose unique key a redelivery repeats (a ledger entry per source
    /// event), or a state the first application left behind and the handler checks (a tip no
    /// longer waiting for dispatch). Such an event is applied without an inbox row; the handler
    /// alone guarantees that a redelivery, or the same event twice in one group, has no second
    /// effect.
    fn keyed_by_effect(&self, _event: &Event) -> bool {
        false
    }

    /// Whether the event has no effect at all here (a consumer of a wide subject that acts on
    /// few of its events): it is acknowledged without a transaction or an inbox row.
    fn ignores(&self, _event: &Event) -> bool {
        false
    }

    /// Runs after the transaction committed (e.g. to update an in-memory index).
    fn after_commit(&self, _event: &Event) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_reads_the_stream_its_subject_names() {
        let spec = ConsumerSpec::new("stations-workers", "redsupply.organization.worker.>");
        assert_eq!(spec.producer, "organization");
        assert_eq!(spec.subject, "redsupply.organization.worker.>");
    }

    #[test]
    #[should_panic(expected = "not a redsupply.<service>")]
    fn a_subject_outside_the_streams_is_refused() {
        ConsumerSpec::new("x", "other.organization.worker.>");
    }

    #[test]
    fn database_outages_retry_without_limit_and_bugs_do_not() {
        let outage = HandlerError::from(sqlx::Error::PoolTimedOut);
        assert!(outage.infrastructure && !outage.permanent);
        let bug = HandlerError::from(sqlx::Error::RowNotFound);
        assert!(!bug.infrastructure && !bug.permanent);
    }
}
