//! The Red Supply process: settings for every service, and `startup`, which builds and starts the
//! services a process hosts. `main` is a thin CLI over this; tests start the same app on port 0.

pub mod loadtest;
pub mod map;
pub mod seed;
pub mod settings;
pub mod startup;

pub use settings::AppSettings;
pub use startup::{ServiceName, start};
