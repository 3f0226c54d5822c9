//! A private `nats-server` with JetStream for one test: its own port and store directory, which a
//! test may stop and start again to play an outage. It runs with the authorization the product
//! ships (`deploy/nats/redsupply-auth.conf`): one user per service, `operator` for the harness.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

pub struct Nats {
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("NATS_SERVER_BIN") {
        return p.into();
    }
    for p in [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "nats-server".into()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The users of `deploy/nats/redsupply-auth.conf`.
pub const USERS: [&str; 5] = [
    "organization",
    "education",
    "stations",
    "governance",
    "operator",
];

/// The authorization every server of the product runs with.
const AUTHORIZATION: &str = include_str!("../../deploy/nats/redsupply-auth.conf");

impl Nats {
    /// The password of `user` on a test server.
    pub fn password(user: &str) -> String {
        format!("test-password-of-{user}")
    }

    /// NATS settings of `base` that connect as `user`.
    pub fn as_user(base: &kit::settings::NatsSettings, user: &str) -> kit::settings::NatsSettings {
        let mut s = base.clone();
        s.user = user.to_owned();
        s.password = kit::settings::Secret::new(Self::password(user));
        s
    }

    pub async fn start() -> Self {
        let mut n = Self {
            port: free_port(),
            store: tempfile::tempdir().expect("a temporary store"),
            child: None,
        };
        n.resume().await;
        n
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and store.
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "nats-server is already running");
        let config = self.store.path().join("redsupply-auth.conf");
        std::fs::write(&config, AUTHORIZATION).expect("write the NATS authorization");
        let mut command = Command::new(binary());
        for user in USERS {
            command.env(
                format!("REDSUPPLY_NATS_PASSWORD_{}", user.to_ascii_uppercase()),
                Self::password(user),
            );
        }
        let child = command
            .arg("-c")
            .arg(&config)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts (install it with scripts/test, or set NATS_SERVER_BIN)");
        self.child = Some(child);
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < until,
                "nats-server did not come up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server (SIGKILL), as a crash or an outage would.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}
