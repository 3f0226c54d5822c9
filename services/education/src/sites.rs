//! Creating a learning site: the row and its `LearningSiteCreated` event in one transaction. Used by
//! the API and the demo seed.

use kit::{
    bus::{NewEvent, enqueue},
    time::to_timestamp,
};
use redsupply_proto::events::v1 as ev;
use sqlx::PgPool;

use crate::store::{self, NewSite, SiteRow};

pub const SOURCE: &str = "redsupply/education";
pub const LEARNING_SITE_CREATED: &str = "redsupply.education.learning_site.created";

pub async fn create_site(
    pool: &PgPool,
    caller: &str,
    request_id: &str,
    site: &NewSite<'_>,
) -> Result<SiteRow, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (row, new) = store::insert_site(&mut tx, caller, request_id, site).await?;
    if new {
        let msg = ev::LearningSiteCreated {
            site_id: row.id.to_string(),
            name: row.name.clone(),
            community_id: row.community_id.map(|c| c.to_string()).unwrap_or_default(),
            capacity: row.capacity,
            occurred_at: Some(to_timestamp(row.created_at)),
        };
        enqueue(
            &mut tx,
            NewEvent::new(SOURCE, LEARNING_SITE_CREATED, row.id, &msg),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(row)
}
