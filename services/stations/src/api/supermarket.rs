//! The points supermarket's RPCs of `PointsService` (the trait impl in `points.rs` calls here):
//! catalogs, stock lots, redemptions and the clerk's list. Requests are checked field by field,
//! the caller's scope against the community the record belongs to.

use kit::auth::Caller;
use redsupply_proto::stations::v1::RedemptionStatus;

use super::*;
use crate::app::supermarket::{self as market, Redeem, SupermarketError, UpsertReward};

pub(super) fn supermarket_status(e: SupermarketError) -> Status {
    use SupermarketError as E;
    match e {
        E::UnregisteredWorker(id) => references::unknown(
            "worker_id",
            "worker",
            id,
            "is not registered (or was deleted)",
        ),
        E::UnknownCommunity(id) => {
            references::unknown("community_id", "community", id, "does not exist")
        }
        E::NotInCatalog { reward, .. } => references::unknown(
            "reward_id",
            "reward",
            reward,
            "is another community's, not on this community's catalog",
        ),
        E::UnknownReward(id) => not_found("reward", id),
        E::UnknownRedemption(id) => not_found("redemption", id),
        E::CatalogFixed => invalid("reward.community_id", e.to_string()),
        E::Inactive | E::InsufficientPoints { .. } | E::OutOfStock | E::Closed(_) => {
            Status::failed_precondition(e.to_string())
        }
        E::Denied(status) => status,
        E::Database(db) => internal("in the supermarket", db),
    }
}

pub(super) fn reward_to_pb(r: store::RewardRow) -> pb::Reward {
    pb::Reward {
        id: r.id.to_string(),
        name: r.name,
        points_cost: r.points_cost,
        active: r.active,
        community_id: r.community_id.map(|c| c.to_string()).unwrap_or_default(),
    }
}

fn lot_to_pb(l: store::LotRow) -> pb::StockLot {
    pb::StockLot {
        id: l.id.to_string(),
        station_id: l.station_id.to_string(),
        station_name: l.station_name,
        community_id: l.community_id.to_string(),
        reward_id: l.reward_id.to_string(),
        reward_name: l.reward_name,
        quantity: l.quantity,
        remaining: l.remaining,
        supplied_at: Some(to_timestamp(l.supplied_at)),
        supplied_by: l.created_by,
    }
}

pub(super) fn redemption_to_pb(r: store::RedemptionRow) -> pb::Redemption {
    pb::Redemption {
        id: r.id.to_string(),
        worker_id: r.worker_id.to_string(),
        community_id: r.community_id.to_string(),
        reward_id: r.reward_id.to_string(),
        quantity: r.quantity,
        points: r.points,
        redeemed_at: Some(to_timestamp(r.redeemed_at)),
        status: i32::from(r.status),
        changed_at: r.changed_at.map(to_timestamp),
        changed_by: r.changed_by.unwrap_or_default(),
        cancel_reason: r.cancel_reason,
        reward_name: r.reward_name,
    }
}

/// Whether the caller acts for `worker` as that worker.
fn is_self(caller: &Caller, worker: Uuid) -> bool {
    caller.has_role(WORKER) && caller.subject == worker.to_string()
}

