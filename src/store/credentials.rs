//! PIN hashes, admin PINs, card indexes and lockout records, and the credential keys they are
//! made with: the current root's, and after `admin rotate-key --credentials` the previous
//! root's, until each PIN or card has moved to the new root on its next use or re-issue.

use std::cell::OnceCell;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::audit::{AuditKind, Chain, append};
use super::row_mac::Row;
use super::{Result, Store, StoreError};
use crate::credentials::pin::ADMIN_PIN_MIN_DIGITS;
use crate::credentials::{
    CardIndex, CardUid, Code, CodeIndex, Pin, PinConfig, PinError, PinHasher,
};
use crate::keys::{Key, Purpose, SiteKey};
use crate::site::record::PinEntry;

/// A card on record (never its UID).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCard {
    pub id: i64,
    pub resident_id: i64,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// How many PINs and active cards there are, and how many are still on the previous
/// credential root (`admin rotate-key --credentials`, `admin calibrate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CredentialRootStatus {
    pub pins: i64,
    pub pins_on_previous_root: i64,
    pub cards: i64,
    pub cards_on_previous_root: i64,
}

/// A stored PIN: the resident id, the PHC string, the credential root it was made under.
type StoredPin = (i64, String, Option<Vec<u8>>);
/// A stored row MAC (none on a row that was never sealed).
type Mac = Option<Vec<u8>>;

/// The keys of one credential root.
struct RootKeys {
    /// Stored beside each PIN hash and card index made under this root.
    id: Vec<u8>,
    pepper: Key,
    card_key: Key,
    code_key: Key,
    /// Built on first use, with that call's argon2 parameters (a store serves one site's
    /// `[pin]` rules). The only place a hasher is made.
    hasher: OnceCell<PinHasher>,
}

impl RootKeys {
    fn new(id: Key, pepper: Key, card_key: Key, code_key: Key) -> Self {
        Self { id: id.0[..8].to_vec(), pepper, card_key, code_key, hasher: OnceCell::new() }
    }

    fn hasher(&self, rules: &PinConfig) -> Result<&PinHasher> {
        if let Some(hasher) = self.hasher.get() {
            return Ok(hasher);
        }
        let hasher = PinHasher::new(rules, self.pepper.clone())?;
        Ok(self.hasher.get_or_init(|| hasher))
    }
}

/// The credential keys a store works with.
pub(crate) struct CredentialKeys {
    current: RootKeys,
    previous: Option<RootKeys>,
}

impl CredentialKeys {
    pub(crate) fn new(key: &SiteKey) -> Self {
        let current = RootKeys::new(
            key.derive(Purpose::CredentialRootId),
            key.derive(Purpose::PinPepper),
            key.derive(Purpose::CardIndex),
            key.derive(Purpose::CodeIndex),
        );
        let previous = match (
            key.derive_previous(Purpose::CredentialRootId),
            key.derive_previous(Purpose::PinPepper),
            key.derive_previous(Purpose::CardIndex),
            key.derive_previous(Purpose::CodeIndex),
        ) {
            (Some(id), Some(pepper), Some(card_key), Some(code_key)) => {
                Some(RootKeys::new(id, pepper, card_key, code_key))
            }
            _ => None,
        };
        Self { current, previous }
    }

    /// A code's index under the current root, then under the previous root if there is one
    /// (a code issued before a credential rotation is found by its old index).
    pub(super) fn code_indexes(&self, code: &Code) -> Vec<CodeIndex> {
        [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .map(|root| CodeIndex::of(&root.code_key, code))
            .collect()
    }

    /// The current root's id, as stored beside its rows and in `site_key`.
    pub(crate) fn current_id(&self) -> &[u8] {
        &self.current.id
    }

    /// The previous root's keys, when a stored row says it was made under them.
    fn previous_for(&self, root: Option<&[u8]>) -> Option<&RootKeys> {
        self.previous.as_ref().filter(|p| root == Some(p.id.as_slice()))
    }
}

impl Store {
    /// Sets or replaces a resident's PIN, hashed under `rules` (argon2id, the site's pepper);
    /// the weakest PINs are refused ([`Pin::refuse_weak`]).
    pub fn set_pin(
        &mut self,
        number: &str,
        pin: &Pin,
        rules: &PinConfig,
        now: i64,
        operator: &str,
    ) -> Result<()> {
        self.set_pin_and(number, pin, rules, now, operator, |_, _| Ok(None))
    }

