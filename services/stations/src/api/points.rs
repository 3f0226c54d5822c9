//! The `PointsService` RPCs: balances, ledgers and the leaderboard here; the supermarket's
//! (catalogs, stock lots, redemptions) in `supermarket.rs`.

use super::*;

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
        let balance = store::balance(&self.pool, worker)
            .await
            .map_err(fail("loading the balance"))?;
        Ok(Response::new(pb::GetBalanceResponse {
            balance: Some(pb::Balance {
                worker_id: worker.to_string(),
                points: balance.available,
                pending: balance.pending,
                debt: balance.debt,
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
                    pending_change: e.pending_change,
                    debt_change: e.debt_change,
                })
                .collect(),
        }))
    }

    #[tracing::instrument(name = "UpsertReward", skip_all)]
    async fn upsert_reward(
        &self,
        request: Request<pb::UpsertRewardRequest>,
    ) -> Result<Response<pb::UpsertRewardResponse>, Status> {
        self.upsert_reward_rpc(request).await
    }

    #[tracing::instrument(name = "ListRewards", skip_all)]
    async fn list_rewards(
        &self,
        request: Request<pb::ListRewardsRequest>,
    ) -> Result<Response<pb::ListRewardsResponse>, Status> {
        self.list_rewards_rpc(request).await
    }

    #[tracing::instrument(name = "SupplyStock", skip_all)]
    async fn supply_stock(
        &self,
        request: Request<pb::SupplyStockRequest>,
    ) -> Result<Response<pb::SupplyStockResponse>, Status> {
        self.supply_stock_rpc(request).await
    }

    #[tracing::instrument(name = "ListStockLots", skip_all)]
    async fn list_stock_lots(
        &self,
        request: Request<pb::ListStockLotsRequest>,
    ) -> Result<Response<pb::ListStockLotsResponse>, Status> {
        self.list_stock_lots_rpc(request).await
    }

    #[tracing::instrument(name = "Redeem", skip_all)]
    async fn redeem(
        &self,
        request: Request<pb::RedeemRequest>,
    ) -> Result<Response<pb::RedeemResponse>, Status> {
        self.redeem_rpc(request).await
    }

    #[tracing::instrument(name = "ListRedemptions", skip_all)]
    async fn list_redemptions(
        &self,
        request: Request<pb::ListRedemptionsRequest>,
    ) -> Result<Response<pb::ListRedemptionsResponse>, Status> {
        self.list_redemptions_rpc(request).await
    }

    #[tracing::instrument(name = "HandOverRedemption", skip_all)]
    async fn hand_over_redemption(
        &self,
        request: Request<pb::HandOverRedemptionRequest>,
    ) -> Result<Response<pb::HandOverRedemptionResponse>, Status> {
        self.hand_over_redemption_rpc(request).await
    }

    #[tracing::instrument(name = "CancelRedemption", skip_all)]
    async fn cancel_redemption(
        &self,
        request: Request<pb::CancelRedemptionRequest>,
    ) -> Result<Response<pb::CancelRedemptionResponse>, Status> {
        self.cancel_redemption_rpc(request).await
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
