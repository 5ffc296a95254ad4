//! facegate: a door-access gate for residential buildings.
//!
//! Residents open the door with their face (opt-in, consented, revocable), a PIN or a card. The
//! library is laid out by domain; the `facegate` binary is a thin CLI over it.
//!
//! - [`vision`]: camera frames → face detection (YuNet) → alignment → embedding (SFace).
//! - [`cli`]: the `facegate` command-line verbs.
//! - [`config`]: the TOML configuration, one section per domain.

pub mod cli;
pub mod config;
pub mod vision;