    /// [`Store::set_pin`], with `and` run in the same transaction (given the resident's id); it
    /// returns the keyed index of the reset code it used up, if any, for the door's report.
    pub(super) fn set_pin_and(
        &mut self,
        number: &str,
        pin: &Pin,
        rules: &PinConfig,
        now: i64,
        operator: &str,
        and: impl FnOnce(&rusqlite::Transaction, i64) -> Result<Option<Vec<u8>>>,
    ) -> Result<()> {
        let resident = self.resident(number)?;
        pin.refuse_weak(&resident.number, resident.birth_year)?;
        let phc = self.credentials.current.hasher(rules)?.hash(pin)?;
        let root = self.credentials.current.id.clone();
        let mac = Row::Pin { resident: resident.id, phc: &phc }.mac(&self.row_key);
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO pins (resident_id, phc, updated_at, credential_root, mac) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(resident_id) DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at,
                 credential_root = excluded.credential_root, mac = excluded.mac",
                params![resident.id, phc, now, root, mac],
            )?;
            let entry = PinEntry {
                phc: phc.clone(),
                updated_at: now,
                credential_root: Some(root.clone()),
                mac: Some(mac.clone()),
            };
            let reset_code = and(tx, resident.id)?;
            super::replica::note_pin(tx, resident.id, entry, reset_code)?;
            append(tx, &key, Chain::Admin, now, AuditKind::PinSet, &resident.subject(), &format!("by {operator}"))
        })
    }

    /// Sets or replaces an admin's admin-mode PIN: at least [`ADMIN_PIN_MIN_DIGITS`] digits, not
    /// weak, and not the admin's door PIN (so a PIN seen at the door does not open admin mode).
    pub fn set_admin_pin(
        &mut self,
        number: &str,
        pin: &Pin,
        rules: &PinConfig,
        now: i64,
        operator: &str,
    ) -> Result<()> {
        let resident = self.resident(number)?;
        if pin.digits() < ADMIN_PIN_MIN_DIGITS {
            return Err(PinError::AdminTooShort(ADMIN_PIN_MIN_DIGITS).into());
        }
        pin.refuse_weak(&resident.number, resident.birth_year)?;
        if self.verify_pin(number, pin, rules)?.is_some() {
            return Err(PinError::SameAsDoorPin.into());
        }
        let phc = self.credentials.current.hasher(rules)?.hash(pin)?;
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO admin_pins (resident_id, phc, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(resident_id) DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at",
                params![resident.id, phc, now],
            )?;
            append(tx, &key, Chain::Admin, now, AuditKind::PinSet, &resident.subject(), &format!("admin PIN by {operator}"))
        })
    }

    /// Whether `pin` is this resident's admin PIN; one argon2 verification either way.
    pub(crate) fn verify_admin_pin(
        &self,
        resident_id: i64,
        pin: &Pin,
        rules: &PinConfig,
    ) -> Result<bool> {
        let stored: Option<String> = self
            .conn
            .query_row("SELECT phc FROM admin_pins WHERE resident_id = ?1", [resident_id], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(self.credentials.current.hasher(rules)?.verify(stored.as_deref(), pin))
    }

    /// The resident whose number and PIN these are, if any. Exactly one argon2 verification
    /// runs, known number or not (an unknown one is checked against a dummy hash). A right PIN
    /// whose hash has old argon2 parameters or the previous credential root is rehashed with
    /// the current ones.
    pub(crate) fn verify_pin(
        &self,
        number: &str,
        pin: &Pin,
        rules: &PinConfig,
    ) -> Result<Option<i64>> {
        let stored = self.pin_hash(number)?;
        let keys = &self.credentials;
        let root = stored.as_ref().and_then(|s| keys.previous_for(s.2.as_deref()));
        let hasher = root.unwrap_or(&keys.current).hasher(rules)?;
        let matched = hasher.verify(stored.as_ref().map(|s| s.1.as_str()), pin);
        let Some((id, phc, _)) = stored.filter(|_| matched) else { return Ok(None) };
        let current = keys.current.hasher(rules)?;
        if root.is_some() || !current.is_current(&phc) {
            let fresh = current.hash(pin)?;
            let mac = Row::Pin { resident: id, phc: &fresh }.mac(&self.row_key);
            self.conn.execute(
                "UPDATE pins SET phc = ?1, credential_root = ?2, mac = ?3 WHERE resident_id = ?4",
                params![fresh, keys.current.id, mac, id],
            )?;
        }
        Ok(Some(id))
    }

    /// How many PIN verifications this store has run (each costs one argon2 hash).
    pub fn pin_verifications(&self) -> u64 {
        let keys = &self.credentials;
        [Some(&keys.current), keys.previous.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|k| k.hasher.get())
            .map(PinHasher::verifications)
            .sum()
    }

    /// The resident id, PIN hash and credential root for a typed resident number, if both exist
    /// and the hash is bound to that resident (a hash that fails its row MAC is rejected and
    /// treated as none).
    pub(super) fn pin_hash(&self, number: &str) -> Result<Option<StoredPin>> {
        let row: Option<(i64, String, Option<Vec<u8>>, Mac)> = self
            .conn
            .query_row(
                "SELECT r.id, p.phc, p.credential_root, p.mac FROM residents r JOIN pins p ON p.resident_id = r.id WHERE r.number = ?1",
                [number],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((resident, phc, root, mac)) = row else { return Ok(None) };
        let bound = self.row_ok(&Row::Pin { resident, phc: &phc }, resident, mac.as_deref())?;
        Ok(bound.then_some((resident, phc, root)))
    }

    /// How many PINs and cards are still on the previous credential root.
    pub fn credential_root_status(&self) -> Result<CredentialRootStatus> {
        let previous = self.credentials.previous.as_ref().map(|p| p.id.clone());
        let tally = |table: &str, filter: &str| -> Result<(i64, i64)> {
            let sql = format!(
                "SELECT COUNT(*), COALESCE(SUM(credential_root IS ?1), 0) FROM {table} {filter}"
            );
            let (all, old): (i64, i64) =
                self.conn.query_row(&sql, [&previous], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok((all, if previous.is_some() { old } else { 0 }))
        };
        let (pins, pins_on_previous_root) = tally("pins", "")?;
        let (cards, cards_on_previous_root) = tally("cards", "WHERE revoked_at IS NULL")?;
        Ok(CredentialRootStatus { pins, pins_on_previous_root, cards, cards_on_previous_root })
    }

    /// Switches to `new_key`'s credential root (its previous root must be this store's current
    /// one). PINs and cards move to it lazily; refused while some are still on the previous
    /// root, which would then stop working.
    pub fn rotate_credential_root(&mut self, new_key: &SiteKey, now: i64) -> Result<()> {
        let status = self.credential_root_status()?;
        if status.pins_on_previous_root + status.cards_on_previous_root > 0 {
            return Err(StoreError::CredentialRotationPending(status));
        }
        let next = CredentialKeys::new(new_key);
        if next.previous.as_ref().map(|p| &p.id) != Some(&self.credentials.current.id) {
            return Err(StoreError::CredentialRootMismatch);
        }
        let (root, key) = (self.credentials.current.id.clone(), self.audit_key().clone());
        self.transaction(|tx| {
            super::key_state::record_credential_root(tx, next.current_id())?;
            tx.execute(
                "UPDATE pins SET credential_root = ?1 WHERE credential_root IS NULL",
                [&root],
            )?;
            tx.execute(
                "UPDATE cards SET credential_root = ?1 WHERE credential_root IS NULL",
                [&root],
            )?;
            append(
                tx,
                &key,
                Chain::Admin,
                now,
                AuditKind::KeyRotated,
                "credentials",
                &format!("{} PINs and {} cards move on next use", status.pins, status.cards),
            )
        })?;
        self.credentials = next;
        Ok(())
    }

    /// Registers a card for a resident (only its keyed index is stored).
    pub fn add_card(
        &mut self,
        number: &str,
        uid: &CardUid,
        label: &str,
        now: i64,
        operator: &str,
    ) -> Result<i64> {
        let keys = &self.credentials;
        let index = CardIndex::of(&keys.current.card_key, uid);
        let old_index = keys.previous.as_ref().map(|p| CardIndex::of(&p.card_key, uid));
        self.insert_card(number, index, old_index.unwrap_or(index), label, now, operator)
    }

    /// Registers a card by its keyed index under the current credential root, as a door of
    /// this site computed it from a tap ([`crate::site::card_tap`]).
    pub fn add_card_by_index(
        &mut self,
        number: &str,
        index: CardIndex,
        label: &str,
        now: i64,
        operator: &str,
    ) -> Result<i64> {
        self.insert_card(number, index, index, label, now, operator)
    }

    /// The active card with this keyed index, if any: (card id, resident id, label, added at);
    /// a tap's report applied again after a crash finds the card it added.
    pub fn card_with_index(&self, index: &CardIndex) -> Result<Option<(i64, i64, String, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, resident_id, label, created_at FROM cards WHERE card_index = ?1 AND revoked_at IS NULL",
                [&index.0[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
    }

    /// A card's keyed index under the current credential root (what a door reports of a tap).
    pub fn card_index(&self, uid: &CardUid) -> CardIndex {
        CardIndex::of(&self.credentials.current.card_key, uid)
    }

    fn insert_card(
        &mut self,
        number: &str,
        index: CardIndex,
        old_index: CardIndex,
        label: &str,
        now: i64,
        operator: &str,
    ) -> Result<i64> {
        let resident = self.resident(number)?;
        let root = self.credentials.current.id.clone();
        let mac = Row::Card { resident: resident.id, index: &index.0 }.mac(&self.row_key);
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let taken: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM cards WHERE card_index IN (?1, ?2))",
                [&index.0[..], &old_index.0[..]],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StoreError::CardTaken);
            }
            tx.execute(
                "INSERT INTO cards (resident_id, card_index, label, created_at, credential_root, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![resident.id, &index.0[..], label, now, root, mac],
            )?;
            let id = tx.last_insert_rowid();
            append(tx, &key, Chain::Admin, now, AuditKind::CardAdded, &resident.subject(), &format!("card {id} by {operator}"))?;
            Ok(id)
        })
    }

    /// Marks a card lost: it no longer opens anything.
    pub fn revoke_card(&mut self, id: i64, now: i64, operator: &str) -> Result<()> {
        let key = self.audit_key().clone();
        self.transaction(|tx| {
            let resident: i64 = tx
                .query_row(
                    "SELECT resident_id FROM cards WHERE id = ?1 AND revoked_at IS NULL",
                    [id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(StoreError::UnknownCard(id))?;
            tx.execute("UPDATE cards SET revoked_at = ?1 WHERE id = ?2", params![now, id])?;
            append(
                tx,
                &key,
                Chain::Admin,
                now,
                AuditKind::CardRevoked,
                &format!("resident#{resident}"),
                &format!("card {id} by {operator}"),
            )
        })
    }

    /// The resident holding an active card with this UID, if the card row is bound to them (a
    /// row that fails its MAC is rejected and opens nothing). A card still on the previous
    /// credential root is found by its old index and moved to the current root.
    pub(crate) fn resident_for_card(&self, uid: &CardUid) -> Result<Option<i64>> {
        let keys = &self.credentials;
        let index = CardIndex::of(&keys.current.card_key, uid);
        let find = |index: &CardIndex| -> Result<Option<(i64, i64, Mac)>> {
            let row: Option<(i64, i64, Option<Vec<u8>>, Mac)> = self
                .conn
                .query_row(
                    "SELECT id, resident_id, credential_root, mac FROM cards WHERE card_index = ?1 AND revoked_at IS NULL",
                    [&index.0[..]],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((id, resident, root, mac)) = row else { return Ok(None) };
            let bound =
                self.row_ok(&Row::Card { resident, index: &index.0 }, id, mac.as_deref())?;
            Ok(bound.then_some((id, resident, root)))
        };
        if let Some((_, resident, _)) = find(&index)? {
            return Ok(Some(resident));
        }
        let Some(previous) = keys.previous.as_ref() else { return Ok(None) };
        let found = find(&CardIndex::of(&previous.card_key, uid))?;
        let Some((card, resident, _)) =
            found.filter(|f| keys.previous_for(f.2.as_deref()).is_some())
        else {
            return Ok(None);
        };
        let mac = Row::Card { resident, index: &index.0 }.mac(&self.row_key);
        self.conn.execute(
            "UPDATE cards SET card_index = ?1, credential_root = ?2, mac = ?3 WHERE id = ?4",
            params![&index.0[..], keys.current.id, mac, card],
        )?;
        Ok(Some(resident))
    }

    /// A resident's cards.
    pub(crate) fn cards_of(&self, number: &str) -> Result<Vec<StoredCard>> {
        let resident = self.resident(number)?;
        let mut stmt =
            self.conn.prepare("SELECT id, resident_id, label, created_at, revoked_at FROM cards WHERE resident_id = ?1 ORDER BY id")?;
        let cards = stmt
            .query_map([resident.id], |r| {
                Ok(StoredCard {
                    id: r.get(0)?,
                    resident_id: r.get(1)?,
                    label: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(cards)
    }
}
