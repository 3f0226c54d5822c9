//! Stations' durable consumers: points from governance and education ([`awards`]), and the read
//! models of organization's workers, communities and grids ([`read_models`]).

pub mod awards;
pub mod read_models;
