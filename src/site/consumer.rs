//! The site's consumer of what doors send: a durable pull consumer on the stream. The subject a
//! message arrives on names its door, and the broker lets each door's user publish only under its
//! own: that is the site's proof of origin. A message from a door not in `site.db` (removed, or
//! never added) is dropped, and audited in the register unless it is a status report. Each
//! message is checked against `site.db` (kept already: acknowledged and dropped), applied to the
//! register (enrolments after checking the consent and the template's binding, deletions, PIN
//! changes and the reset codes they used, visitor-pass uses, bookings done, command reports;
//! residents' lockouts go to `site.db` instead, [`super::lockouts`]; each applied under the door
//! id of its subject, not of its body), events, alarms and command reports added to the
//! register's audit log ([`super::door_log`]), kept in `site.db` once per
//! (door, outbox row id), then acknowledged. A crash anywhere in between redelivers the message
//! and changes nothing twice.

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;

use super::outbox::{DoorDeletion, DoorEnrolment, DoorEvent, DoorPinChange, DoorState, OutboxKind};
use super::site_db::{DoorMessage, SiteDb};
use super::{DoorId, SiteError, SiteId};
use crate::store::{AuditKind, BookingDone, Chain, PassUse, Store, StoreError};

/// The durable consumer's name.
const DURABLE: &str = "site";

/// Consumes door messages until the stream ends or the broker fails; every message is handled
/// before it is acknowledged.
pub async fn consume(
    js: &jetstream::Context,
    site: &SiteId,
    register: &mut Store,
    site_db: &mut SiteDb,
    minor_age: i32,
) -> Result<(), SiteError> {
    let stream = super::connect::create_stream(js, site).await?;
    let config = consumer::pull::Config {
        durable_name: Some(DURABLE.into()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: std::time::Duration::from_secs(30),
        max_ack_pending: 1_000,
        ..consumer::pull::Config::default()
    };
    let consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(DURABLE, config)
        .await
        .map_err(SiteError::broker("create the site's consumer"))?;
    let mut messages = consumer
        .stream()
        .heartbeat(std::time::Duration::from_secs(2))
        .expires(std::time::Duration::from_secs(10))
        .messages()
        .await
        .map_err(SiteError::broker("read the door stream"))?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(SiteError::broker("read the door stream"))?;
        let now = crate::store::unix_now();
        handle(site, register, site_db, &message, minor_age, now)?;
        message.ack().await.map_err(SiteError::broker("acknowledge"))?;
    }
    Ok(())
}

/// Handles one message. An unreadable message is logged and dropped (it would fail the same
/// way every time).
fn handle(
    site: &SiteId,
    register: &mut Store,
    site_db: &mut SiteDb,
    message: &async_nats::Message,
    minor_age: i32,
    now: i64,
) -> Result<(), SiteError> {
    let Some((door, kind)) = parse_subject(site, &message.subject) else {
        tracing::warn!(subject = %message.subject, "dropped a message on an unknown subject");
        return Ok(());
    };
    if !site_db.has_door(&door)? {
        tracing::warn!(%door, kind = kind.as_str(), "dropped a message of a door not on this site");
        if kind != OutboxKind::Status {
            let detail =
                format!("{} message dropped: door {door} is not on this site", kind.as_str());
            register.audit(
                Chain::Admin,
                now,
                AuditKind::RowRejected,
                &format!("door {door}"),
                &detail,
            )?;
        }
        return Ok(());
    }
    let body = std::str::from_utf8(&message.payload).unwrap_or("");
    if kind == OutboxKind::Status {
        match serde_json::from_str::<DoorState>(body) {
            Ok(state) => site_db.door_seen(&door, &state, now)?,
            Err(err) => tracing::warn!(%door, %err, "dropped an unreadable status"),
        }
        return Ok(());
    }
    let id = message
        .headers
        .as_ref()
        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
        .and_then(|id| id.as_str().strip_prefix(&format!("{door}-"))?.parse::<i64>().ok());
    let Some(outbox_id) = id else {
        tracing::warn!(%door, kind = kind.as_str(), "dropped a door message without its message id");
        return Ok(());
    };
    if site_db.has_message(&door, outbox_id)? {
        return Ok(());
    }
    let applied = match kind {
        OutboxKind::Command => super::commands::apply_report(register, site_db, &door, body),
        OutboxKind::Lockout => super::lockouts::apply(site_db, &door, body),
        _ => apply(register, &door, kind, body, minor_age, now),
    };
    let detail = match applied {
        Ok(detail) => detail,
        Err(SiteError::Store(StoreError::Query(err))) => return Err(StoreError::Query(err).into()),
        Err(err) => format!("refused: {err}"),
    };
    if detail.starts_with("refused") {
        tracing::warn!(%door, outbox_id, "{detail}");
        if kind == OutboxKind::Enrol {
            undo_at_door(register, site_db, &door, body, &detail, now)?;
        }
    }
    let at = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("at").and_then(|at| at.as_i64()))
        .map_or(now, |at| at.min(now));
    let tap = kind == OutboxKind::Command && super::card_tap::answers_tap(site_db, body)?;
    let message = DoorMessage { door, outbox_id, kind, at, detail };
    if !message.detail.starts_with("refused") && !tap {
        super::door_log::audit(register, site_db, &message, body)?;
    }
    site_db.keep_message(&message, now)?;
    Ok(())
}

