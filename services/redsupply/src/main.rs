//! `redsupply`: the one binary. Thin: parse the command line, load settings, hand over to the
//! library.

mod commands;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use redsupply::{AppSettings, ServiceName};

#[derive(Parser)]
#[command(
    name = "redsupply",
    version,
    about = "Red Supply: support network for gig workers"
)]
struct Cli {
    /// Settings file layered over the built-in defaults (then REDSUPPLY__SECTION__KEY variables).
    #[arg(long, global = true, env = "REDSUPPLY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve one or more services (or `all`) until SIGTERM or ctrl-c.
    Serve {
        #[arg(required = true, value_enum)]
        services: Vec<ServiceName>,
    },
    /// Apply every service's database migrations.
    Migrate,
    /// Re-announce every worker, community and grid, so read models fill in records from before
    /// their consumer existed or before the stream's retention (after an upgrade; harmless again).
    Republish,
    /// Load the demo county of Jiajiang (idempotent).
    Seed {
        /// Print only the id of the first demo worker (for scripts).
        #[arg(long)]
        print_demo_worker: bool,
    },
    /// Print a bearer token signed with the configured HS256 key.
    Token {
        #[arg(long)]
        role: String,
        /// The token's subject: a worker id for the worker role.
        #[arg(long, default_value = "cli")]
        subject: String,
        /// A community the holder serves (repeatable): claim `communities`.
        #[arg(long = "community", value_name = "ID")]
        communities: Vec<uuid::Uuid>,
        /// A grid the holder serves or a grid platform mirrors (repeatable): claim `grids`.
        #[arg(long = "grid", value_name = "ID")]
        grids: Vec<uuid::Uuid>,
        /// For a grid_system: the platform it is (claim `platform`).
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
    /// Exit 0 when the gRPC health of a server is SERVING.
    Probe {
        #[arg(long, default_value = "127.0.0.1:50054")]
        addr: String,
        /// A service name; empty for the server as a whole.
        #[arg(long, default_value = "")]
        service: String,
    },
    /// Load-test an intake (open loop; `--verify` checks every tip's case and award).
    Loadtest {
        #[command(subcommand)]
        target: LoadTarget,
    },
    /// Draw the 5-minute service circle's coverage of the grids as an SVG map (render it with any
    /// SVG viewer, or `rsvg-convert -o map.png coverage.svg`).
    CoverageMap {
        /// Only this grid (repeat for several), drawn around it; default: every grid, over the
        /// county's configured extent.
        #[arg(long = "grid")]
        grids: Vec<uuid::Uuid>,
        /// Only this community's grids, drawn around them.
        #[arg(long)]
        community: Option<uuid::Uuid>,
        /// An amenity (rest, drinking_water, meal_heating, charging, reading, mediation_legal_aid);
        /// empty: any station.
        #[arg(long, default_value = "")]
        amenity: String,
        #[arg(long, default_value_t = 5)]
        minutes: u32,
        #[arg(long, default_value_t = 50)]
        cell_meters: u32,
        /// Stations open at this time (RFC 3339); default now. `--ignore-hours` to skip.
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        ignore_hours: bool,
        #[arg(long, default_value = "coverage.svg")]
        out: PathBuf,
    },
    /// List, or replay once the cause is fixed, events a consumer gave up on.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetterAction,
    },
    /// Personal data at rest: re-seal it with the current key after a rotation.
    PersonalData {
        #[command(subcommand)]
        action: PersonalDataAction,
    },
    /// Walk one tip through the running stack as a demo worker.
    Demo {
        #[arg(long, default_value = "http://127.0.0.1:50054")]
        governance: String,
        #[arg(long, default_value = "http://127.0.0.1:50053")]
        stations: String,
    },
}

