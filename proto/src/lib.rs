//! The Red Supply API contract (`redsupply.*.v1`) and integration events (`redsupply.events.v1`),
//! generated at build time from the `.proto` files beside this crate.

pub mod codec;
pub mod subjects;

/// Encoded `FileDescriptorSet` of every file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/redsupply_descriptor.bin"));

pub mod common {
    pub mod v1 {
        tonic::include_proto!("redsupply.common.v1");
    }
}
pub mod organization {
    pub mod v1 {
        tonic::include_proto!("redsupply.organization.v1");
        include!(concat!(
            env!("OUT_DIR"),
            "/servers/redsupply.organization.v1.rs"
        ));
    }
}
pub mod governance {
    pub mod v1 {
        tonic::include_proto!("redsupply.governance.v1");
        include!(concat!(
            env!("OUT_DIR"),
            "/servers/redsupply.governance.v1.rs"
        ));
    }
}
pub mod stations {
    pub mod v1 {
        tonic::include_proto!("redsupply.stations.v1");
        include!(concat!(
            env!("OUT_DIR"),
            "/servers/redsupply.stations.v1.rs"
        ));
    }
}
pub mod education {
    pub mod v1 {
        tonic::include_proto!("redsupply.education.v1");
        include!(concat!(
            env!("OUT_DIR"),
            "/servers/redsupply.education.v1.rs"
        ));
    }
}
pub mod events {
    pub mod v1 {
        tonic::include_proto!("redsupply.events.v1");
    }
}

/// The roles a bearer token may carry; each RPC admits some of them.
pub mod roles {
    pub const WORKER: &str = "worker";
    pub const GRID_OFFICER: &str = "grid_officer";
    pub const COMMUNITY_ADMIN: &str = "community_admin";
    pub const COUNTY_ADMIN: &str = "county_admin";
    pub const GRID_SYSTEM: &str = "grid_system";
    /// An expert of the Q&A desk (an instructor or a lecturer); the token's subject is the
    /// expert's id. It reaches only the desk's calls, and of the questions those routed to it.
    pub const EXPERT: &str = "expert";
    /// Every human role; the machine role `grid_system` reaches only the grid gateway and reads of
    /// the cases of its grids.
    pub const PEOPLE: &[&str] = &[WORKER, GRID_OFFICER, COMMUNITY_ADMIN, COUNTY_ADMIN];
    pub const ALL: &[&str] = &[
        WORKER,
        GRID_OFFICER,
        COMMUNITY_ADMIN,
        COUNTY_ADMIN,
        GRID_SYSTEM,
        EXPERT,
    ];
}