/// A refused enrolment still stands at the door that made it: the resident's record is put
/// again (its digest forgotten, and the register moved by the audit row of the refusal), so the
/// door's replica drops the template.
fn undo_at_door(
    register: &mut Store,
    site_db: &mut SiteDb,
    door: &DoorId,
    body: &str,
    detail: &str,
    now: i64,
) -> Result<(), SiteError> {
    let Ok(enrolment) = serde_json::from_str::<DoorEnrolment>(body) else { return Ok(()) };
    site_db.forget_published(&format!("r.{}", enrolment.resident))?;
    let subject = format!("resident#{}", enrolment.resident);
    register.audit(
        Chain::Admin,
        now,
        AuditKind::RowRejected,
        &subject,
        &format!("door {door}: {detail}"),
    )?;
    Ok(())
}

/// Applies one door message to the register; returns what the site keeps of it (the
/// publisher notices the change through the register's `data_version`).
fn apply(
    register: &mut Store,
    door: &DoorId,
    kind: OutboxKind,
    body: &str,
    minor_age: i32,
    now: i64,
) -> Result<String, SiteError> {
    let bad =
        |e: serde_json::Error| SiteError::Invalid(format!("unreadable {}: {e}", kind.as_str()));
    Ok(match kind {
        OutboxKind::Enrol => {
            let enrolment: DoorEnrolment = serde_json::from_str(body).map_err(bad)?;
            match register.accept_door_enrolment(&enrolment, door, minor_age, now)? {
                Some(id) => format!("resident#{} template {id} enrolled", enrolment.resident),
                None => format!("resident#{} enrolment already on record", enrolment.resident),
            }
        }
        OutboxKind::Delete => {
            let deletion: DoorDeletion = serde_json::from_str(body).map_err(bad)?;
            let deleted = register.accept_door_deletion(&deletion, door, now)?;
            format!("resident#{} face data deleted ({deleted} templates)", deletion.resident)
        }
        OutboxKind::Pin => {
            let change: DoorPinChange = serde_json::from_str(body).map_err(bad)?;
            let applied = register.accept_door_pin(&change, door, now)?;
            let note = if applied { "" } else { " (already on record)" };
            let reset = match &change.reset_code {
                Some(code) if register.end_pin_reset(change.resident, code)? => {
                    ", reset code ended"
                }
                Some(_) => ", reset code already ended",
                None => "",
            };
            format!("resident#{} PIN changed{note}{reset}", change.resident)
        }
        OutboxKind::PassUsed => {
            let used: PassUse = serde_json::from_str(body).map_err(bad)?;
            // A door's clock is never later than the site's (a future row would hold back the
            // access log's pruning).
            let used = PassUse { door: Some(door.clone()), at: used.at.min(now), ..used };
            match register.record_pass_use(&used)? {
                Some(left) => format!("visitor-pass#{} used, {left} left", used.pass),
                None => format!("visitor-pass#{} used, already gone", used.pass),
            }
        }
        OutboxKind::BookingDone => {
            let done: BookingDone = serde_json::from_str(body).map_err(bad)?;
            let at = done.at.min(now);
            register.complete_booking(&BookingDone { door: Some(door.clone()), at, ..done })?;
            format!("booking {} done", done.booking)
        }
        OutboxKind::Event | OutboxKind::Alarm => {
            let event: DoorEvent = serde_json::from_str(body).map_err(bad)?;
            if let Some(resident) = face_grant(&event) {
                register.touch_resident_templates(resident, event.at.min(now))?;
            }
            format!("{} {} {}", event.kind, event.subject, event.detail).trim_end().to_owned()
        }
        OutboxKind::Status | OutboxKind::Command | OutboxKind::Lockout => {
            String::from(kind.as_str())
        }
    })
}

