//! Builds and starts the services one process hosts (`redsupply serve <service>…|all`).

use crate::AppSettings;
use kit::{Runtime, StartError, grpc::Running};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ServiceName {
    Organization,
    Education,
    Stations,
    Governance,
    /// All four in one process.
    All,
}

impl ServiceName {
    pub const EACH: [ServiceName; 4] = [
        ServiceName::Organization,
        ServiceName::Education,
        ServiceName::Stations,
        ServiceName::Governance,
    ];

    /// Expands `all` and removes repeats, keeping the order given.
    pub fn expand(names: &[ServiceName]) -> Vec<ServiceName> {
        let mut out = Vec::new();
        for n in names {
            let each: &[ServiceName] = if *n == ServiceName::All {
                &Self::EACH
            } else {
                std::slice::from_ref(n)
            };
            for e in each {
                if !out.contains(e) {
                    out.push(*e);
                }
            }
        }
        out
    }

    pub fn schema(self) -> &'static str {
        match self {
            ServiceName::Organization => organization::SCHEMA,
            ServiceName::Education => education::SCHEMA,
            ServiceName::Stations => stations::SCHEMA,
            ServiceName::Governance => governance::SCHEMA,
            ServiceName::All => "all",
        }
    }
}

/// Starts each named service on the shared runtime.
pub async fn start(
    settings: &AppSettings,
    names: &[ServiceName],
    rt: &Runtime,
) -> Result<Vec<Running>, StartError> {
    settings.check_keys().map_err(StartError::Invalid)?;
    let county = &settings.common.county;
    if let Some(problem) = county.extent.problem().or_else(|| county.grids.problem()) {
        return Err(StartError::Invalid(problem));
    }
    let mut running = Vec::new();
    for name in ServiceName::expand(names) {
        let r = match name {
            ServiceName::Organization => organization::start(rt, &settings.organization).await?,
            ServiceName::Education => education::start(rt, &settings.education).await?,
            ServiceName::Stations => stations::start(rt, &settings.stations).await?,
            ServiceName::Governance => governance::start(rt, &settings.governance).await?,
            ServiceName::All => unreachable!("expanded above"),
        };
        running.push(r);
    }
    Ok(running)
}

/// Applies every service's migrations to its own schema.
pub async fn migrate(settings: &AppSettings) -> Result<(), StartError> {
    let common = &settings.common;
    organization::migrate(&organization::pool(common)?).await?;
    education::migrate(&education::pool(common)?).await?;
    stations::migrate(&stations::pool(common)?).await?;
    governance::migrate(&governance::pool(common)?).await?;
    Ok(())
}

/// The database pool of one service (in its schema).
pub fn pool(settings: &AppSettings, name: ServiceName) -> Result<sqlx::PgPool, StartError> {
    let common = &settings.common;
    Ok(match name {
        ServiceName::Organization => organization::pool(common)?,
        ServiceName::Education => education::pool(common)?,
        ServiceName::Stations => stations::pool(common)?,
        ServiceName::Governance => governance::pool(common)?,
        ServiceName::All => {
            return Err(StartError::Invalid("name one service, not all".into()));
        }
    })
}
