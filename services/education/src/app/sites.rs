//! Creating a learning site: the row and its `LearningSiteCreated` event in one transaction. Used by
//! the API and the demo seed.

use kit::bus::enqueue;
use sqlx::PgPool;

use crate::{
    events::publish,
    store::{self, NewSite, SiteRow},
};

pub async fn create_site(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    site: &NewSite<'_>,
) -> Result<SiteRow, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (row, new) = store::insert_site(&mut tx, caller, request_id, site).await?;
    if new {
        enqueue(&mut tx, publish::learning_site_created(&row)).await?;
    }
    tx.commit().await?;
    Ok(row)
}