impl Api {
    pub(super) async fn upsert_reward_rpc(
        &self,
        request: Request<pb::UpsertRewardRequest>,
    ) -> Result<Response<pb::UpsertRewardResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let reward = r.reward.ok_or_else(|| invalid("reward", "is required"))?;
        let (reward, _) = kit::api::mask::merge(
            "redsupply.stations.v1.Reward",
            &["id", "community_id"],
            r.update_mask.as_ref(),
            Uuid::parse_str(&reward.id).ok(),
            0,
            reward,
            |id| async move {
                let mut conn = self
                    .pool
                    .acquire()
                    .await
                    .map_err(fail("loading the reward"))?;
                let row = store::reward(&mut conn, id)
                    .await
                    .map_err(fail("loading the reward"))?
                    .ok_or_else(|| not_found("reward", id))?;
                Ok((reward_to_pb(row), 0))
            },
        )
        .await?;
        let mut v = Violations::new();
        let id = v.optional_id("reward.id", &reward.id);
        let community = v.optional_id("reward.community_id", &reward.community_id);
        let name = v.line("reward.name", &reward.name, validate::MAX_NAME, true);
        v.within(
            "reward.points_cost",
            reward.points_cost,
            1..=validate::MAX_POINTS_COST,
        );
        validate::upsert_request_id(&mut v, id.is_none(), &r.request_id);
        v.into_result()?;
        let upsert = UpsertReward {
            caller: &caller.subject,
            request_id: &r.request_id,
            id,
            community,
            change: store::RewardChange {
                name,
                points_cost: reward.points_cost,
                active: reward.active || id.is_none(),
            },
        };
        // The county's catalog is county staff's; a community's, its own staff's.
        let row = market::upsert_reward(&self.pool, &upsert, |catalog| match catalog {
            None if caller.is_county() => Ok(()),
            None => Err(Status::permission_denied(
                "the county's default catalog is kept by county staff; give reward.community_id",
            )),
            Some(c) => caller.ensure_community(Some(c)),
        })
        .await
        .map_err(supermarket_status)?;
        Ok(Response::new(pb::UpsertRewardResponse {
            reward: Some(reward_to_pb(row)),
        }))
    }

    pub(super) async fn list_rewards_rpc(
        &self,
        request: Request<pb::ListRewardsRequest>,
    ) -> Result<Response<pb::ListRewardsResponse>, Status> {
        let community = parse_id("community_id", &request.get_ref().community_id)?;
        references::community_to_read(&self.pool, community).await?;
        let rows = store::catalog(&self.pool, community)
            .await
            .map_err(fail("listing rewards"))?;
        Ok(Response::new(pb::ListRewardsResponse {
            rewards: rows
                .into_iter()
                .map(|s| pb::RewardStock {
                    quantity: s.quantity,
                    reward: Some(reward_to_pb(s.reward)),
                })
                .collect(),
        }))
    }

    pub(super) async fn supply_stock_rpc(
        &self,
        request: Request<pb::SupplyStockRequest>,
    ) -> Result<Response<pb::SupplyStockResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let ids = [
            v.id("station_id", &r.station_id),
            v.id("community_id", &r.community_id),
            v.id("reward_id", &r.reward_id),
        ];
        v.within("quantity", r.quantity, 1..=validate::MAX_SUPPLY);
        v.into_result()?;
        let (station, community, reward_id) = (
            ids[0].expect("checked"),
            ids[1].expect("checked"),
            ids[2].expect("checked"),
        );
        caller.ensure_community(Some(community))?;
        self.ensure_station(&caller, station).await?;
        references::settle_community(&self.pool, community).await?;
        let (reward, supplied) = app::stations::supply_stock(
            &self.pool,
            &app::stations::Supply {
                caller: &caller.subject,
                request_id: &r.request_id,
                station,
                community,
                reward: reward_id,
                quantity: r.quantity,
            },
        )
        .await
        .map_err(|e| refusal("supplying stock", e))?;
        Ok(Response::new(pb::SupplyStockResponse {
            stock: Some(pb::RewardStock {
                reward: Some(reward_to_pb(reward)),
                quantity: supplied.stock,
            }),
            lot: Some(lot_to_pb(supplied.lot)),
        }))
    }

    pub(super) async fn list_stock_lots_rpc(
        &self,
        request: Request<pb::ListStockLotsRequest>,
    ) -> Result<Response<pb::ListStockLotsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let community = v.id("community_id", &r.community_id);
        let reward = v.optional_id("reward_id", &r.reward_id);
        let (size, before) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        caller.ensure_community(community)?;
        let community = community.expect("checked");
        references::community_to_read(&self.pool, community).await?;
        let rows = store::lots(&self.pool, community, reward, before, size)
            .await
            .map_err(fail("listing stock lots"))?;
        let ids: Vec<Uuid> = rows.iter().map(|l| l.id).collect();
        Ok(Response::new(pb::ListStockLotsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            lots: rows.into_iter().map(lot_to_pb).collect(),
        }))
    }

    pub(super) async fn redeem_rpc(
        &self,
        request: Request<pb::RedeemRequest>,
    ) -> Result<Response<pb::RedeemResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        v.request_id(&r.request_id);
        let ids = [
            v.id("worker_id", &r.worker_id),
            v.id("community_id", &r.community_id),
            v.id("reward_id", &r.reward_id),
        ];
        // 0 means 1 (the contract says so).
        v.within("quantity", r.quantity, 0..=validate::MAX_REDEEM);
        v.into_result()?;
        let worker = ids[0].expect("checked");
        self.ensure_for_worker(&caller, worker).await?;
        if !is_self(&caller, worker) {
            // The clerk hands goods over in a supermarket of their own community.
            caller.ensure_community(ids[1])?;
        }
        references::settle_worker(&self.pool, worker).await?;
        let (row, balance) = market::redeem(
            &self.pool,
            &Redeem {
                request_id: &r.request_id,
                worker,
                community: ids[1].expect("checked"),
                reward: ids[2].expect("checked"),
                quantity: r.quantity.max(1),
            },
        )
        .await
        .map_err(supermarket_status)?;
        Ok(Response::new(pb::RedeemResponse {
            redemption: Some(redemption_to_pb(row)),
            balance: balance.available,
        }))
    }

    pub(super) async fn list_redemptions_rpc(
        &self,
        request: Request<pb::ListRedemptionsRequest>,
    ) -> Result<Response<pb::ListRedemptionsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let community = v.optional_id("community_id", &r.community_id);
        let worker = v.optional_id("worker_id", &r.worker_id);
        let status = v.enumeration::<RedemptionStatus>("status", r.status, true);
        let (size, before) = v.page(r.page_size, &r.page_token);
        v.check(
            community.is_some() || worker.is_some(),
            "community_id",
            "give a community_id (the clerk's list) or a worker_id",
        );
        v.into_result()?;
        match (worker, community) {
            // A worker's own list, in any community (county staff too); community staff list
            // their own supermarket's.
            (Some(w), _) if is_self(&caller, w) || caller.is_county() => {}
            (_, None) => {
                return Err(Status::permission_denied(
                    "staff list a supermarket of their own community: give community_id",
                ));
            }
            (_, c) => caller.ensure_community(c)?,
        }
        if let Some(c) = community {
            references::community_to_read(&self.pool, c).await?;
        }
        let filter = store::RedemptionFilter {
            community,
            worker,
            status: status
                .filter(|s| *s != RedemptionStatus::Unspecified)
                .map(|s| s as i16),
        };
        let rows = store::redemptions(&self.pool, filter, before, size)
            .await
            .map_err(fail("listing redemptions"))?;
        let total = store::count_redemptions(&self.pool, filter)
            .await
            .map_err(fail("counting redemptions"))?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        Ok(Response::new(pb::ListRedemptionsResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            redemptions: rows.into_iter().map(redemption_to_pb).collect(),
            total,
        }))
    }

    pub(super) async fn hand_over_redemption_rpc(
        &self,
        request: Request<pb::HandOverRedemptionRequest>,
    ) -> Result<Response<pb::HandOverRedemptionResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_id("redemption_id", &request.get_ref().redemption_id)?;
        let row = market::hand_over(&self.pool, id, &caller.subject, |r| {
            caller.ensure_community(Some(r.community_id))
        })
        .await
        .map_err(supermarket_status)?;
        Ok(Response::new(pb::HandOverRedemptionResponse {
            redemption: Some(redemption_to_pb(row)),
        }))
    }

    pub(super) async fn cancel_redemption_rpc(
        &self,
        request: Request<pb::CancelRedemptionRequest>,
    ) -> Result<Response<pb::CancelRedemptionResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let id = v.id("redemption_id", &r.redemption_id);
        let reason = v.text("reason", &r.reason, validate::MAX_NOTE, true);
        v.into_result()?;
        let (row, balance) = market::cancel(
            &self.pool,
            id.expect("checked"),
            &caller.subject,
            reason,
            |d| {
                if is_self(&caller, d.worker_id) {
                    Ok(())
                } else {
                    caller.ensure_community(Some(d.community_id))
                }
            },
        )
        .await
        .map_err(supermarket_status)?;
        Ok(Response::new(pb::CancelRedemptionResponse {
            redemption: Some(redemption_to_pb(row)),
            balance: balance.available,
        }))
    }
}
