//! The `PointsService` RPCs: balances and ledgers, the rewards catalog and stock, redemptions
//! and the leaderboard.

use super::*;

fn redeem_status(e: RedeemError) -> Status {
    match e {
        RedeemError::UnregisteredWorker(id) => references::unknown(
            "worker_id",
            "worker",
            id,
            "is not registered (or was deleted)",
        ),
        RedeemError::UnknownCommunity(id) => {
            references::unknown("community_id", "community", id, "does not exist")
        }
        RedeemError::UnknownReward(id) => not_found("reward", id),
        RedeemError::Inactive
        | RedeemError::InsufficientPoints { .. }
        | RedeemError::OutOfStock => Status::failed_precondition(e.to_string()),
        RedeemError::Database(db) => internal("redeeming", db),
    }
}

fn reward_to_pb(r: store::RewardRow) -> pb::Reward {
    pb::Reward {
        id: r.id.to_string(),
        name: r.name,
        points_cost: r.points_cost,
        active: r.active,
    }
}

#[tonic::async_trait]
impl PointsService for Api {
    #[tracing::instrument(name = "GetBalance", skip_all)]
    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::GetBalanceResponse>, Status> {
        let caller = caller(&request)?;
        let worker = parse_id("worker_id", &request.get_ref().worker_id)?;
        self.ensure_for_worker(&caller, worker).await?;
        references::worker_to_read(&self.pool, worker).await?;
        let points = store::balance(&self.pool, worker)
            .await
            .map_err(fail("loading the balance"))?;
        Ok(Response::new(pb::GetBalanceResponse {
            balance: Some(pb::Balance {
                worker_id: worker.to_string(),
                points,
            }),
        }))
    }

    #[tracing::instrument(name = "ListLedgerEntries", skip_all)]
    async fn list_ledger_entries(
        &self,
        request: Request<pb::ListLedgerEntriesRequest>,
    ) -> Result<Response<pb::ListLedgerEntriesResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let worker = parse_id("worker_id", &r.worker_id)?;
        let mut v = Violations::new();
        let (size, after) = v.page(r.page_size, &r.page_token);
        v.into_result()?;
        self.ensure_for_worker(&caller, worker).await?;
        references::worker_to_read(&self.pool, worker).await?;
        let rows = store::entries(&self.pool, worker, after, size)
            .await
            .map_err(fail("listing ledger entries"))?;
        let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
        Ok(Response::new(pb::ListLedgerEntriesResponse {
            next_page_token: kit::api::next_page_token(&ids, size),
            entries: rows
                .into_iter()
                .map(|e| pb::LedgerEntry {
                    id: e.id.to_string(),
                    worker_id: e.worker_id.to_string(),
                    points: e.points,
                    reason: e.reason,
                    source_event_id: e.source_event_id.to_string(),
                    created_at: Some(to_timestamp(e.created_at)),
                    subject: e.subject_ref.unwrap_or_default(),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "UpsertReward", skip_all)]
    async fn upsert_reward(
        &self,
        request: Request<pb::UpsertRewardRequest>,
    ) -> Result<Response<pb::UpsertRewardResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let reward = r.reward.ok_or_else(|| invalid("reward", "is required"))?;
        let mut v = Violations::new();
        let id = v.optional_id("reward.id", &reward.id);
        let name = v.line("reward.name", &reward.name, validate::MAX_NAME, true);
        v.within(
            "reward.points_cost",
            reward.points_cost,
            1..=validate::MAX_POINTS_COST,
        );
        validate::upsert_request_id(&mut v, id.is_none(), &r.request_id);
        v.into_result()?;
        let active = reward.active || id.is_none();
        let row = store::save_reward(
            &self.pool,
            &caller.subject,
            Some(&r.request_id),
            id,
            name,
            reward.points_cost,
            active,
        )
        .await
        .map_err(fail("saving the reward"))?
        .ok_or_else(|| not_found("reward", id.unwrap_or_default()))?;
        Ok(Response::new(pb::UpsertRewardResponse {
            reward: Some(reward_to_pb(row)),
        }))
    }

    #[tracing::instrument(name = "ListRewards", skip_all)]
    async fn list_rewards(
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
                    reward: Some(pb::Reward {
                        id: s.id.to_string(),
                        name: s.name,
                        points_cost: s.points_cost,
                        active: s.active,
                    }),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "SupplyStock", skip_all)]
    async fn supply_stock(
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
        let (reward, quantity) = app::stations::supply_stock(
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
                quantity,
            }),
        }))
    }

    #[tracing::instrument(name = "Redeem", skip_all)]
    async fn redeem(
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
        if !(caller.has_role(WORKER) && caller.subject == worker.to_string()) {
            // The clerk hands goods over in a supermarket of their own community.
            caller.ensure_community(ids[1])?;
        }
        references::settle_worker(&self.pool, worker).await?;
        let (row, balance) = supermarket::redeem(
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
        .map_err(redeem_status)?;
        Ok(Response::new(pb::RedeemResponse {
            redemption: Some(pb::Redemption {
                id: row.id.to_string(),
                worker_id: row.worker_id.to_string(),
                community_id: row.community_id.to_string(),
                reward_id: row.reward_id.to_string(),
                quantity: row.quantity,
                points: row.points,
                redeemed_at: Some(to_timestamp(row.redeemed_at)),
            }),
            balance,
        }))
    }

    #[tracing::instrument(name = "GetLeaderboard", skip_all)]
    async fn get_leaderboard(
        &self,
        request: Request<pb::GetLeaderboardRequest>,
    ) -> Result<Response<pb::GetLeaderboardResponse>, Status> {
        let r = request.into_inner();
        let mut v = Violations::new();
        let month = self.clock.month(&r.month);
        v.check(
            month.is_some(),
            "month",
            format!(
                "must be YYYY-MM, a year within {}..={}",
                domain::YEARS.start(),
                domain::YEARS.end()
            ),
        );
        let community = v.optional_id("community_id", &r.community_id);
        let platform = v.line("platform", &r.platform, validate::MAX_PLATFORM, false);
        let platform = (!platform.is_empty()).then_some(platform);
        v.check(
            community.is_some() != platform.is_some(),
            "community_id",
            "give a community_id or a platform, not both",
        );
        v.within("limit", r.limit, 0..=MAX_LIMIT);
        v.into_result()?;
        if let Some(c) = community {
            references::community_to_read(&self.pool, c).await?;
        }
        let (from, until) = month.expect("checked");
        let limit = if r.limit == 0 { 10 } else { i64::from(r.limit) };
        let rows = store::leaderboard(&self.pool, from, until, community, platform, limit)
            .await
            .map_err(fail("computing the leaderboard"))?;
        Ok(Response::new(pb::GetLeaderboardResponse {
            entries: rows
                .into_iter()
                .enumerate()
                .map(|(i, (worker, points))| pb::LeaderboardEntry {
                    rank: i as i32 + 1,
                    worker_id: worker.to_string(),
                    points,
                })
                .collect(),
        }))
    }
}
