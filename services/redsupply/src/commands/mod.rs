//! The subcommands, at the binary's edge (errors are `anyhow` here and nowhere else).

mod coverage_map;

pub use coverage_map::{MapOptions, coverage_map};

use std::time::Duration;

use anyhow::{Context, bail};
use kit::auth::with_bearer;
use redsupply::{AppSettings, ServiceName, seed, startup};
use redsupply_proto::{
    common::v1::LatLng,
    governance::v1::{
        GetCaseRequest, GetTipRequest, SubmitTipRequest, TipCategory, TipStatus,
        governance_service_client::GovernanceServiceClient,
    },
    roles,
    stations::v1::{GetBalanceRequest, points_service_client::PointsServiceClient},
};

pub async fn serve(settings: AppSettings, services: &[ServiceName]) -> anyhow::Result<()> {
    let names = ServiceName::expand(services);
    let label = names
        .iter()
        .map(|n| n.schema())
        .collect::<Vec<_>>()
        .join("+");
    let _telemetry =
        kit::telemetry::init(&settings.common.telemetry, &format!("redsupply-{label}"))?;
    kit::telemetry::install_metrics(&settings.common.admin, &label)
        .context("starting the metrics listener (admin.listen)")?;
    let shipped_keys = settings.development_keys_in_use();
    if !shipped_keys.is_empty() && settings.common.development {
        tracing::warn!(
            keys = ?shipped_keys,
            "development = true: running with the development keys shipped in the defaults"
        );
    }
    let shutdown = kit::shutdown::on_signals();
    let rt = kit::Runtime::new(settings.common.clone(), shutdown.clone()).await?;
    let running = startup::start(&settings, &names, &rt).await?;
    for r in &running {
        tracing::info!(service = r.name, addr = %r.addr, "serving");
    }
    let mut failed = false;
    for r in running {
        if let Err(e) = r.join().await {
            tracing::error!(error = %e, "server ended with an error");
            failed = true;
        }
    }
    if failed {
        bail!("a server ended with an error");
    }
    Ok(())
}

pub async fn migrate(settings: AppSettings) -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(&settings.common.telemetry, "redsupply-migrate")?;
    startup::migrate(&settings).await?;
    eprintln!("migrations applied");
    Ok(())
}

pub async fn republish(settings: AppSettings) -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(&settings.common.telemetry, "redsupply-republish")?;
    let pool = organization::pool(&settings.common)?;
    let done = organization::app::republish::republish(&pool).await?;
    eprintln!(
        "announced {} workers, {} communities and {} grids; the organization relay publishes them",
        done.workers, done.communities, done.grids
    );
    Ok(())
}

pub async fn seed(settings: AppSettings, print_demo_worker: bool) -> anyhow::Result<()> {
    settings.check_keys().map_err(anyhow::Error::msg)?;
    let seeded = seed::demo_county(&settings).await?;
    if print_demo_worker {
        println!("{}", seeded.workers.first().context("no demo worker")?);
    } else {
        println!(
            "seeded Jiajiang: {} communities, {} grids, {} stations, {} learning sites, {} trainings held, {} workers, {} volunteers, {} tips, {} problems solved, {} experts on the Q&A desk, {} questions asked, {} activities held, {} honours nominations",
            seeded.communities.len(),
            seeded.grids.len(),
            seeded.stations,
            seeded.learning_sites,
            seeded.trainings,
            seeded.workers.len(),
            seeded.volunteers,
            seeded.tips,
            seeded.problems_solved,
            seeded.experts,
            seeded.questions,
            seeded.activities,
            seeded.nominations
        );
        if let Some(w) = seeded.workers.first() {
            println!("demo worker: {w}");
        }
    }
    Ok(())
}

