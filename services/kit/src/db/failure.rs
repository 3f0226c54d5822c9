//! The one classification of database failures. The gRPC status of a failed call, whether a
//! consumer retries an event without limit, and whether intake retries a failed batch tip by tip
//! all follow from what the failure means, so they read it here and nowhere else.

/// What a failed statement means for whoever asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    /// The database is away, overloaded, restarting, or ended the session (a lost connection, a
    /// full pool, too many connections, an administrator's shutdown, the idle-in-transaction
    /// timeout): ask again later; it says nothing about the request.
    Unavailable,
    /// The statement ran into its `statement_timeout`: the database may be busy, or this request
    /// may be too heavy.
    TimedOut,
    /// A serialization failure or a deadlock: the same transaction again will likely pass.
    Contention,
    /// A unique constraint: what the request creates exists already.
    Duplicate,
    /// A foreign key: what the request refers to does not exist.
    MissingReference,
    /// The input broke a check constraint or a type's limits (too long, out of range, not valid
    /// text, a NUL, an index row too large).
    BadInput,
    /// Anything else: a bug on this side.
    Bug,
}

impl StoreFailure {
    /// Worth retrying with no limit: nothing about the request itself is wrong.
    pub fn is_infrastructure(self) -> bool {
        matches!(self, StoreFailure::Unavailable | StoreFailure::Contention)
    }
}

/// What `err` means (see [`StoreFailure`]).
pub fn classify(err: &sqlx::Error) -> StoreFailure {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreFailure::Unavailable,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some(code) => classify_code(code),
            None => StoreFailure::Bug,
        },
        _ => StoreFailure::Bug,
    }
}

/// What a PostgreSQL SQLSTATE means.
fn classify_code(code: &str) -> StoreFailure {
    match code {
        "57014" => StoreFailure::TimedOut,
        "40001" | "40P01" => StoreFailure::Contention,
        "23505" => StoreFailure::Duplicate,
        "23503" => StoreFailure::MissingReference,
        "23514" | "22001" | "22003" | "22P02" | "22021" | "54000" => StoreFailure::BadInput,
        // idle_in_transaction_session_timeout ended the session
        "25P03" => StoreFailure::Unavailable,
        // connection exceptions, insufficient resources, operator intervention
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57") => {
            StoreFailure::Unavailable
        }
        _ => StoreFailure::Bug,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            sqlx::Error::Protocol("unexpected end of stream".into()),
        ] {
            assert_eq!(classify(&e), StoreFailure::Unavailable, "{e}");
            assert!(classify(&e).is_infrastructure());
        }
    }

    #[test]
    fn sqlstates_by_what_they_mean() {
        let cases = [
            ("08006", StoreFailure::Unavailable),
            ("53300", StoreFailure::Unavailable),
            ("57P01", StoreFailure::Unavailable),
            ("25P03", StoreFailure::Unavailable),
            ("57014", StoreFailure::TimedOut),
            ("40001", StoreFailure::Contention),
            ("40P01", StoreFailure::Contention),
            ("23505", StoreFailure::Duplicate),
            ("23503", StoreFailure::MissingReference),
            ("22021", StoreFailure::BadInput),
            ("54000", StoreFailure::BadInput),
            ("42P01", StoreFailure::Bug),
            ("42703", StoreFailure::Bug),
        ];
        for (code, want) in cases {
            assert_eq!(classify_code(code), want, "{code}");
        }
        // A statement that timed out may be this request's fault: it counts towards a
        // consumer's delivery limit.
        assert!(!StoreFailure::TimedOut.is_infrastructure());
        assert!(!StoreFailure::Bug.is_infrastructure());
    }
}
