//! Townships and streets (镇街): the territorial units above communities.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    change::{self, Aggregate, ChangeError},
    events,
    store::geography::{self, TownshipRow},
};

pub struct TownshipChange<'a> {
    pub id: Option<Uuid>,
    pub expected_version: i64,
    pub request_id: &'a str,
    pub name: &'a str,
    pub kind: i16,
}

pub async fn upsert(
    pool: &PgPool,
    caller: &str,
    c: TownshipChange<'_>,
) -> Result<TownshipRow, ChangeError> {
    let mut tx = pool.begin().await?;
    let row: TownshipRow = match c.id {
        Some(id) => {
            change::lock(&mut tx, Aggregate::Township, id, c.expected_version).await?;
            geography::update_township(&mut tx, id, c.name, c.kind).await?
        }
        None => {
            let id = Uuid::now_v7();
            if let Some(existing) =
                change::claim_request(&mut tx, caller, c.request_id, Aggregate::Township, id)
                    .await?
            {
                return Ok(geography::township(&mut tx, existing)
                    .await?
                    .expect("claimed township exists"));
            }
            geography::insert_township(&mut tx, id, c.name, c.kind).await?
        }
    };
    // Communities carry their township's name: a rename is a change of each of them too.
    let renamed = geography::rename_township_communities(&mut tx, row.id, &row.name).await?;
    for c in &renamed {
        events::community_upserted(&mut tx, c).await?;
    }
    events::township_upserted(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row)
}