pub fn token(
    settings: &AppSettings,
    role: &str,
    subject: &str,
    scope: &kit::auth::Scope,
    ttl: Option<u64>,
) -> anyhow::Result<()> {
    if !roles::ALL.contains(&role) {
        bail!("unknown role {role:?}; one of {:?}", roles::ALL);
    }
    let max = settings.common.auth.max_token_lifetime_secs;
    if let Some(t) = ttl
        && t > max
    {
        bail!(
            "--ttl-secs {t} exceeds auth.max_token_lifetime_secs ({max}): the services would refuse it"
        );
    }
    let unscoped = match role {
        roles::COMMUNITY_ADMIN => scope.communities.is_empty(),
        roles::GRID_OFFICER | roles::GRID_SYSTEM => {
            scope.grids.is_empty() && scope.communities.is_empty()
        }
        _ => false,
    };
    if unscoped {
        eprintln!(
            "note: a {role} token without --community or --grid reaches no community's or grid's records"
        );
    }
    let auth = kit::auth::Authenticator::from_settings(&settings.common.auth)?;
    println!("{}", auth.issue_scoped(subject, &[role], scope, ttl)?);
    Ok(())
}

pub async fn probe(addr: &str, service: &str) -> anyhow::Result<()> {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let url = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    let channel = tonic::transport::Endpoint::from_shared(url)?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?
        .into_inner()
        .status();
    if status != ServingStatus::Serving {
        bail!("{addr} {service:?} is {}", status.as_str_name());
    }
    println!("{addr} SERVING");
    Ok(())
}

