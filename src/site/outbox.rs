//! What a door sends to the site: one outbox row per change or event, written in the same
//! transaction as the change, delivered to the stream `site-<site>-from-doors` under
//! `site.<site>.door.<door>.<kind>` with the message id `<door>-<outbox row id>`.

use serde::{Deserialize, Serialize};

use super::record::{PinEntry, TemplateEntry};

/// The kind of an outbox row: the last token of its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxKind {
    /// A face enrolled at the door ([`DoorEnrolment`]).
    Enrol,
    /// Face data deleted by the resident at the door ([`DoorDeletion`]).
    Delete,
    /// A PIN changed at the door ([`DoorPinChange`]).
    Pin,
    /// An access decision ([`DoorEvent`]).
    Event,
    /// An alarm: door held or forced open, fire unlock, locked reader, rejected row.
    Alarm,
    /// A visitor pass opened the door ([`crate::store::PassUse`]).
    PassUsed,
    /// A booked enrolment was done at the door ([`crate::store::BookingDone`]); its template
    /// comes as an `enrol` row of the same transaction.
    BookingDone,
    /// The door's replica revision and outbox depth (sent directly, never queued).
    Status,
    /// What became of a command for this door ([`super::commands::CommandReport`]).
    Command,
    /// A resident's PIN lockout started, grew or ended at the door ([`DoorLockout`]).
    Lockout,
}

impl OutboxKind {
    pub const ALL: [OutboxKind; 10] = [
        Self::Enrol,
        Self::Delete,
        Self::Pin,
        Self::Event,
        Self::Alarm,
        Self::PassUsed,
        Self::BookingDone,
        Self::Status,
        Self::Command,
        Self::Lockout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enrol => "enrol",
            Self::Delete => "delete",
            Self::Pin => "pin",
            Self::Event => "event",
            Self::Alarm => "alarm",
            Self::PassUsed => "pass_used",
            Self::BookingDone => "booking_done",
            Self::Status => "status",
            Self::Command => "command",
            Self::Lockout => "lockout",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// A face enrolled at the door: the consent the resident gave there and the protected
/// template computed there (with its row MAC under the site key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoorEnrolment {
    pub resident: i64,
    pub consent: ConsentOffer,
    pub template: TemplateEntry,
}

/// A consent given at the door.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentOffer {
    pub granted_at: i64,
    pub text_version: String,
    pub text_sha256: String,
    pub operator: String,
    pub guardian: Option<String>,
}

/// The resident deleted their face data at the door: these consents are withdrawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoorDeletion {
    pub resident: i64,
    pub consents: Vec<WithdrawnConsent>,
    pub at: i64,
}

/// A consent withdrawn at a door: its id, and when it was granted (a consent given at the
/// door has the door's id until the site publishes it under its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawnConsent {
    pub id: i64,
    pub granted_at: i64,
}

/// A PIN set at the door.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoorPinChange {
    pub resident: i64,
    pub pin: PinEntry,
    /// The keyed index of the reset code it was set with: the site ends that code.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::record::hex_opt")]
    pub reset_code: Option<Vec<u8>>,
}

/// An access event or alarm: the door's audit row (pseudonymous: `resident#<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoorEvent {
    pub at: i64,
    pub kind: String,
    pub subject: String,
    pub detail: String,
}

/// A resident's PIN lockout at the door: never the PIN or what was typed. `locked_until`
/// `None` means it ended (a correct PIN, or a lift); one that runs out needs no report, the site
/// shows it only until `locked_until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorLockout {
    pub resident: i64,
    pub failures: u32,
    /// The door's clock (unix seconds).
    pub locked_until: Option<i64>,
    pub at: i64,
}

/// A door's state, sent every few seconds while connected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DoorState {
    pub at: i64,
    pub replica_revision: u64,
    pub outbox_depth: u64,
    pub last_contact: Option<i64>,
    /// The door's alarms now (the gate keeps them in the door's database).
    #[serde(default)]
    pub alarms: DoorAlarms,
    /// The last `facegate selftest` on the door: when, and whether every part passed.
    #[serde(default)]
    pub selftest: Option<Selftest>,
    /// The door resyncs from a bucket made anew: its revision counts in the new bucket, but it
    /// is not caught up ([`crate::store::replica::resync`]).
    #[serde(default)]
    pub resyncing: bool,
    /// The keypad's own back-off (against guesses of numbers and PINs, no resident's lockout):
    /// locked until then, by the door's clock.
    #[serde(default)]
    pub keypad_locked_until: Option<i64>,
}

/// The alarms a door has now: each set when the door raised it, cleared when it ended (the
/// door closed, the fire input cleared).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorAlarms {
    pub held_open: bool,
    pub forced_open: bool,
    pub fire: bool,
}

impl DoorAlarms {
    /// The alarms' names (`held open`, `forced`, `fire`), the empty list when none.
    pub fn names(self) -> Vec<&'static str> {
        [(self.held_open, "held open"), (self.forced_open, "forced"), (self.fire, "fire")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect()
    }
}

/// A selftest's time and result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selftest {
    pub at: i64,
    pub ok: bool,
}

/// One queued outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: OutboxKind,
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_and_unknown_kinds_are_refused() {
        for kind in OutboxKind::ALL {
            assert_eq!(OutboxKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(OutboxKind::parse("enrol.x"), None);
    }
}
