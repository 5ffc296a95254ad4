//! Site mode: many doors of one compound kept in sync through a NATS JetStream broker.
//!
//! - [`ids`]: the validated names of a site and its doors.
//! - [`broker`]: the broker's configuration, users and permissions.

pub mod broker;
pub mod ids;