/// Submits one tip as the first demo worker, then waits for its case and points.
pub async fn demo(
    settings: AppSettings,
    governance: String,
    stations: String,
) -> anyhow::Result<()> {
    let seeded = seed::demo_county(&settings).await?;
    let worker = *seeded.workers.first().context("no demo worker")?;
    let auth = kit::auth::Authenticator::from_settings(&settings.common.auth)?;
    let token = auth.issue(&worker.to_string(), &[roles::WORKER], None)?;
    let mut gov = GovernanceServiceClient::connect(governance).await?;
    let mut points = PointsServiceClient::connect(stations).await?;
    // A worker seeded a moment ago reaches stations by event: NOT_FOUND until then.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let before = loop {
        match points
            .get_balance(with_bearer(
                GetBalanceRequest {
                    worker_id: worker.to_string(),
                },
                &token,
            ))
            .await
        {
            Ok(r) => break r.into_inner().balance.map(|b| b.points).unwrap_or(0),
            Err(s)
                if s.code() == tonic::Code::NotFound && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(s) => return Err(s.into()),
        }
    };
    let tip = gov
        .submit_tip(with_bearer(
            SubmitTipRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                reporter_id: worker.to_string(),
                category: TipCategory::Traffic as i32,
                description: "Traffic light out at the Dongda Street crossing".into(),
                location: Some(LatLng {
                    latitude: seed::SEAT.0 + 0.002,
                    longitude: seed::SEAT.1 + 0.002,
                }),
                photo_urls: vec![],
                observed_at: None,
            },
            &token,
        ))
        .await?
        .into_inner()
        .tip
        .context("no tip in the answer")?;
    println!("tip {} accepted ({})", tip.id, tip.status().as_str_name());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let routed = loop {
        let t = gov
            .get_tip(with_bearer(GetTipRequest { id: tip.id.clone() }, &token))
            .await?
            .into_inner()
            .tip
            .context("no tip")?;
        if t.status() != TipStatus::Received {
            break t;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the tip was not routed within 20 s: is every service up?");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let staff = auth.issue("demo", &[roles::COUNTY_ADMIN], None)?;
    let case = gov
        .get_case(with_bearer(
            GetCaseRequest {
                id: routed.case_id.clone(),
            },
            &staff,
        ))
        .await?
        .into_inner()
        .case
        .context("no case")?;
    println!(
        "case {}: grid {}, department {}, {}",
        case.id,
        if case.grid_id.is_empty() {
            "county queue"
        } else {
            &case.grid_id
        },
        case.department,
        case.status().as_str_name()
    );
    let after = loop {
        let b = points
            .get_balance(with_bearer(
                GetBalanceRequest {
                    worker_id: worker.to_string(),
                },
                &token,
            ))
            .await?
            .into_inner()
            .balance
            .map(|b| b.points)
            .unwrap_or(0);
        if b > before || tokio::time::Instant::now() > deadline {
            break b;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("worker {worker}: {before} → {after} points");
    Ok(())
}

/// `redsupply personal-data reseal`: every sealed value moved to the current key, one line per
/// column.
pub async fn reseal_personal_data(settings: AppSettings, batch: i64) -> anyhow::Result<()> {
    let vault = settings.organization.vault()?;
    let pool = startup::pool(&settings, ServiceName::Organization)?;
    println!(
        "{:<40} {:>9} {:>16}",
        "column", "resealed", "already current"
    );
    let mut resealed = 0;
    for r in organization::app::reseal::reseal(&pool, &vault, batch).await? {
        println!(
            "{:<40} {:>9} {:>16}",
            r.column, r.resealed, r.already_current
        );
        resealed += r.resealed;
    }
    if resealed == 0 {
        println!(
            "nothing was left under a previous key: organization.previous_personal_data_keys can be emptied"
        );
    } else {
        // A pod still on the old settings may have sealed more meanwhile: the next run shows.
        println!(
            "re-sealed {resealed} values; run it once more: when it re-seals nothing, organization.previous_personal_data_keys can be emptied"
        );
    }
    Ok(())
}

pub async fn dead_letters_list(
    settings: AppSettings,
    service: Option<ServiceName>,
    include_replayed: bool,
) -> anyhow::Result<()> {
    let names = ServiceName::expand(&[service.unwrap_or(ServiceName::All)]);
    println!(
        "{:<13} {:>6}  {:<22} {:<40} {:>5}  error",
        "service", "id", "consumer", "subject", "tries"
    );
    for name in names {
        let pool = startup::pool(&settings, name)?;
        for d in kit::bus::dead_letters::list(&pool, include_replayed).await? {
            println!(
                "{:<13} {:>6}  {:<22} {:<40} {:>5}  {}{}",
                name.schema(),
                d.id,
                d.consumer,
                d.subject,
                d.deliveries,
                d.error,
                if d.replayed_at.is_some() {
                    " (replayed)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}

pub async fn dead_letters_replay(
    settings: AppSettings,
    service: ServiceName,
    id: i64,
) -> anyhow::Result<()> {
    let pool = startup::pool(&settings, service)?;
    let bus = kit::bus::Bus::connect(&settings.common.nats).await?;
    let d = kit::bus::dead_letters::replay(&pool, &bus, id).await?;
    println!(
        "replayed dead letter {} ({} for {})",
        d.id, d.subject, d.consumer
    );
    Ok(())
}

pub async fn loadtest(
    settings: AppSettings,
    options: redsupply::loadtest::Options,
    token: Option<String>,
    role: &str,
    json: bool,
) -> anyhow::Result<()> {
    use redsupply::loadtest::{Tokens, run};
    let tokens = match token {
        Some(t) => Tokens::Fixed(t),
        None if role == roles::WORKER => Tokens::Minted(std::sync::Arc::new(
            kit::auth::Authenticator::from_settings(&settings.common.auth)?,
        )),
        None => {
            if !roles::ALL.contains(&role) {
                bail!("unknown role {role:?}");
            }
            let auth = kit::auth::Authenticator::from_settings(&settings.common.auth)?;
            Tokens::Fixed(auth.issue("loadtest", &[role], Some(3_600))?)
        }
    };
    let report = run(&options, &tokens).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    if !report.ok() {
        bail!(
            "{} tips lost, {} duplicated",
            report.lost.len(),
            report.duplicated.len()
        );
    }
    Ok(())
}

pub async fn loadtest_feed(
    settings: AppSettings,
    options: redsupply::loadtest::feed::Options,
    json: bool,
) -> anyhow::Result<()> {
    let auth = kit::auth::Authenticator::from_settings(&settings.common.auth)?;
    let pool = sqlx::PgPool::connect(settings.common.database.url.expose()).await?;
    let report = redsupply::loadtest::feed::run(&options, &auth, &pool).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    if !report.ok() {
        bail!(
            "{} changes missing, {} duplicated, {} misrouted",
            report.missing,
            report.duplicated,
            report.misrouted
        );
    }
    Ok(())
}