#[derive(Subcommand)]
enum LoadTarget {
    /// SubmitTip at a constant arrival rate.
    Tips {
        /// Governance endpoint(s); tips are spread over them.
        #[arg(long = "governance", default_value = "http://127.0.0.1:50054")]
        governance: Vec<String>,
        /// Stations endpoint (for --verify).
        #[arg(long, default_value = "http://127.0.0.1:50053")]
        stations: String,
        /// Tips per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Seconds measured (after the warm-up).
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Seconds sent but not measured.
        #[arg(long, default_value_t = 2)]
        warmup: u64,
        /// Reporters to spread tips over; 0: enough to stay under the per-reporter rate limit.
        #[arg(long, default_value_t = 0)]
        workers: usize,
        /// Channels per endpoint.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// A bearer token to use for every call (else worker tokens are minted with the
        /// configured key).
        #[arg(long)]
        token: Option<String>,
        /// Mint tokens for this role: worker (one per reporter) or a staff role.
        #[arg(long, default_value = "worker")]
        role: String,
        #[arg(long)]
        verify: bool,
        /// Seconds --verify waits for the last case and award.
        #[arg(long, default_value_t = 120)]
        verify_timeout: u64,
        /// One JSON document on stdout instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// WatchCases: the idle cost of open streams, then case changes at a constant rate with one
    /// watcher per grid (every change must reach its grid's watcher once).
    Feed {
        #[arg(long, default_value = "http://127.0.0.1:50054")]
        governance: String,
        /// Organization endpoint (the bench's grids).
        #[arg(long, default_value = "http://127.0.0.1:50051")]
        organization: String,
        #[arg(long, default_value_t = 50)]
        watchers: usize,
        /// Case changes per second.
        #[arg(long, default_value_t = 300.0)]
        rate: f64,
        /// Seconds of load.
        #[arg(long, default_value_t = 20)]
        duration: u64,
        /// Seconds of each idle-cost window (no stream, one, all).
        #[arg(long, default_value_t = 15)]
        idle: u64,
        /// One JSON document on stdout instead of the table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PersonalDataAction {
    /// Seal every value (and lookup hash) with organization.personal_data_key that a previous
    /// key sealed; safe to run while the services serve, and to run again.
    Reseal {
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

#[derive(Subcommand)]
enum DeadLetterAction {
    /// Dead letters of every service (or one), newest first.
    List {
        #[arg(long, value_enum)]
        service: Option<ServiceName>,
        /// Include those already replayed.
        #[arg(long)]
        all: bool,
    },
    /// Publish one dead letter again; consumers that already applied it skip it.
    Replay {
        #[arg(long, value_enum)]
        service: ServiceName,
        id: i64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = AppSettings::load(cli.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { services } => commands::serve(settings, &services).await,
            Command::Migrate => commands::migrate(settings).await,
            Command::Republish => commands::republish(settings).await,
            Command::Seed { print_demo_worker } => {
                commands::seed(settings, print_demo_worker).await
            }
            Command::Token {
                role,
                subject,
                communities,
                grids,
                platform,
                ttl_secs,
            } => commands::token(
                &settings,
                &role,
                &subject,
                &kit::auth::Scope {
                    communities,
                    grids,
                    platform,
                },
                ttl_secs,
            ),
            Command::Probe { addr, service } => commands::probe(&addr, &service).await,
            Command::Loadtest {
                target:
                    LoadTarget::Tips {
                        governance,
                        stations,
                        rate,
                        duration,
                        warmup,
                        workers,
                        connections,
                        token,
                        role,
                        verify,
                        verify_timeout,
                        json,
                    },
            } => {
                let options = redsupply::loadtest::Options {
                    governance,
                    stations,
                    rate,
                    duration: std::time::Duration::from_secs(duration),
                    warmup: std::time::Duration::from_secs(warmup),
                    workers,
                    connections,
                    verify,
                    verify_timeout: std::time::Duration::from_secs(verify_timeout),
                    progress: !json,
                };
                commands::loadtest(settings, options, token, &role, json).await
            }
            Command::Loadtest {
                target:
                    LoadTarget::Feed {
                        governance,
                        organization,
                        watchers,
                        rate,
                        duration,
                        idle,
                        json,
                    },
            } => {
                let options = redsupply::loadtest::feed::Options {
                    governance,
                    organization,
                    watchers,
                    rate,
                    duration: std::time::Duration::from_secs(duration),
                    idle: std::time::Duration::from_secs(idle),
                };
                commands::loadtest_feed(settings, options, json).await
            }
            Command::CoverageMap {
                grids,
                community,
                amenity,
                minutes,
                cell_meters,
                at,
                ignore_hours,
                out,
            } => {
                commands::coverage_map(
                    settings,
                    commands::MapOptions {
                        grids,
                        community,
                        amenity,
                        minutes,
                        cell_meters,
                        at,
                        ignore_hours,
                        out,
                    },
                )
                .await
            }
            Command::DeadLetters { action } => match action {
                DeadLetterAction::List { service, all } => {
                    commands::dead_letters_list(settings, service, all).await
                }
                DeadLetterAction::Replay { service, id } => {
                    commands::dead_letters_replay(settings, service, id).await
                }
            },
            Command::PersonalData {
                action: PersonalDataAction::Reseal { batch },
            } => commands::reseal_personal_data(settings, batch).await,
            Command::Demo {
                governance,
                stations,
            } => commands::demo(settings, governance, stations).await,
        }
    })
}
