//! Stations on the bus: the events it publishes ([`publish`]) and the durable consumers that turn
//! other services' events into points and read models ([`consume`]).

pub mod consume;
pub mod publish;
