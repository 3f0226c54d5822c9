//! Reports for staff (the trait impls in `registry.rs` and `enterprise.rs` call here): the
//! registry's figures over a township or community of the caller's scope, with what happened
//! within a period; the ledgers to review; and the names every list answers beside its ids.

use std::collections::HashMap;

use kit::{
    api::{Violations, internal, invalid},
    auth::{Caller, caller},
};
use redsupply_proto::organization::v1 as pb;
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::{self, n},
    ensure_known,
    enterprise::EnterpriseApi,
    in_communities,
    registry::RegistryApi,
};
use crate::{
    change::Aggregate,
    domain,
    store::{
        reports::{self, LedgerSelection, NameScope, Period},
        stats,
    },
};

/// Longest period a request may name ("2026-Q3", "ytd").
const PERIOD: usize = 16;

/// The communities a report covers: the caller's scope (None: the county), narrowed to one
/// community (PERMISSION_DENIED outside the scope) or one township's communities (those outside
/// the scope left out). An unknown township or community answers NOT_FOUND.
async fn report_communities(
    pool: &PgPool,
    caller: &Caller,
    township: Option<Uuid>,
    community: Option<Uuid>,
) -> Result<Option<Vec<Uuid>>, Status> {
    ensure_known(pool, Aggregate::Township, township).await?;
    ensure_known(pool, Aggregate::Community, community).await?;
    let scope = in_communities(caller);
    if let Some(c) = community {
        caller.ensure_community(Some(c))?;
        if let Some(t) = township {
            let of_township = reports::township_communities(pool, t)
                .await
                .map_err(|e| internal("reading the township's communities", e))?;
            if !of_township.contains(&c) {
                return Err(invalid(
                    "community_id",
                    format!("community {c} is not of township {t}"),
                ));
            }
        }
        return Ok(Some(vec![c]));
    }
    let Some(t) = township else {
        return Ok(scope);
    };
    let mut of_township = reports::township_communities(pool, t)
        .await
        .map_err(|e| internal("reading the township's communities", e))?;
    if let Some(scope) = scope {
        of_township.retain(|c| scope.contains(c));
    }
    Ok(Some(of_township))
}

/// The names of what `ids` name (workers, enterprises, organizations, communities, townships,
/// grids) that `caller` may read, by id, for a list's `names`: workers and enterprises only for
/// staff within their scope (a worker reads their own name).
pub(super) async fn names_of(
    pool: &PgPool,
    caller: &Caller,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<String, String>, Status> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let communities = in_communities(caller);
    let scope = NameScope {
        staff: caller.is_staff(),
        communities: communities.as_deref(),
        caller: caller.subject.parse().ok(),
    };
    let found = reports::names(pool, &ids, scope)
        .await
        .map_err(|e| internal("reading the names of the listed references", e))?;
    Ok(found
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect())
}

impl RegistryApi {
    pub(super) async fn organization_stats_rpc(
        &self,
        request: Request<pb::GetOrganizationStatsRequest>,
    ) -> Result<Response<pb::GetOrganizationStatsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let today = self.county.today();
        let mut v = Violations::new();
        let township = v.optional_id("township_id", &r.township_id);
        let community = v.optional_id("community_id", &r.community_id);
        let spec = v.line("period", &r.period, PERIOD, false);
        let period = if spec.is_empty() {
            None
        } else {
            match domain::calendar::period(spec, today) {
                Ok(range) => Some(range),
                Err(e) => {
                    v.add("period", e);
                    None
                }
            }
        };
        v.into_result()?;
        let communities = report_communities(&self.pool, &caller, township, community).await?;
        let fail = |e| internal("computing the registry's figures", e);
        let s = stats::compute(&self.pool, communities.as_deref())
            .await
            .map_err(fail)?;
        let mut response = convert::stats_to_pb(s);
        if let Some((from, to)) = period {
            let p = Period {
                from,
                to,
                starts: self.county.day_starts(from),
                ends: self
                    .county
                    .day_starts(to.succ_opt().expect("a date before 2101")),
            };
            let f = reports::period_figures(&self.pool, communities.as_deref(), &p)
                .await
                .map_err(fail)?;
            response.period = Some(pb::PeriodFigures {
                period: spec.to_owned(),
                from: from.to_string(),
                to: to.to_string(),
                workers_registered: n(f.workers_registered),
                workers_reported_in: n(f.workers_reported_in),
                join_requests_approved: n(f.join_requests_approved),
                memberships_begun: n(f.memberships_begun),
                memberships_ended: n(f.memberships_ended),
                census_visits: n(f.census_visits),
                enterprises_visited: n(f.enterprises_visited),
                forums_held: n(f.forums_held),
                enterprise_issues_raised: n(f.enterprise_issues_raised),
                enterprise_issues_resolved: n(f.enterprise_issues_resolved),
                care_visits: n(f.care_visits),
                hardship_files_opened: n(f.hardship_files_opened),
                hardship_files_closed: n(f.hardship_files_closed),
            });
        }
        Ok(Response::new(response))
    }
}

impl EnterpriseApi {
    pub(super) async fn ledger_reviews_rpc(
        &self,
        request: Request<pb::ListLedgerReviewsRequest>,
    ) -> Result<Response<pb::ListLedgerReviewsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let township = v.optional_id("township_id", &r.township_id);
        let community = v.optional_id("community_id", &r.community_id);
        let days = v.within("not_visited_for_days", r.not_visited_for_days, 0..=36_600);
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        let communities = report_communities(&self.pool, &caller, township, community).await?;
        let today = self.county.today();
        let selection = LedgerSelection {
            communities: communities.as_deref(),
            visited_by: (days > 0).then(|| today - chrono::Duration::days(i64::from(days))),
        };
        let (rows, total) = reports::ledger_reviews(&self.pool, selection, after, size)
            .await
            .map_err(|e| internal("listing the ledgers to review", e))?;
        let ids: Vec<Uuid> = rows.iter().map(|x| x.id).collect();
        let reviews = rows
            .into_iter()
            .map(|e| pb::LedgerReview {
                enterprise_id: e.id.to_string(),
                enterprise_name: e.name,
                community_id: e.community_id.map(|c| c.to_string()).unwrap_or_default(),
                community_name: e.community_name.unwrap_or_default(),
                last_visited_on: e.last_visited_on.map(|d| d.to_string()).unwrap_or_default(),
                days_since_visit: e.last_visited_on.map(|d| n((today - d).num_days())),
                ledger_headcount: e.headcount,
                registered_workers: n(e.registered_workers),
            })
            .collect();
        Ok(Response::new(pb::ListLedgerReviewsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            reviews,
            total: n(total),
        }))
    }
}
