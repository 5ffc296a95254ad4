//! Schema migrations: each entry moves the database one version up, inside one transaction.
//!
//! No column holds an image or a raw embedding: templates hold only salted vectors; PINs only
//! argon2id hashes; cards only keyed hashes of their UIDs. The personal columns
//! (`residents.name`, `unit`, `birth_year`; `consents.operator`, `guardian`) hold sealed BLOBs
//! (`register_fields`); values an older version wrote in the clear are sealed the first time the
//! database is opened with its key.

pub const MIGRATIONS: &[&str] = &[
    // 1: residents, consent, templates, credentials, audit log.
    "
    CREATE TABLE residents (
        id          INTEGER PRIMARY KEY,
        number      TEXT NOT NULL UNIQUE,     -- what the resident types on the keypad
        name        TEXT NOT NULL,
        unit        TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
        valid_from  INTEGER,                  -- unix seconds
        valid_until INTEGER,                  -- move-out: access ends, data purged after it
        birth_year  INTEGER,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE consents (
        id           INTEGER PRIMARY KEY,
        resident_id  INTEGER NOT NULL REFERENCES residents(id) ON DELETE CASCADE,
        granted_at   INTEGER NOT NULL,
        text_version TEXT NOT NULL,
        text_sha256  TEXT NOT NULL,
        operator     TEXT NOT NULL,
        guardian     TEXT,                    -- who consented for a minor
        withdrawn_at INTEGER
    );
    CREATE TABLE templates (
        id           INTEGER PRIMARY KEY,
        resident_id  INTEGER NOT NULL REFERENCES residents(id) ON DELETE CASCADE,
        consent_id   INTEGER NOT NULL REFERENCES consents(id) ON DELETE CASCADE,
        salt         BLOB NOT NULL,
        vector       BLOB NOT NULL,           -- the embedding under the salted transform
        model        TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER
    );
    CREATE INDEX templates_resident ON templates(resident_id);
    CREATE TABLE pins (
        resident_id INTEGER PRIMARY KEY REFERENCES residents(id) ON DELETE CASCADE,
        phc         TEXT NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE TABLE cards (
        id          INTEGER PRIMARY KEY,
        resident_id INTEGER NOT NULL REFERENCES residents(id) ON DELETE CASCADE,
        card_index  BLOB NOT NULL UNIQUE,    -- HMAC-SHA256(card key, UID)
        label       TEXT NOT NULL DEFAULT '',
        created_at  INTEGER NOT NULL,
        revoked_at  INTEGER
    );
    CREATE TABLE lockouts (
        key          TEXT PRIMARY KEY,        -- 'resident:<number>' or 'terminal'
        failures     INTEGER NOT NULL,
        locked_until INTEGER
    );
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY,
        chain   TEXT NOT NULL CHECK (chain IN ('access', 'admin')),
        at      INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        subject TEXT NOT NULL,               -- pseudonymous: 'resident#<id>', never a name
        detail  TEXT NOT NULL,
        mac     BLOB NOT NULL
    );
    CREATE INDEX audit_chain ON audit(chain, id);
    CREATE TABLE audit_checkpoints (
        chain    TEXT PRIMARY KEY,
        last_id  INTEGER NOT NULL,           -- the last pruned row
        last_mac BLOB NOT NULL,
        at       INTEGER NOT NULL
    );
    ",
    // 2: the keypad lockout needs the time of the last failure.
    "ALTER TABLE lockouts ADD COLUMN last_failure_at INTEGER;",
    // 3: a resident can require card + PIN for their cards (against cloned cards).
    "ALTER TABLE residents ADD COLUMN require_card_pin INTEGER NOT NULL DEFAULT 0;",
    // 4: admin-mode PINs, separate from the door PINs; the credential root each PIN hash and
    // card index was made under (NULL: the root in use before the first credential rotation).
    "CREATE TABLE admin_pins (
        resident_id INTEGER PRIMARY KEY REFERENCES residents(id) ON DELETE CASCADE,
        phc         TEXT NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    ALTER TABLE pins ADD COLUMN credential_root BLOB;
    ALTER TABLE cards ADD COLUMN credential_root BLOB;",
    // 5: row MACs bind templates, PIN hashes and cards to their resident (existing rows are
    // MACed by `row_mac::seal_existing` in the same transaction); audit checkpoints carry a
    // MAC; the audit head records the last id and both chains' last MACs, under a MAC; the
    // site key's id lets a running gate notice a rotation by another process.
    "
    ALTER TABLE templates ADD COLUMN mac BLOB;
    ALTER TABLE pins ADD COLUMN mac BLOB;
    ALTER TABLE cards ADD COLUMN mac BLOB;
    ALTER TABLE audit_checkpoints ADD COLUMN mac BLOB;
    CREATE TABLE audit_head (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        last_id    INTEGER NOT NULL,
        access_mac BLOB NOT NULL,
        admin_mac  BLOB NOT NULL,
        mac        BLOB NOT NULL
    );
    CREATE TABLE site_key (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        key_id BLOB NOT NULL                 -- MAC of a fixed text under the audit key
    );
    ",
    // 6: resident ids are never reused (AUTOINCREMENT); run with foreign keys off (see
    // `migrate`), so the copy keeps every reference.
    "
    CREATE TABLE residents_next (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        number      TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        unit        TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
        valid_from  INTEGER,
        valid_until INTEGER,
        birth_year  INTEGER,
        created_at  INTEGER NOT NULL,
        require_card_pin INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO residents_next SELECT id, number, name, unit, status, valid_from, valid_until,
        birth_year, created_at, require_card_pin FROM residents;
    DROP TABLE residents;
    ALTER TABLE residents_next RENAME TO residents;
    ",
    // 7: the current credential root's id beside the site key's, so an interrupted credential
    // rotation is finished or undone exactly and a running gate follows one (`key_state`).
    "ALTER TABLE site_key ADD COLUMN credential_root BLOB;",
    // 8: site mode. On a door: which site and door this replica is, the last bucket revision
    // applied and the last contact with the broker; each bucket key's revision (a deleted key
    // keeps its revision, so no older record brings it back); consents withdrawn at this door
    // (their templates are never applied again); the outbox of what the door sends (ids never
    // reused: they are the message ids). On the site: which residents agreed to be greeted by
    // name at the doors.
    "
    CREATE TABLE replica_state (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        site         TEXT NOT NULL,
        door         TEXT NOT NULL,
        revision     INTEGER NOT NULL DEFAULT 0,
        last_contact INTEGER                  -- unix seconds: caught up with the site's bucket
    );
    CREATE TABLE replica_revisions (
        key      TEXT PRIMARY KEY,            -- 'r.<resident id>'
        revision INTEGER NOT NULL,
        deleted  INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE withdrawn_consents (
        consent_id  INTEGER PRIMARY KEY,
        resident_id INTEGER NOT NULL,
        granted_at  INTEGER NOT NULL,
        at          INTEGER NOT NULL
    );
    CREATE TABLE outbox (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,                   -- JSON, see `site::outbox`
        at   INTEGER NOT NULL
    );
    CREATE TABLE greetings (
        resident_id INTEGER PRIMARY KEY REFERENCES residents(id) ON DELETE CASCADE,
        agreed_at   INTEGER NOT NULL
    );
    ",
    // 9: visitor passes, PIN-reset codes and enrolment bookings. Codes are kept only as keyed
    // indexes (`credentials::code`); `doors` lists door ids separated by ',' ('' = a standalone
    // gate's own passes); a pass, a code or a booking past its time is deleted by the purge.
    "
    CREATE TABLE visitor_passes (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        code_index   BLOB NOT NULL UNIQUE,
        label        TEXT NOT NULL DEFAULT '',
        company      TEXT,                    -- a courier code's delivery company
        valid_from   INTEGER NOT NULL,
        valid_until  INTEGER NOT NULL,
        entries      INTEGER NOT NULL CHECK (entries > 0),
        entries_left INTEGER NOT NULL CHECK (entries_left >= 0),
        doors        TEXT NOT NULL DEFAULT '',
        created_at   INTEGER NOT NULL,
        revoked_at   INTEGER
    );
    CREATE TABLE pin_resets (
        resident_id INTEGER PRIMARY KEY REFERENCES residents(id) ON DELETE CASCADE,
        code_index  BLOB NOT NULL,
        expires_at  INTEGER NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE enrolment_bookings (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        resident_id INTEGER NOT NULL REFERENCES residents(id) ON DELETE CASCADE,
        door        TEXT,                     -- NULL: any door
        until       INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        done_at     INTEGER
    );
    CREATE INDEX enrolment_bookings_resident ON enrolment_bookings(resident_id);
    ",
    // 10: on a door, the commands its site sent (remote unlock): each id once; `done_at` and
    // `outcome` once the gate executed it ('opened') or found it expired ('expired'). And what
    // the door reports besides: its alarms now (the gate) and its last selftest (the CLI).
    "
    CREATE TABLE door_health (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        held_open   INTEGER NOT NULL DEFAULT 0,
        forced_open INTEGER NOT NULL DEFAULT 0,
        fire        INTEGER NOT NULL DEFAULT 0,
        selftest_at INTEGER,
        selftest_ok INTEGER
    );
    CREATE TABLE door_commands (
        id         TEXT PRIMARY KEY,
        kind       TEXT NOT NULL,
        issued_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        done_at    INTEGER,
        outcome    TEXT
    );
    ",
    // 11: when a resident last withdrew face recognition (at the office or at a door): a door's
    // enrolment under a consent given before it is refused (`site_intake`).
    "ALTER TABLE residents ADD COLUMN faces_withdrawn_at INTEGER;",
    // 12: on the site's register, the door messages already in its audit log, written in the
    // same transaction as their audit row (`door_audit`), so a message redelivered after a crash
    // before `site.db` kept it is not audited twice.
    "
    CREATE TABLE door_receipts (
        door      TEXT NOT NULL,
        outbox_id INTEGER NOT NULL,
        PRIMARY KEY (door, outbox_id)
    ) WITHOUT ROWID;
    ",
    // 13: on a door, which bucket its revisions count in (the creation time of the bucket's
    // stream, in nanoseconds) and whether it is resyncing from a bucket made anew (1, or 2 once
    // the site's mark that it put every entry arrived): see `replica::resync`.
    "
    ALTER TABLE replica_state ADD COLUMN bucket INTEGER;
    ALTER TABLE replica_state ADD COLUMN resyncing INTEGER NOT NULL DEFAULT 0;
    ",
    // 14: a door command's resident number, for a card
    // enrolled by a tap (`door_commands`).
    "ALTER TABLE door_commands ADD COLUMN resident TEXT;",
    // 15: each resident's search filter: keyed hashes of the characters of their name and unit
    // (`search_index`); NULL until the store, opened with its key, fills it in.
    "ALTER TABLE residents ADD COLUMN search BLOB;",
];

/// The version whose migration brings row MACs and the audit head: reaching it seals the rows
/// already there.
pub const ROW_MACS_VERSION: i64 = 5;

/// The version that records the current credential root (`key_state`).
pub const CREDENTIAL_ROOT_VERSION: i64 = 7;

/// The schema objects (type, name, SQL) the migrations make, as `sqlite_master` lists them.
pub fn expected() -> rusqlite::Result<Vec<(String, String, Option<String>)>> {
    let conn = rusqlite::Connection::open_in_memory()?;
    for sql in MIGRATIONS {
        conn.execute_batch(sql)?;
    }
    objects(&conn)
}

/// The schema objects of a database, by type and name (without the statistics `ANALYZE` keeps).
pub fn objects(
    conn: &rusqlite::Connection,
) -> rusqlite::Result<Vec<(String, String, Option<String>)>> {
    conn.prepare(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY type, name",
    )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}

/// What is in the database but not made by the migrations (or made differently), named as
/// "trigger copy_pins"; empty when the schema is exactly the migrations'.
pub fn unexpected(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<String>> {
    let expected = expected()?;
    Ok(objects(conn)?
        .into_iter()
        .filter(|object| !expected.contains(object))
        .map(|(kind, name, _)| format!("{kind} {name}"))
        .collect())
}
