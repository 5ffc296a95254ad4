//! Enrolment bookings: a manager books a face enrolment for a resident, at one door or any,
//! until a time (`admin enrol book`, the console). At that door the resident starts it
//! themselves with their own PIN or card, reads the notice, consents, and the frames are
//! captured live there; the booking is then done. Without a booking, enrolment at a door needs
//! admin mode.
//!
//! In site mode the open bookings reach the doors as they are ([`Store::bookings`] → KV
//! `b.<id>` → [`write_booking`]; a done or past booking is a KV delete → [`remove_booking`]); a
//! completion travels back as a [`BookingDone`] (outbox kind `booking_done`, queued by
//! [`Store::complete_booking`] itself, beside the `enrol` row of the enrolment) that the register
//! applies with the same [`Store::complete_booking`].

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::audit::{AuditKind, Chain, append};
use super::refusal::Refusal;
use super::{Result, Store, StoreError};
use crate::site::ids::DoorId;
use crate::site::outbox::OutboxKind;

/// The furthest ahead a booking may run.
pub const MAX_BOOKING_DAYS: i64 = 7;

/// An enrolment booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub id: i64,
    pub resident_id: i64,
    /// The door it is booked at; `None`: any door.
    pub door: Option<DoorId>,
    pub until: i64,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

/// A booked enrolment completed at a door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingDone {
    pub booking: i64,
    pub door: Option<DoorId>,
    pub at: i64,
}

const COLUMNS: &str = "id, resident_id, door, until, created_at, done_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Booking> {
    Ok(Booking {
        id: r.get(0)?,
        resident_id: r.get(1)?,
        door: r.get::<_, Option<String>>(2)?.and_then(|d| d.parse().ok()),
        until: r.get(3)?,
        created_at: r.get(4)?,
        done_at: r.get(5)?,
    })
}

impl Store {
    /// Books an enrolment for a resident until `until`; returns the booking's id.
    pub fn book_enrolment(
        &mut self,
        number: &str,
        door: Option<&DoorId>,
        until: i64,
        now: i64,
        operator: &str,
    ) -> Result<i64> {
        let resident = self.resident(number)?;
        if until <= now || until - now > MAX_BOOKING_DAYS * 86_400 {
            return Err(Refusal::BookingWindow(MAX_BOOKING_DAYS).into());
        }
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO enrolment_bookings (resident_id, door, until, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![resident.id, door.map(DoorId::as_str), until, now],
            )?;
            let id = tx.last_insert_rowid();
            let at = door.map_or("any door", DoorId::as_str);
            let detail = format!("booking {id} at {at} until {until}, by {operator}");
            append(tx, &key, Chain::Admin, now, AuditKind::EnrolmentBooked, &resident.subject(), &detail)?;
            Ok(id)
        })
    }

    /// The open bookings (not done, not past), by id.
    pub fn bookings(&self, now: i64) -> Result<Vec<Booking>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM enrolment_bookings WHERE done_at IS NULL AND until > ?1 ORDER BY id"
        );
        let all = self
            .conn
            .prepare(&sql)?
            .query_map([now], from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(all)
    }

    /// A resident's open booking at `door` (one booked there or at any door), if any. A gate
    /// without a door id (`None`) takes only bookings for any door.
    pub fn booking_for(
        &self,
        resident_id: i64,
        door: Option<&DoorId>,
        now: i64,
    ) -> Result<Option<Booking>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM enrolment_bookings WHERE resident_id = ?1 AND done_at IS NULL
             AND until > ?2 AND (door IS NULL OR door = ?3) ORDER BY id LIMIT 1"
        );
        let door = door.map(DoorId::as_str);
        Ok(self.conn.query_row(&sql, params![resident_id, now, door], from_row).optional()?)
    }

    /// Marks a booking done and audits it (on the door that did the enrolment, and on the
    /// register with that door's report); a booking done already stays as it was, and one
    /// booked at another door is refused.
    pub fn complete_booking(&mut self, done: &BookingDone) -> Result<()> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let (resident, booked_at): (i64, Option<String>) = tx
                .query_row(
                    "SELECT resident_id, door FROM enrolment_bookings WHERE id = ?1",
                    [done.booking],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| StoreError::Invalid(format!("no booking {}", done.booking)))?;
            let reporter = done.door.as_ref().map(DoorId::as_str);
            if let (Some(booked), Some(reporter)) = (booked_at.as_deref(), reporter)
                && booked != reporter
            {
                return Err(StoreError::Invalid(format!(
                    "door {reporter} reported booking {} of door {booked}",
                    done.booking
                )));
            }
            let changed = tx.execute(
                "UPDATE enrolment_bookings SET done_at = ?1 WHERE id = ?2 AND done_at IS NULL",
                params![done.at, done.booking],
            )?;
            if changed == 0 {
                return Ok(()); // done already
            }
            let at = done.door.as_ref().map_or("this gate", DoorId::as_str);
            let detail = format!("booking {} at {at}", done.booking);
            let subject = format!("resident#{resident}");
            append(
                tx,
                &key,
                Chain::Admin,
                done.at,
                AuditKind::EnrolmentBookingDone,
                &subject,
                &detail,
            )?;
            super::replica::queue(tx, OutboxKind::BookingDone, done, done.at)
        })
    }
}

/// Stores or updates a booking from the site (on a door); a booking done here stays done. A
/// booking of a resident this door does not hold is skipped (the resident's record comes first
/// from the publisher, so this is a booking whose resident is gone).
pub(super) fn write_booking(conn: &Connection, booking: &Booking) -> Result<()> {
    conn.execute(
        "INSERT INTO enrolment_bookings (id, resident_id, door, until, created_at, done_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS(SELECT 1 FROM residents WHERE id = ?2)
         ON CONFLICT(id) DO UPDATE SET door = excluded.door, until = excluded.until,
         done_at = COALESCE(done_at, excluded.done_at)",
        params![
            booking.id,
            booking.resident_id,
            booking.door.as_ref().map(DoorId::as_str),
            booking.until,
            booking.created_at,
            booking.done_at
        ],
    )?;
    Ok(())
}

/// Removes a booking the site deleted (on a door).
pub(super) fn remove_booking(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM enrolment_bookings WHERE id = ?1", [id])?;
    Ok(())
}
