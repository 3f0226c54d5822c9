//! Typed calls: one RPC with its token attached and its answer unwrapped, for the calls many tests
//! make (tips, cases, balances and ledgers, workers, volunteers), and the waits built on them. A `try_` call
//! gives the refusal back; the others fail the test on one.

use std::time::Duration;

use kit::auth::with_bearer;
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        AppointVolunteerRoleRequest, Case, GetCaseRequest, GetTipRequest, JoinVolunteerTeamRequest,
        SubmitTipRequest, Tip, TipCategory, UpdateCaseRequest, Volunteer, VolunteerRole,
        WatchCasesRequest, WatchCasesResponse,
    },
    organization::v1::{GetWorkerRequest, SearchWorkersRequest, Worker},
    stations::v1::{
        Balance, GetBalanceRequest, GetLeaderboardRequest, LedgerEntry, ListLedgerEntriesRequest,
    },
};
use uuid::Uuid;

use crate::{DEADLINE, TestApp, eventually};

/// Tips and cases.
impl TestApp {
    /// Submits `tip` as `token`'s caller and returns it as accepted, before dispatch.
    pub async fn submit_tip(&self, tip: SubmitTipRequest, token: &str) -> Tip {
        self.try_submit_tip(tip, token).await.expect("tip accepted")
    }

    /// Submits `tip` as `token`'s caller: the tip as accepted, or the refusal.
    pub async fn try_submit_tip(
        &self,
        tip: SubmitTipRequest,
        token: &str,
    ) -> Result<Tip, tonic::Status> {
        Ok(self
            .governance()
            .await
            .submit_tip(with_bearer(tip, token))
            .await?
            .into_inner()
            .tip
            .expect("a tip in the answer"))
    }

    /// Submits a tip of `category` at (lat, lng) for `reporter` (a new request id) and returns it
    /// as accepted, before dispatch.
    pub async fn submit_tip_at(
        &self,
        reporter: Uuid,
        token: &str,
        category: TipCategory,
        (latitude, longitude): (f64, f64),
    ) -> Tip {
        self.submit_tip(
            SubmitTipRequest {
                request_id: Uuid::now_v7().to_string(),
                reporter_id: reporter.to_string(),
                category: category as i32,
                description: "Broken streetlight".into(),
                location: Some(LatLng {
                    latitude,
                    longitude,
                }),
                ..Default::default()
            },
            token,
        )
        .await
    }

    /// The tip as `token`'s caller reads it with `GetTip`.
    pub async fn tip_as(&self, id: &str, token: &str) -> Tip {
        self.governance()
            .await
            .get_tip(with_bearer(GetTipRequest { id: id.into() }, token))
            .await
            .expect("the tip")
            .into_inner()
            .tip
            .expect("a tip in the answer")
    }

    /// Reads the tip as `token`'s caller until `done` holds for it (`what` names the wait when it
    /// times out, after `DEADLINE`), and returns it as it was then.
    pub async fn await_tip(
        &self,
        what: &str,
        id: &str,
        token: &str,
        done: impl Fn(&Tip) -> bool,
    ) -> Tip {
        let done = &done;
        eventually(what, || async move {
            let t = self
                .governance()
                .await
                .get_tip(with_bearer(GetTipRequest { id: id.into() }, token))
                .await
                .ok()?
                .into_inner()
                .tip?;
            done(&t).then_some(t)
        })
        .await
    }

    /// The tip once dispatched (it has a case), as county staff read it.
    pub async fn dispatched_tip(&self, id: &str) -> Tip {
        self.await_tip("the tip to be dispatched", id, &self.admin_token(), |t| {
            !t.case_id.is_empty()
        })
        .await
    }

    /// The case as `GetCase` shows it to county staff.
    pub async fn case(&self, id: &str) -> Case {
        self.case_as(id, &self.admin_token()).await
    }

