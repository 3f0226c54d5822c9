//! What organization consumes, one file per durable consumer: decode, then apply in the
//! transaction the bus handler runs in.

pub mod volunteer_roles;
