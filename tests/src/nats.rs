//! A private `nats-server` with JetStream for one test: its own port and store directory, which a
//! test may stop and start again to play an outage; or a three-node JetStream cluster on
//! loopback (the shape production runs), one node of which a test may kill. It runs with the authorization the product
//! ships (`deploy/nats/redsupply-auth.conf`): one user per service, `operator` for the harness.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// One `nats-server`, or the nodes of a JetStream cluster on loopback.
pub struct Nats {
    nodes: Vec<Node>,
}

/// One server: its client port, cluster port (in a cluster), store and process.
struct Node {
    name: String,
    port: u16,
    cluster_port: Option<u16>,
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
        Self::with_nodes(1).await
    }

    /// A JetStream cluster of `nodes` servers routed to each other on loopback; streams the
    /// services create with `nats.stream_replicas` = `nodes` are replicated on all of them.
    pub async fn start_cluster(nodes: usize) -> Self {
        assert!(
            nodes >= 3,
            "a JetStream cluster needs three nodes for a quorum"
        );
        Self::with_nodes(nodes).await
    }

    async fn with_nodes(count: usize) -> Self {
        let nodes = (0..count)
            .map(|i| Node {
                name: format!("n{}", i + 1),
                port: free_port(),
                cluster_port: (count > 1).then(free_port),
                store: tempfile::tempdir().expect("a temporary store"),
                child: None,
            })
            .collect();
        let mut n = Self { nodes };
        n.resume().await;
        n
    }

    /// Every node's client URL, comma-separated (`nats.url` takes such a list).
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The servers' names (`n1`, `n2`, …), as stream and consumer cluster info report them.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// Starts every stopped node again on its port and store.
    pub async fn resume(&mut self) {
        let routes: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| n.cluster_port)
            .map(|p| format!("\"nats://127.0.0.1:{p}\""))
            .collect();
        for node in &mut self.nodes {
            if node.child.is_none() {
                node.start(&routes).await;
            }
        }
    }

    /// Kills every node (SIGKILL), as a crash or an outage would.
    pub fn stop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
    }

    /// Kills the node called `name` (SIGKILL); the others keep the cluster's quorum.
    pub fn kill_node(&mut self, name: &str) {
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
            .stop();
    }
}

impl Node {
    async fn start(&mut self, routes: &[String]) {
        let config = self.store.path().join("server.conf");
        std::fs::write(self.store.path().join("redsupply-auth.conf"), AUTHORIZATION)
            .expect("write the NATS authorization");
        let mut text = format!(
            "server_name: {}\njetstream {{ store_dir: {:?} }}\n",
            self.name,
            self.store.path().join("js")
        );
        if let Some(port) = self.cluster_port {
            text.push_str(&format!(
                "cluster {{ name: redsupply-test, listen: \"127.0.0.1:{port}\", routes: [{}] }}\n",
                routes.join(", ")
            ));
        }
        text.push_str("include \"redsupply-auth.conf\"\n");
        std::fs::write(&config, text).expect("write the server configuration");
        let mut command = Command::new(binary());
        for user in USERS {
            command.env(
                format!("REDSUPPLY_NATS_PASSWORD_{}", user.to_ascii_uppercase()),
                Nats::password(user),
            );
        }
        let child = command
            .arg("-c")
            .arg(&config)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
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

    fn stop(&mut self) {
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
