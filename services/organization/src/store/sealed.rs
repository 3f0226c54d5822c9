//! Every column that holds a sealed value, read and rewritten in batches for a key rotation (the
//! worker's phone and ID number with their lookup hashes beside them).

use sqlx::PgConnection;
use uuid::Uuid;

/// A sealed column: its table, its name, and the lookup hash kept beside it (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    WorkerPhone,
    WorkerIdNumber,
    CareVisitNotes,
    CareVisitWithdrawnReason,
    HardshipDifficulty,
    HardshipHelp,
    HardshipOutcome,
    HardshipWithdrawnReason,
    RevisionReason,
    /// Only care visits' and hardship files' revisions (kinds 4 and 5) are sealed.
    RevisionBefore,
}

/// `(select a batch, write a batch)` of one column. Rows are taken in id order after `$1`, at
/// most `$2`, locked until the batch commits, so a change a service makes meanwhile waits and is
/// never overwritten with the older value.
macro_rules! statements {
    ($table:literal, $column:literal, where $filter:literal, also $set_hash:literal) => {
        (
            concat!(
                "SELECT id, ", $column, " FROM ", $table, " WHERE id > $1 AND ", $column,
                " IS NOT NULL", $filter, " ORDER BY id LIMIT $2 FOR UPDATE"
            ),
            concat!(
                "UPDATE ", $table, " t SET ", $column, " = v.sealed", $set_hash, "
                 FROM UNNEST($1::uuid[], $2::bytea[], $3::bytea[]) AS v(id, sealed, hash)
                 WHERE t.id = v.id"
            ),
        )
    };
    ($table:literal, $column:literal, $filter:literal) => {
        statements!($table, $column, where $filter, also "")
    };
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 10] = [
        Self::WorkerPhone,
        Self::WorkerIdNumber,
        Self::CareVisitNotes,
        Self::CareVisitWithdrawnReason,
        Self::HardshipDifficulty,
        Self::HardshipHelp,
        Self::HardshipOutcome,
        Self::HardshipWithdrawnReason,
        Self::RevisionReason,
        Self::RevisionBefore,
    ];

    /// `table.column`, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::WorkerPhone => "workers.phone_sealed",
            Self::WorkerIdNumber => "workers.id_number_sealed",
            Self::CareVisitNotes => "care_visits.notes_sealed",
            Self::CareVisitWithdrawnReason => "care_visits.withdrawn_reason_sealed",
            Self::HardshipDifficulty => "hardship_files.difficulty_sealed",
            Self::HardshipHelp => "hardship_files.help_sealed",
            Self::HardshipOutcome => "hardship_files.outcome_sealed",
            Self::HardshipWithdrawnReason => "hardship_files.withdrawn_reason_sealed",
            Self::RevisionReason => "revisions.reason_sealed",
            Self::RevisionBefore => "revisions.before",
        }
    }

    /// Whether a lookup hash of the plaintext is kept beside the value.
    pub fn hashed(self) -> bool {
        matches!(self, Self::WorkerPhone | Self::WorkerIdNumber)
    }

    fn statements(self) -> (&'static str, &'static str) {
        match self {
            Self::WorkerPhone => {
                statements!("workers", "phone_sealed", where "", also ", phone_hash = v.hash")
            }
            Self::WorkerIdNumber => statements!(
                "workers", "id_number_sealed", where "", also ", id_number_hash = v.hash"
            ),
            Self::CareVisitNotes => statements!("care_visits", "notes_sealed", ""),
            Self::CareVisitWithdrawnReason => {
                statements!("care_visits", "withdrawn_reason_sealed", "")
            }
            Self::HardshipDifficulty => statements!("hardship_files", "difficulty_sealed", ""),
            Self::HardshipHelp => statements!("hardship_files", "help_sealed", ""),
            Self::HardshipOutcome => statements!("hardship_files", "outcome_sealed", ""),
            Self::HardshipWithdrawnReason => {
                statements!("hardship_files", "withdrawn_reason_sealed", "")
            }
            Self::RevisionReason => statements!("revisions", "reason_sealed", ""),
            Self::RevisionBefore => statements!("revisions", "before", " AND kind IN (4, 5)"),
        }
    }
}

/// The next batch of `column`'s sealed values after `after`, locked.
pub async fn batch(
    tx: &mut PgConnection,
    column: SealedColumn,
    after: Uuid,
    limit: i64,
) -> Result<Vec<(Uuid, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as(column.statements().0)
        .bind(after)
        .bind(limit)
        .fetch_all(tx)
        .await
}

/// Writes re-sealed values (and, for a hashed column, their new lookup hashes).
pub async fn rewrite(
    tx: &mut PgConnection,
    column: SealedColumn,
    ids: &[Uuid],
    sealed: &[Vec<u8>],
    hashes: &[Option<Vec<u8>>],
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(column.statements().1)
        .bind(ids)
        .bind(sealed)
        .bind(hashes)
        .execute(tx)
        .await?
        .rows_affected())
}
