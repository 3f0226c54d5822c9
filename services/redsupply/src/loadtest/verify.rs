//! `--verify`: after the run, every accepted tip is followed (bounded in time) to its case and its
//! award; a tip lost, awarded twice or in no case is listed, and the end-to-end latencies
//! (tip → case, tip → award) are recorded.

use super::*;

/// A reporter's tip awards: tip id → when each award for it was written.
async fn awards_of(
    points: &mut PointsServiceClient<Channel>,
    staff: &str,
    reporter: Uuid,
) -> anyhow::Result<HashMap<String, Vec<DateTime<Utc>>>> {
    let mut awards: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    let mut token = String::new();
    loop {
        let page = match points
            .list_ledger_entries(with_bearer(
                ListLedgerEntriesRequest {
                    worker_id: reporter.to_string(),
                    page_size: 500,
                    page_token: token.clone(),
                },
                staff,
            ))
            .await
        {
            Ok(page) => page.into_inner(),
            // Load-test reporters are not registered: stations knows one from its first award.
            Err(s) if s.code() == tonic::Code::NotFound => return Ok(awards),
            Err(s) => return Err(s.into()),
        };
        for e in page.entries {
            if e.reason == "tip_submitted"
                && let Some(tip) = e.subject.strip_prefix("tip:")
            {
                awards.entry(tip.to_owned()).or_default().push(
                    e.created_at
                        .as_ref()
                        .and_then(from_timestamp)
                        .unwrap_or_else(Utc::now),
                );
            }
        }
        if page.next_page_token.is_empty() {
            return Ok(awards);
        }
        token = page.next_page_token;
    }
}

/// Waits until every accepted tip is routed or merged and awarded, then checks that each has
/// exactly one award and sits in its case; records the end-to-end latencies.
pub(super) async fn verify(
    o: &Options,
    tokens: &Tokens,
    clients: &[GovernanceServiceClient<Channel>],
    accepted: &[Accepted],
    report: &mut Report,
) -> anyhow::Result<()> {
    let staff = tokens.staff();
    let deadline = Instant::now() + o.verify_timeout;
    let mut to_case = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
    let mut to_points =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
    let points = PointsServiceClient::new(
        tonic::transport::Endpoint::from_shared(o.stations.clone())?
            .tcp_nodelay(true)
            .connect()
            .await?,
    );

    // Cases: poll each tip until dispatched (in parallel, 64 at a time).
    let sem = Arc::new(Semaphore::new(64));
    let mut jobs = Vec::with_capacity(accepted.len());
    for (i, a) in accepted.iter().enumerate() {
        let mut client = clients[i % clients.len()].clone();
        let (staff, tip, sem) = (staff.clone(), a.tip.clone(), sem.clone());
        jobs.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.ok()?;
            loop {
                let t = client
                    .get_tip(with_bearer(GetTipRequest { id: tip.clone() }, &staff))
                    .await
                    .ok()?
                    .into_inner()
                    .tip?;
                if t.status() != TipStatus::Received {
                    let case = client
                        .get_case(with_bearer(
                            GetCaseRequest {
                                id: t.case_id.clone(),
                            },
                            &staff,
                        ))
                        .await
                        .ok()?
                        .into_inner()
                        .case?;
                    return Some((t, case));
                }
                if Instant::now() > deadline {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    let mut submitted_at: HashMap<String, DateTime<Utc>> = HashMap::new();
    for (a, job) in accepted.iter().zip(jobs) {
        match job.await.ok().flatten() {
            None => report.lost.push(format!("{} (no case)", a.tip)),
            Some((tip, case)) => {
                let at = tip.submitted_at.as_ref().and_then(from_timestamp);
                if !case.tip_ids.contains(&tip.id) {
                    report.duplicated.push(format!(
                        "{} (its case {} does not hold it)",
                        tip.id, case.id
                    ));
                }
                if let (Some(at), Some(created), TipStatus::Routed) = (
                    at,
                    case.created_at.as_ref().and_then(from_timestamp),
                    tip.status(),
                ) {
                    let _ = to_case
                        .record((created - at).num_microseconds().unwrap_or(0).max(1) as u64);
                }
                if let Some(at) = at {
                    submitted_at.insert(tip.id, at);
                }
            }
        }
    }

    // Awards: one ledger entry per tip, found through each reporter's ledger (64 reporters at a
    // time).
    let mut by_reporter: HashMap<Uuid, Vec<String>> = HashMap::new();
    for a in accepted {
        by_reporter
            .entry(a.reporter)
            .or_default()
            .push(a.tip.clone());
    }
    let mut jobs = Vec::with_capacity(by_reporter.len());
    for (reporter, tips) in by_reporter {
        let (mut points, staff, sem) = (points.clone(), staff.clone(), sem.clone());
        jobs.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await?;
            loop {
                let awards = awards_of(&mut points, &staff, reporter).await?;
                let missing = tips.iter().filter(|t| !awards.contains_key(*t)).count();
                if missing == 0 || Instant::now() > deadline {
                    return anyhow::Ok((tips, awards));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }));
    }
    for job in jobs {
        let (tips, awards) = job.await??;
        for t in &tips {
            match awards.get(t).map(Vec::as_slice) {
                None | Some([]) => report.lost.push(format!("{t} (no award)")),
                Some([at]) => {
                    if let Some(s) = submitted_at.get(t) {
                        let _ = to_points
                            .record((*at - *s).num_microseconds().unwrap_or(0).max(1) as u64);
                    }
                }
                Some(many) => report
                    .duplicated
                    .push(format!("{t} ({} awards)", many.len())),
            }
        }
    }
    report.verified = true;
    report.to_case = Some(Percentiles::of(&to_case));
    report.to_points = Some(Percentiles::of(&to_points));
    Ok(())
}