/// The resident a door let in by face: the register's retention of their templates counts from
/// this use (faces are matched at the doors, so the register sees no other).
fn face_grant(event: &DoorEvent) -> Option<i64> {
    let face = event.kind == "access_granted" && event.detail == "face";
    face.then(|| event.subject.strip_prefix("resident#")?.parse().ok()).flatten()
}

/// `site.<site>.door.<door>.<kind>` → door and kind.
fn parse_subject(site: &SiteId, subject: &str) -> Option<(DoorId, OutboxKind)> {
    let rest = subject.strip_prefix(&format!("site.{site}.door."))?;
    let (door, kind) = rest.split_once('.')?;
    Some((door.parse().ok()?, OutboxKind::parse(kind)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KEY_LEN, SiteKey};
    use crate::store::NewResident;

    /// A register with resident 1201, enrolled at `enrolled`.
    fn register_with_face(enrolled: i64) -> Store {
        let mut register = Store::in_memory(&SiteKey::from_bytes([3; KEY_LEN])).unwrap();
        let new = NewResident {
            number: "1201".into(),
            name: "Li".into(),
            unit: "1".into(),
            ..NewResident::default()
        };
        register.add_resident(&new, enrolled, "office").unwrap();
        let face = crate::vision::fake::FakeEngine::embedding(1);
        let consent = crate::store::ConsentConfig {
            controller: "Office".into(),
            contact: "Room 1".into(),
            ..Default::default()
        };
        let terms = crate::store::consent::NoticeTerms { consent, ..Default::default() };
        let grant =
            crate::store::ConsentGrant::read(crate::language::Language::En, &terms, "office", None)
                .unwrap();
        register.enrol("1201", &face, Some(&grant), 14, enrolled).unwrap();
        register
    }

    #[test]
    fn a_face_entry_at_a_door_keeps_the_residents_templates_from_the_registers_purge() {
        let (enrolled, year) = (1_700_000_000, 365 * 86_400);
        let mut register = register_with_face(enrolled);
        let door: DoorId = "north".parse().unwrap();
        let entry = |kind: &str, detail: &str, at: i64| {
            let event = DoorEvent {
                at,
                kind: kind.into(),
                subject: "resident#1".into(),
                detail: detail.into(),
            };
            serde_json::to_string(&event).unwrap()
        };
        let used = |register: &Store| register.templates_of("1201").unwrap()[0].last_used_at;
        let later = enrolled + year - 10;
        apply(
            &mut register,
            &door,
            OutboxKind::Event,
            &entry("access_granted", "card", later),
            14,
            later,
        )
        .unwrap();
        assert_eq!(used(&register), None, "a card entry is no use of the face");
        apply(
            &mut register,
            &door,
            OutboxKind::Event,
            &entry("access_granted", "face", later),
            14,
            later,
        )
        .unwrap();
        assert_eq!(used(&register), Some(later));
        let after_a_year = enrolled + year + 86_400;
        register.purge(&Default::default(), after_a_year).unwrap();
        assert_eq!(register.templates_of("1201").unwrap().len(), 1, "used at a door: kept");
        let mut unused = register_with_face(enrolled);
        unused.purge(&Default::default(), after_a_year).unwrap();
        assert!(unused.templates_of("1201").unwrap().is_empty(), "unused for a year: purged");
    }

    #[test]
    fn subjects_name_one_door_and_one_kind_of_this_site() {
        let site: SiteId = "oak".parse().unwrap();
        let (door, kind) = parse_subject(&site, "site.oak.door.north.pin").unwrap();
        assert_eq!((door.as_str(), kind), ("north", OutboxKind::Pin));
        for other in ["site.elm.door.north.pin", "site.oak.door.north.x", "site.oak.door.North.pin"]
        {
            assert_eq!(parse_subject(&site, other), None, "{other}");
        }
    }
}