    /// The case as `GetCase` shows it to `token`'s caller.
    pub async fn case_as(&self, id: &str, token: &str) -> Case {
        self.governance()
            .await
            .get_case(with_bearer(GetCaseRequest { id: id.into() }, token))
            .await
            .expect("the case")
            .into_inner()
            .case
            .expect("a case in the answer")
    }

    /// Changes a case on the grid gateway as `token`'s caller (a platform, or county staff) and
    /// returns it as changed.
    pub async fn update_case(&self, change: UpdateCaseRequest, token: &str) -> Case {
        self.try_update_case(change, token)
            .await
            .expect("the case changes")
    }

    /// Changes a case on the grid gateway as `token`'s caller: the case as changed, or the
    /// refusal.
    pub async fn try_update_case(
        &self,
        change: UpdateCaseRequest,
        token: &str,
    ) -> Result<Case, tonic::Status> {
        Ok(self
            .gateway()
            .await
            .update_case(with_bearer(change, token))
            .await?
            .into_inner()
            .case
            .expect("a case in the answer"))
    }

    /// Opens a `WatchCases` stream on the grid gateway as `token`'s caller.
    pub async fn watch_cases(
        &self,
        watch: WatchCasesRequest,
        token: &str,
    ) -> tonic::Streaming<WatchCasesResponse> {
        self.gateway()
            .await
            .watch_cases(with_bearer(watch, token))
            .await
            .expect("the feed opens")
            .into_inner()
    }
}

/// Points: balances and ledgers.
impl TestApp {
    /// A worker's balance as `token`'s caller reads it.
    pub async fn balance_as(&self, worker: Uuid, token: &str) -> Balance {
        self.points()
            .await
            .get_balance(with_bearer(
                GetBalanceRequest {
                    worker_id: worker.to_string(),
                },
                token,
            ))
            .await
            .expect("the balance")
            .into_inner()
            .balance
            .expect("a balance in the answer")
    }

