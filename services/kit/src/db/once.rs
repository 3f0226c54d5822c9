//! Create-once on the caller's `request_id`: the insert does nothing when the caller's key is
//! taken (`ON CONFLICT (created_by, request_id) DO NOTHING RETURNING …`), and then the row made by
//! the first attempt is loaded, so a retried create answers with the same record and creates
//! nothing. Every store that creates on a request id goes through here with its own two
//! statements.

use sqlx::{PgConnection, Postgres, postgres::PgRow, query::QueryAs};

/// Runs `insert`; when it created nothing (the request id was used before), loads the earlier
/// row with `existing`. Returns the row and whether this call created it.
pub async fn create_once<'q, R, A>(
    conn: &mut PgConnection,
    insert: QueryAs<'q, Postgres, R, A>,
    existing: QueryAs<'q, Postgres, R, A>,
) -> Result<(R, bool), sqlx::Error>
where
    R: Send + Unpin + for<'r> sqlx::FromRow<'r, PgRow>,
    A: 'q + Send + sqlx::IntoArguments<Postgres>,
{
    if let Some(row) = insert.fetch_optional(&mut *conn).await? {
        return Ok((row, true));
    }
    Ok((existing.fetch_one(&mut *conn).await?, false))
}
