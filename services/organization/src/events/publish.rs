//! The integration events organization publishes, so that other services build read models of
//! the registry: workers, townships, communities and grids, the tree, guides, contacts,
//! enterprises, forums and care. Each is built from `store` rows and written to the outbox inside
//! the change's transaction (the use case's).

pub mod desk;

use chrono::NaiveDate;
use kit::bus::{NewEvent, enqueue};
use redsupply_proto::{common::v1::LatLng, events::v1 as ev, organization::v1 as pb};
use sqlx::PgConnection;

use redsupply_proto::subjects::organization::{
    CARE_VISIT_CHANGED, CARE_VISIT_RECORDED, COMMUNITY_UPSERTED, CONTACTS_CHANGED,
    ENTERPRISE_CHANGED, ENTERPRISE_ISSUE_CHANGED, FORUM_CHANGED, FORUM_RECORDED, GRID_DELETED,
    GRID_UPSERTED, GUIDE_CHANGED, HARDSHIP_FILE_CHANGED, JOIN_REQUEST_CHANGED, MEMBERSHIP_CHANGED,
    ORGANIZATION_CHANGED, SOURCE, TOWNSHIP_UPSERTED, WORKER_REGISTERED, WORKER_REPORTED_IN,
    WORKER_UPDATED,
};

use crate::store::{
    care::{CareVisitRow, HardshipFileRow},
    enterprises::EnterpriseRow,
    forums::{ForumRow, IssueRow},
    geography::{CommunityRow, GridRow, TownshipRow},
    guides::GuideRow,
    joining::JoinRequestRow,
    membership::SpellRow,
    tree::OrganizationRow,
    workers::{ReportInRow, WorkerRow},
};

pub async fn worker_registered(tx: &mut PgConnection, w: &WorkerRow) -> Result<(), sqlx::Error> {
    let msg = ev::WorkerRegistered {
        worker_id: w.id.to_string(),
        platform: w.platform.clone(),
        enterprise_id: w.enterprise_id.map(|u| u.to_string()).unwrap_or_default(),
        community_id: w.community_id.map(|u| u.to_string()).unwrap_or_default(),
        party_member: w.party_member,
        version: w.version,
        occurred_at: Some(kit::time::to_timestamp(chrono::Utc::now())),
    };
    enqueue(tx, NewEvent::new(SOURCE, WORKER_REGISTERED, w.id, &msg)).await?;
    Ok(())
}

