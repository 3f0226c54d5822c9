//! Typed calls: one RPC with its token attached and its answer unwrapped, for the calls many tests
//! make (cases, tips, balances), and the waits built on them.

use std::time::Duration;

use kit::auth::with_bearer;
use redsupply_proto::common::v1::LatLng;
use uuid::Uuid;

use crate::{DEADLINE, TestApp, eventually};

impl TestApp {
    /// The case as `GetCase` shows it to county staff.
    pub async fn case(&self, id: &str) -> redsupply_proto::governance::v1::Case {
        self.governance()
            .await
            .get_case(with_bearer(
                redsupply_proto::governance::v1::GetCaseRequest { id: id.into() },
                &self.admin_token(),
            ))
            .await
            .expect("the case")
            .into_inner()
            .case
            .expect("a case in the answer")
    }

    /// Submits a tip of `category` at (lat, lng) for `reporter` (a new request id) and returns it
    /// as accepted, before dispatch.
    pub async fn submit_tip_at(
        &self,
        reporter: Uuid,
        token: &str,
        category: redsupply_proto::governance::v1::TipCategory,
        (latitude, longitude): (f64, f64),
    ) -> redsupply_proto::governance::v1::Tip {
        self.governance()
            .await
            .submit_tip(with_bearer(
                redsupply_proto::governance::v1::SubmitTipRequest {
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
            ))
            .await
            .expect("tip accepted")
            .into_inner()
            .tip
            .expect("a tip in the answer")
    }

    /// The tip once dispatched (it has a case), as county staff read it.
    pub async fn dispatched_tip(&self, id: &str) -> redsupply_proto::governance::v1::Tip {
        let admin = self.admin_token();
        eventually("the tip to be dispatched", || {
            let (id, admin) = (id.to_owned(), admin.clone());
            async move {
                let t = self
                    .governance()
                    .await
                    .get_tip(with_bearer(
                        redsupply_proto::governance::v1::GetTipRequest { id },
                        &admin,
                    ))
                    .await
                    .ok()?
                    .into_inner()
                    .tip?;
                (!t.case_id.is_empty()).then_some(t)
            }
        })
        .await
    }

    /// A worker's balance as the API reports it, or its refusal (NOT_FOUND while stations knows
    /// nothing of the worker).
    pub async fn try_balance(&self, worker: Uuid) -> Result<i64, tonic::Status> {
        Ok(self
            .points()
            .await
            .get_balance(with_bearer(
                redsupply_proto::stations::v1::GetBalanceRequest {
                    worker_id: worker.to_string(),
                },
                &self.admin_token(),
            ))
            .await?
            .into_inner()
            .balance
            .expect("balance")
            .points)
    }

    /// A worker's balance as the API reports it.
    pub async fn balance(&self, worker: Uuid) -> i64 {
        self.try_balance(worker).await.expect("balance")
    }

    /// Waits until the worker's balance is `points`; meanwhile stations may not know the worker
    /// yet (its registration and its points arrive by events).
    pub async fn await_balance(&self, worker: Uuid, points: i64) {
        let mut last = 0;
        let reached = tokio::time::timeout(DEADLINE, async {
            loop {
                match self.try_balance(worker).await {
                    Ok(p) if p == points => return,
                    Ok(p) => last = p,
                    Err(s) if s.code() == tonic::Code::NotFound => {}
                    Err(s) => panic!("balance: {s:?}"),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(reached.is_ok(), "balance stayed at {last}, not {points}");
    }
}
