//! Compiles the contract with `protox` (pure Rust, no `protoc` on the machine) and hands the descriptor
//! set to `tonic-prost-build`; the same set is written to `OUT_DIR` for server reflection.
use std::{env, fs, path::PathBuf};

use prost::Message;

const FILES: &[&str] = &[
    "redsupply/common/v1/common.proto",
    "redsupply/organization/v1/organization.proto",
    "redsupply/organization/v1/party.proto",
    "redsupply/organization/v1/enterprise.proto",
    "redsupply/organization/v1/care.proto",
    "redsupply/organization/v1/desk.proto",
    "redsupply/governance/v1/governance.proto",
    "redsupply/stations/v1/stations.proto",
    "redsupply/stations/v1/honours.proto",
    "redsupply/education/v1/education.proto",
    "redsupply/education/v1/activity.proto",
    "redsupply/events/v1/events.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=redsupply");
    let fds = protox::compile(FILES, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("redsupply_descriptor.bin"), fds.encode_to_vec())?;
    // Messages and clients, with prost's codec.
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_fds(fds.clone())?;
    // Servers only, with the codec that answers INVALID_ARGUMENT to a request that does not decode.
    // Every package is external here, so this run writes the server modules and no messages.
    let servers = out.join("servers");
    fs::create_dir_all(&servers)?;
    let mut config = tonic_prost_build::configure()
        .build_server(true)
        .build_client(false)
        .codec_path("crate::codec::RequestCodec")
        .out_dir(&servers);
    let mut packages: Vec<&str> = fds
        .file
        .iter()
        .map(|f| f.package())
        .filter(|p| p.starts_with("redsupply."))
        .collect();
    packages.sort_unstable();
    packages.dedup();
    for package in packages {
        let rust_path = format!(
            "crate::{}",
            package.trim_start_matches("redsupply.").replace('.', "::")
        );
        config = config.extern_path(format!(".{package}"), rust_path);
    }
    config.compile_fds(fds)?;
    Ok(())
}