pub async fn grid_upserted(tx: &mut PgConnection, g: &GridRow) -> Result<(), sqlx::Error> {
    let msg = ev::GridUpserted {
        grid_id: g.id.to_string(),
        name: g.name.clone(),
        community_id: g.community_id.map(|u| u.to_string()).unwrap_or_default(),
        boundary: g
            .boundary
            .iter()
            .map(|&(latitude, longitude)| LatLng {
                latitude,
                longitude,
            })
            .collect(),
        version: g.version,
        occurred_at: Some(kit::time::to_timestamp(g.updated_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, GRID_UPSERTED, g.id, &msg)).await?;
    Ok(())
}

pub async fn community_upserted(
    tx: &mut PgConnection,
    c: &CommunityRow,
) -> Result<(), sqlx::Error> {
    let msg = ev::CommunityUpserted {
        community_id: c.id.to_string(),
        name: c.name.clone(),
        township: c.township.clone(),
        version: c.version,
        occurred_at: Some(kit::time::to_timestamp(chrono::Utc::now())),
        township_id: opt_id(c.township_id),
    };
    enqueue(tx, NewEvent::new(SOURCE, COMMUNITY_UPSERTED, c.id, &msg)).await?;
    Ok(())
}

pub async fn grid_deleted(tx: &mut PgConnection, g: &GridRow) -> Result<(), sqlx::Error> {
    let msg = ev::GridDeleted {
        grid_id: g.id.to_string(),
        version: g.version,
        occurred_at: Some(kit::time::to_timestamp(g.updated_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, GRID_DELETED, g.id, &msg)).await?;
    Ok(())
}

fn now() -> Option<prost_types::Timestamp> {
    Some(kit::time::to_timestamp(chrono::Utc::now()))
}

fn ids(v: &[uuid::Uuid]) -> Vec<String> {
    v.iter().map(|u| u.to_string()).collect()
}

fn opt_id(v: Option<uuid::Uuid>) -> String {
    v.map(|u| u.to_string()).unwrap_or_default()
}

pub async fn worker_updated(tx: &mut PgConnection, w: &WorkerRow) -> Result<(), sqlx::Error> {
    let msg = ev::WorkerUpdated {
        worker_id: w.id.to_string(),
        platform: w.platform.clone(),
        enterprise_id: opt_id(w.enterprise_id),
        community_id: opt_id(w.community_id),
        party_member: w.party_member,
        version: w.version,
        occurred_at: now(),
        organization_id: opt_id(w.organization_id),
        deleted: w.deleted_at.is_some(),
    };
    enqueue(tx, NewEvent::new(SOURCE, WORKER_UPDATED, w.id, &msg)).await?;
    Ok(())
}

pub async fn worker_reported_in(
    tx: &mut PgConnection,
    r: &ReportInRow,
    version: i64,
) -> Result<(), sqlx::Error> {
    let msg = ev::WorkerReportedIn {
        report_in_id: r.id.to_string(),
        worker_id: r.worker_id.to_string(),
        community_id: r.community_id.to_string(),
        version,
        occurred_at: Some(kit::time::to_timestamp(r.reported_at)),
    };
    enqueue(
        tx,
        NewEvent::new(SOURCE, WORKER_REPORTED_IN, r.worker_id, &msg),
    )
    .await?;
    Ok(())
}

pub async fn township_upserted(tx: &mut PgConnection, t: &TownshipRow) -> Result<(), sqlx::Error> {
    let msg = ev::TownshipUpserted {
        township_id: t.id.to_string(),
        name: t.name.clone(),
        version: t.version,
        occurred_at: Some(kit::time::to_timestamp(t.updated_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, TOWNSHIP_UPSERTED, t.id, &msg)).await?;
    Ok(())
}

pub async fn organization_changed(
    tx: &mut PgConnection,
    o: &OrganizationRow,
) -> Result<(), sqlx::Error> {
    let msg = ev::OrganizationChanged {
        organization_id: o.id.to_string(),
        name: o.name.clone(),
        kind: i32::from(o.kind),
        parent_id: opt_id(o.parent_id),
        formation_mode: i32::from(o.formation_mode),
        community_id: opt_id(o.community_id),
        enterprise_ids: ids(&o.enterprise_ids),
        version: o.version,
        deleted: o.deleted_at.is_some(),
        occurred_at: Some(kit::time::to_timestamp(o.updated_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, ORGANIZATION_CHANGED, o.id, &msg)).await?;
    Ok(())
}

pub async fn join_request_changed(
    tx: &mut PgConnection,
    j: &JoinRequestRow,
) -> Result<(), sqlx::Error> {
    let msg = ev::JoinRequestChanged {
        join_request_id: j.id.to_string(),
        worker_id: j.worker_id.to_string(),
        organization_id: j.organization_id.to_string(),
        status: i32::from(j.status),
        version: j.version,
        occurred_at: now(),
    };
    enqueue(tx, NewEvent::new(SOURCE, JOIN_REQUEST_CHANGED, j.id, &msg)).await?;
    Ok(())
}

/// A spell began or ended; `worker_version` is the worker's version after the change.
pub async fn membership_changed(
    tx: &mut PgConnection,
    m: &SpellRow,
    worker_version: i64,
) -> Result<(), sqlx::Error> {
    let msg = ev::MembershipChanged {
        spell_id: m.id.to_string(),
        worker_id: m.worker_id.to_string(),
        organization_id: m.organization_id.to_string(),
        start: i32::from(m.start_how),
        end: m.end_how.map_or(0, i32::from),
        reason: m.reason.clone(),
        worker_version,
        occurred_at: now(),
        transferred_to: opt_id(m.transferred_to),
    };
    enqueue(
        tx,
        NewEvent::new(SOURCE, MEMBERSHIP_CHANGED, m.worker_id, &msg),
    )
    .await?;
    Ok(())
}

pub async fn guide_changed(tx: &mut PgConnection, g: &GuideRow) -> Result<(), sqlx::Error> {
    let msg = ev::GuideChanged {
        guide_id: g.id.to_string(),
        name: g.name.clone(),
        kind: i32::from(g.kind),
        enterprise_ids: ids(&g.enterprise_ids),
        organization_ids: ids(&g.organization_ids),
        version: g.version,
        deleted: g.deleted_at.is_some(),
        occurred_at: Some(kit::time::to_timestamp(g.updated_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, GUIDE_CHANGED, g.id, &msg)).await?;
    Ok(())
}

pub async fn contacts_changed(
    tx: &mut PgConnection,
    member: uuid::Uuid,
    workers: &[uuid::Uuid],
    version: i64,
) -> Result<(), sqlx::Error> {
    let msg = ev::ContactsChanged {
        member_id: member.to_string(),
        worker_ids: ids(workers),
        version,
        occurred_at: now(),
    };
    enqueue(tx, NewEvent::new(SOURCE, CONTACTS_CHANGED, member, &msg)).await?;
    Ok(())
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// The ledger as published and returned: each figure with the date it was last confirmed.
pub fn ledger(e: &EnterpriseRow) -> pb::FiveClearsLedger {
    let count = |v: Option<i32>, on: Option<NaiveDate>| pb::LedgerCount {
        value: v.unwrap_or_default(),
        confirmed_on: date(on),
    };
    let text = |v: &Option<String>, on: Option<NaiveDate>| pb::LedgerText {
        value: v.clone().unwrap_or_default(),
        confirmed_on: date(on),
    };
    pb::FiveClearsLedger {
        headcount: Some(count(e.headcount, e.headcount_on)),
        party_members: Some(count(e.party_members, e.party_members_on)),
        situation: Some(text(&e.situation, e.situation_on)),
        needs: Some(text(&e.needs, e.needs_on)),
        responsible_officer: Some(text(&e.responsible_officer, e.responsible_officer_on)),
        last_visited_on: date(e.last_visited_on),
        visits: e.visits,
    }
}

pub async fn enterprise_changed(
    tx: &mut PgConnection,
    e: &EnterpriseRow,
) -> Result<(), sqlx::Error> {
    let msg = ev::EnterpriseChanged {
        enterprise_id: e.id.to_string(),
        name: e.name.clone(),
        kind: i32::from(e.kind),
        community_id: opt_id(e.community_id),
        ledger: Some(ledger(e)),
        version: e.version,
        deleted: e.deleted_at.is_some(),
        occurred_at: Some(kit::time::to_timestamp(e.updated_at)),
    };
    enqueue(tx, NewEvent::new(SOURCE, ENTERPRISE_CHANGED, e.id, &msg)).await?;
    Ok(())
}

pub async fn forum_recorded(tx: &mut PgConnection, f: &ForumRow) -> Result<(), sqlx::Error> {
    let msg = ev::ForumRecorded {
        forum_id: f.id.to_string(),
        held_on: f.held_on.to_string(),
        enterprise_ids: ids(&f.enterprise_ids),
        version: f.version,
        occurred_at: now(),
    };
    enqueue(tx, NewEvent::new(SOURCE, FORUM_RECORDED, f.id, &msg)).await?;
    Ok(())
}

pub async fn forum_changed(tx: &mut PgConnection, f: &ForumRow) -> Result<(), sqlx::Error> {
    let msg = ev::ForumChanged {
        forum_id: f.id.to_string(),
        held_on: f.held_on.to_string(),
        enterprise_ids: ids(&f.enterprise_ids),
        version: f.version,
        occurred_at: now(),
        withdrawn: f.withdrawn_at.is_some(),
    };
    enqueue(tx, NewEvent::new(SOURCE, FORUM_CHANGED, f.id, &msg)).await?;
    Ok(())
}

pub async fn enterprise_issue_changed(
    tx: &mut PgConnection,
    i: &IssueRow,
) -> Result<(), sqlx::Error> {
    let msg = ev::EnterpriseIssueChanged {
        issue_id: i.id.to_string(),
        forum_id: i.forum_id.to_string(),
        enterprise_id: opt_id(i.enterprise_id),
        status: i32::from(i.status),
        resolved_on: i.resolved_on.map(|d| d.to_string()).unwrap_or_default(),
        version: i.version,
        occurred_at: now(),
        withdrawn: i.withdrawn_at.is_some(),
    };
    enqueue(
        tx,
        NewEvent::new(SOURCE, ENTERPRISE_ISSUE_CHANGED, i.id, &msg),
    )
    .await?;
    Ok(())
}

pub async fn care_visit_recorded(
    tx: &mut PgConnection,
    v: &CareVisitRow,
) -> Result<(), sqlx::Error> {
    let msg = ev::CareVisitRecorded {
        visit_id: v.id.to_string(),
        worker_id: v.worker_id.to_string(),
        visited_on: v.visited_on.to_string(),
        version: v.version,
        occurred_at: now(),
    };
    enqueue(tx, NewEvent::new(SOURCE, CARE_VISIT_RECORDED, v.id, &msg)).await?;
    Ok(())
}

pub async fn care_visit_changed(
    tx: &mut PgConnection,
    v: &CareVisitRow,
) -> Result<(), sqlx::Error> {
    let msg = ev::CareVisitChanged {
        visit_id: v.id.to_string(),
        worker_id: v.worker_id.to_string(),
        visited_on: v.visited_on.to_string(),
        version: v.version,
        occurred_at: now(),
        withdrawn: v.withdrawn_at.is_some(),
    };
    enqueue(tx, NewEvent::new(SOURCE, CARE_VISIT_CHANGED, v.id, &msg)).await?;
    Ok(())
}

pub async fn hardship_file_changed(
    tx: &mut PgConnection,
    f: &HardshipFileRow,
) -> Result<(), sqlx::Error> {
    let msg = ev::HardshipFileChanged {
        file_id: f.id.to_string(),
        worker_id: f.worker_id.to_string(),
        open: f.closed_at.is_none(),
        help_entries: f.help_entries,
        version: f.version,
        occurred_at: now(),
        withdrawn: f.withdrawn_at.is_some(),
    };
    enqueue(tx, NewEvent::new(SOURCE, HARDSHIP_FILE_CHANGED, f.id, &msg)).await?;
    Ok(())
}
