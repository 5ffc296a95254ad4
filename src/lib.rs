//! facegate: a door-access gate for residential buildings.
//!
//! Residents open the door with their face (opt-in, consented, revocable), a PIN or a card. The
//! library is laid out by domain; the `facegate` binary is a thin CLI over it.
//!
//! - [`ui`]: the Slint touchscreen and its glue.
//! - [`vision`]: camera frames → face detection (YuNet) → alignment → embedding (SFace).
//! - [`credentials`]: PINs, cards and card readers.
//! - [`door`]: the door controller (strike, contact, exit button, alarms) and its GPIO.
//! - [`keys`]: the site key and the purpose keys derived from it.
//! - [`language`]: the languages of the screen and the notice.
//! - [`templates`]: protected (salted) templates and 1:N matching.
//! - [`pi`]: Raspberry Pi peripherals (rppal): door GPIO, Wiegand, SPI.
//! - [`runtime`]: the running gate (UI-independent), the camera seam, simulation scripts.
//! - [`store`]: the SQLite database: residents, consent, templates, credentials, audit log.
//! - [`access`]: door policy and the grant/deny decision.
//! - [`manage`]: the admin and self-service actions, one implementation each.
//! - [`cli`]: the `facegate` command-line verbs.
//! - [`config`]: the TOML configuration, one section per domain.
//! - [`site`]: site mode: many doors in sync through a NATS JetStream broker; door ids.

pub mod access;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod dates;
pub mod door;
pub mod keys;
pub mod language;
pub mod manage;
pub mod pi;
pub mod runtime;
pub mod site;
pub mod store;
pub mod templates;
pub mod ui;
pub mod vision;