    /// A worker's ledger entries (the first page) as `token`'s caller reads them.
    pub async fn ledger_entries(&self, worker: Uuid, token: &str) -> Vec<LedgerEntry> {
        self.points()
            .await
            .list_ledger_entries(with_bearer(
                ListLedgerEntriesRequest {
                    worker_id: worker.to_string(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .expect("the ledger entries")
            .into_inner()
            .entries
    }

    /// A worker's balance as the API reports it, or its refusal (NOT_FOUND while stations knows
    /// nothing of the worker).
    pub async fn try_balance_parts(&self, worker: Uuid) -> Result<Balance, tonic::Status> {
        Ok(self
            .points()
            .await
            .get_balance(with_bearer(
                GetBalanceRequest {
                    worker_id: worker.to_string(),
                },
                &self.admin_token(),
            ))
            .await?
            .into_inner()
            .balance
            .expect("balance"))
    }

    /// A worker's available points (what they may redeem) as the API reports them.
    pub async fn balance(&self, worker: Uuid) -> i64 {
        self.balance_parts(worker).await.points
    }

    /// A worker's balance in its parts (available, pending, debt) as the API reports it.
    pub async fn balance_parts(&self, worker: Uuid) -> Balance {
        self.try_balance_parts(worker).await.expect("balance")
    }

    /// What a worker has earned and kept: available + pending - debt.
    pub async fn standing(&self, worker: Uuid) -> i64 {
        let b = self.balance_parts(worker).await;
        b.points + b.pending - b.debt
    }

    /// Waits until the worker's balance satisfies `test`; meanwhile stations may not know the
    /// worker yet (its registration and its points arrive by events).
    pub async fn await_balance_where(
        &self,
        worker: Uuid,
        what: &str,
        test: impl Fn(&Balance) -> bool,
    ) -> Balance {
        let mut last = None;
        let reached = tokio::time::timeout(DEADLINE, async {
            loop {
                match self.try_balance_parts(worker).await {
                    Ok(b) if test(&b) => return b,
                    Ok(b) => last = Some(b),
                    Err(s) if s.code() == tonic::Code::NotFound => {}
                    Err(s) => panic!("balance: {s:?}"),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        match reached {
            Ok(b) => b,
            Err(_) => panic!("the balance never became {what}: last {last:?}"),
        }
    }

    /// Waits until the worker's available points are `points`.
    pub async fn await_balance(&self, worker: Uuid, points: i64) {
        self.await_balance_where(worker, &format!("{points} available"), |b| {
            b.points == points
        })
        .await;
    }

    /// This month's leaderboard (the county's month, UTC+8) of a community, as county staff read it:
    /// (worker id, points that still stand), best first.
    pub async fn leaderboard(&self, community: Uuid) -> Vec<(String, i64)> {
        let month = (chrono::Utc::now() + chrono::Duration::hours(8))
            .format("%Y-%m")
            .to_string();
        self.points()
            .await
            .get_leaderboard(with_bearer(
                GetLeaderboardRequest {
                    month,
                    community_id: community.to_string(),
                    limit: 10,
                    ..Default::default()
                },
                &self.admin_token(),
            ))
            .await
            .expect("the leaderboard")
            .into_inner()
            .entries
            .into_iter()
            .map(|e| (e.worker_id, e.points))
            .collect()
    }

    /// Waits until what the worker has earned and kept (available + pending - debt) is `points`.
    pub async fn await_standing(&self, worker: Uuid, points: i64) {
        self.await_balance_where(worker, &format!("{points} standing"), |b| {
            b.points + b.pending - b.debt == points
        })
        .await;
    }
}

/// Workers.
impl TestApp {
    /// The worker as `GetWorker` shows it to `token`'s caller.
    pub async fn worker_as(&self, id: Uuid, token: &str) -> Worker {
        self.try_worker_as(id, token).await.expect("the worker")
    }

    /// The worker as `GetWorker` shows it to `token`'s caller, or the refusal.
    pub async fn try_worker_as(&self, id: Uuid, token: &str) -> Result<Worker, tonic::Status> {
        Ok(self
            .organization()
            .await
            .get_worker(with_bearer(GetWorkerRequest { id: id.to_string() }, token))
            .await?
            .into_inner()
            .worker
            .expect("a worker in the answer"))
    }

    /// The workers a `SearchWorkers` call finds for `token`'s caller (the first page).
    pub async fn search_workers(&self, search: SearchWorkersRequest, token: &str) -> Vec<Worker> {
        self.organization()
            .await
            .search_workers(with_bearer(search, token))
            .await
            .expect("the search")
            .into_inner()
            .workers
    }
}

/// Volunteers.
impl TestApp {
    /// `worker` joins the volunteer team, `token`'s caller asking: the volunteer, or the refusal.
    pub async fn join_volunteer_team(
        &self,
        worker: Uuid,
        token: &str,
    ) -> Result<Volunteer, tonic::Status> {
        Ok(self
            .volunteers()
            .await
            .join_volunteer_team(with_bearer(
                JoinVolunteerTeamRequest {
                    worker_id: worker.to_string(),
                },
                token,
            ))
            .await?
            .into_inner()
            .volunteer
            .expect("a volunteer in the answer"))
    }

    /// Appoints `worker` to `role`, `token`'s caller asking: the volunteer, or the refusal.
    pub async fn appoint_volunteer_role(
        &self,
        worker: Uuid,
        role: VolunteerRole,
        token: &str,
    ) -> Result<Volunteer, tonic::Status> {
        Ok(self
            .volunteers()
            .await
            .appoint_volunteer_role(with_bearer(
                AppointVolunteerRoleRequest {
                    worker_id: worker.to_string(),
                    role: role as i32,
                },
                token,
            ))
            .await?
            .into_inner()
            .volunteer
            .expect("a volunteer in the answer"))
    }
}
