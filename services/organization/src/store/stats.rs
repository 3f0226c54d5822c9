//! The registry's headline figures, each counted from the data (never stored), so that the demo
//! county's figures come back through the API exactly as the source document gives them.

use std::collections::HashMap;

use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Stats {
    pub townships: i64,
    pub communities: i64,
    pub grids: i64,
    pub workers: i64,
    pub party_members: i64,
    pub workers_reported_in: i64,
    pub party_organizations: i64,
    pub industry_committees: i64,
    pub enterprises: i64,
    pub enterprises_surveyed: i64,
    pub instructors: i64,
    pub instructors_assigned_to_organizations: i64,
    pub red_commissioners: i64,
    pub members_in_touch: i64,
    pub workers_in_touch: i64,
    pub forums: i64,
    pub enterprise_issues: i64,
    pub enterprise_issues_resolved: i64,
    pub care_visits: i64,
    pub hardship_files: i64,
    pub join_requests_approved: i64,
    #[sqlx(skip)]
    pub by_formation_mode: HashMap<i16, i64>,
}

/// The figures over `communities` (None: the whole county). Guides and forums are the county's
/// and always counted county-wide.
pub async fn compute(pool: &PgPool, communities: Option<&[Uuid]>) -> Result<Stats, sqlx::Error> {
    let mut stats: Stats = sqlx::query_as(
        "WITH live_links AS (
             SELECT l.member_id, l.worker_id FROM contact_links l
             JOIN workers w ON w.id = l.worker_id AND w.deleted_at IS NULL AND ($1::uuid[] IS NULL OR w.community_id = ANY($1))
             JOIN workers m ON m.id = l.member_id AND m.deleted_at IS NULL AND m.party_member
         )
         SELECT
           (SELECT count(*) FROM townships t WHERE $1::uuid[] IS NULL
              OR t.id IN (SELECT township_id FROM communities WHERE id = ANY($1))) AS townships,
           (SELECT count(*) FROM communities WHERE ($1::uuid[] IS NULL OR id = ANY($1))) AS communities,
           (SELECT count(*) FROM grids WHERE deleted_at IS NULL AND ($1::uuid[] IS NULL OR community_id = ANY($1))) AS grids,
           (SELECT count(*) FROM workers WHERE deleted_at IS NULL AND ($1::uuid[] IS NULL OR community_id = ANY($1))) AS workers,
           (SELECT count(*) FROM workers WHERE deleted_at IS NULL AND party_member AND ($1::uuid[] IS NULL OR community_id = ANY($1))) AS party_members,
           (SELECT count(*) FROM workers WHERE deleted_at IS NULL AND reported_in_at IS NOT NULL AND ($1::uuid[] IS NULL OR community_id = ANY($1))) AS workers_reported_in,
           (SELECT count(*) FROM organizations WHERE deleted_at IS NULL AND kind = 3 AND ($1::uuid[] IS NULL OR community_id = ANY($1))) AS party_organizations,
           (SELECT count(*) FROM organizations WHERE deleted_at IS NULL AND kind = 2 AND ($1::uuid[] IS NULL OR community_id = ANY($1))) AS industry_committees,
           (SELECT count(*) FROM enterprises WHERE deleted_at IS NULL AND ($1::uuid[] IS NULL OR community_id = ANY($1))) AS enterprises,
           (SELECT count(*) FROM enterprises WHERE deleted_at IS NULL AND visits > 0 AND ($1::uuid[] IS NULL OR community_id = ANY($1))) AS enterprises_surveyed,
           (SELECT count(*) FROM guides WHERE deleted_at IS NULL AND kind = 1) AS instructors,
           (SELECT count(*) FROM guides g WHERE g.deleted_at IS NULL AND g.kind = 1
              AND EXISTS (SELECT 1 FROM organizations o WHERE o.id = ANY (g.organization_ids) AND o.deleted_at IS NULL))
              AS instructors_assigned_to_organizations,
           (SELECT count(*) FROM guides WHERE deleted_at IS NULL AND kind = 2) AS red_commissioners,
           (SELECT count(DISTINCT member_id) FROM live_links) AS members_in_touch,
           (SELECT count(DISTINCT worker_id) FROM live_links) AS workers_in_touch,
           (SELECT count(*) FROM forums WHERE withdrawn_at IS NULL) AS forums,
           (SELECT count(*) FROM enterprise_issues WHERE withdrawn_at IS NULL AND ($1::uuid[] IS NULL
              OR enterprise_id IN (SELECT id FROM enterprises WHERE community_id = ANY($1)))) AS enterprise_issues,
           (SELECT count(*) FROM enterprise_issues WHERE status = 2 AND withdrawn_at IS NULL AND ($1::uuid[] IS NULL
              OR enterprise_id IN (SELECT id FROM enterprises WHERE community_id = ANY($1)))) AS enterprise_issues_resolved,
           (SELECT count(*) FROM care_visits WHERE withdrawn_at IS NULL AND ($1::uuid[] IS NULL
              OR worker_id IN (SELECT id FROM workers WHERE community_id = ANY($1)))) AS care_visits,
           (SELECT count(*) FROM hardship_files WHERE withdrawn_at IS NULL AND ($1::uuid[] IS NULL
              OR worker_id IN (SELECT id FROM workers WHERE community_id = ANY($1)))) AS hardship_files,
           (SELECT count(*) FROM join_requests WHERE status = 2 AND ($1::uuid[] IS NULL
              OR worker_id IN (SELECT id FROM workers WHERE community_id = ANY($1)))) AS join_requests_approved",
    )
    .bind(communities)
    .fetch_one(pool)
    .await?;
    let modes: Vec<(i16, i64)> = sqlx::query_as(
        "SELECT formation_mode, count(*) FROM organizations
         WHERE deleted_at IS NULL AND kind = 3 AND ($1::uuid[] IS NULL OR community_id = ANY($1))
         GROUP BY formation_mode",
    )
    .bind(communities)
    .fetch_all(pool)
    .await?;
    stats.by_formation_mode = modes.into_iter().collect();
    Ok(stats)
}
