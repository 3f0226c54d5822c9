//! Moving personal data to a new master key: every sealed value not yet sealed with the current
//! key is opened (with whichever configured key sealed it) and sealed again, and the worker's
//! lookup hashes are computed again under the current key. Batches commit one at a time and a
//! value already current is left, so it can be stopped and run again; running it while the
//! services serve is safe (rows are locked while their batch is rewritten).

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    domain::personal::{PersonalDataError, Vault},
    store::sealed::{self, SealedColumn},
};

#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(
        "{column} of {id} opens with none of the configured keys (is a previous key missing from organization.previous_personal_data_keys?): {source}"
    )]
    Unreadable {
        column: &'static str,
        id: Uuid,
        source: PersonalDataError,
    },
}

/// What a re-seal did to one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    pub column: &'static str,
    /// Values sealed again with the current key.
    pub resealed: u64,
    /// Values that already were.
    pub already_current: u64,
}

/// Re-seals every sealed column in batches of `batch` rows.
pub async fn reseal(
    pool: &PgPool,
    vault: &Vault,
    batch: i64,
) -> Result<Vec<Resealed>, ResealError> {
    let mut report = Vec::with_capacity(SealedColumn::ALL.len());
    for column in SealedColumn::ALL {
        let mut done = Resealed {
            column: column.name(),
            resealed: 0,
            already_current: 0,
        };
        let mut after = Uuid::nil();
        loop {
            let mut tx = pool.begin().await?;
            let rows = sealed::batch(&mut tx, column, after, batch.max(1)).await?;
            let Some((last, _)) = rows.last() else {
                break;
            };
            after = *last;
            let (mut ids, mut values, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
            for (id, value) in rows {
                if vault.is_current(&value) {
                    done.already_current += 1;
                    continue;
                }
                let plain = vault
                    .open_bytes(&value)
                    .map_err(|source| ResealError::Unreadable {
                        column: column.name(),
                        id,
                        source,
                    })?;
                hashes.push(
                    column
                        .hashed()
                        .then(|| vault.lookup_hash(&String::from_utf8_lossy(&plain))),
                );
                values.push(vault.seal_bytes(&plain));
                ids.push(id);
            }
            if !ids.is_empty() {
                done.resealed += sealed::rewrite(&mut tx, column, &ids, &values, &hashes).await?;
            }
            tx.commit().await?;
        }
        tracing::info!(
            column = done.column,
            resealed = done.resealed,
            already_current = done.already_current,
            "re-sealed"
        );
        report.push(done);
    }
    Ok(report)
}
