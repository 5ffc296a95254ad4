//! `console.db`: the console's accounts (argon2id password hashes), sessions and login
//! back-off, apart from the register so that a copy of the register holds no console secrets.

use std::path::{Path, PathBuf};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rusqlite::{Connection, OptionalExtension, params};
use zeroize::Zeroizing;

use super::roles::Role;

/// The shortest password an account accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password: URL-encoded (up to 12 bytes a character), it and the rest of the
/// sign-in form stay within [`super::guard::MAX_SIGN_IN_BODY`].
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Wrong passwords that cost nothing; each further one doubles the wait before the next try.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait between two tries, in seconds.
pub const MAX_WAIT_SECONDS: i64 = 900;

const SCHEMA: &str = "
    CREATE TABLE accounts (name TEXT PRIMARY KEY, role TEXT NOT NULL, phc TEXT NOT NULL,
        created_at INTEGER NOT NULL);
    CREATE TABLE sessions (token_hash BLOB PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        csrf TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);
    CREATE TABLE login_failures (key TEXT PRIMARY KEY, failures INTEGER NOT NULL,
        locked_until INTEGER NOT NULL);
    PRAGMA user_version = 1;
";

/// What can go wrong with console accounts.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("account names are 1 to 32 letters, digits, `.`, `_` or `-`, got {0:?}")]
    BadName(String),
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
    #[error("the password must have at most {MAX_PASSWORD_CHARS} characters")]
    LongPassword,
    #[error("account {0} exists")]
    Exists(String),
    #[error("there is no account {0}")]
    NoSuch(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("console database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("console database error: {0}")]
    Query(#[from] rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, AccountError>;

/// A signed-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub role: Role,
}

/// A sign-in between its steps ([`ConsoleDb::begin_sign_in`]).
pub enum Begun {
    /// In its back-off: try again in this many seconds.
    Wait(i64),
    /// Boxed: the argon2 instance is large beside a number of seconds.
    Check(Box<Attempt>),
}

/// What a password must match, checked without the database.
pub struct Attempt {
    name: String,
    /// The back-off keys of the account and the address.
    keys: [String; 2],
    phc: String,
    /// `None` for an unknown name.
    role: Option<String>,
    argon2: Argon2<'static>,
}

impl Attempt {
    /// Whether `password` matches (one argon2 verification).
    pub fn matches(&self, password: &str) -> bool {
        PasswordHash::new(&self.phc)
            .is_ok_and(|h| self.argon2.verify_password(password.as_bytes(), &h).is_ok())
    }
}

/// The outcome of a sign-in attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Ok(Account),
    /// Wrong name or password (the same answer for both).
    Refused,
    /// Too many wrong passwords for this account or address: try again in this many seconds.
    Wait(i64),
}

/// The open `console.db`.
pub struct ConsoleDb {
    pub(super) conn: Connection,
    params: Params,
    /// Verified when the account is unknown, so timing does not tell which names exist.
    dummy: String,
}

impl ConsoleDb {
    /// Opens (creating on first use) the console database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let open = |source| AccountError::Open { path: path.to_owned(), source };
        let conn = Connection::open(path).map_err(open)?;
        Self::ready(conn, Params::new(19_456, 2, 1, None).expect("OWASP argon2id parameters"))
    }

    /// An in-memory database with small argon2 parameters, for tests.
    pub fn in_memory() -> Result<Self> {
        Self::ready(Connection::open_in_memory()?, Params::new(256, 1, 1, None).expect("valid"))
    }

    fn ready(conn: Connection, params: Params) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            conn.execute_batch(SCHEMA)?;
        }
        let mut db = Self { conn, params, dummy: String::new() };
        db.dummy = db.hash(&Zeroizing::new(String::from("not a password of anyone")))?;
        Ok(db)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash(&self, password: &str) -> Result<String> {
        let hash = self
            .argon2()
            .hash_password(password.as_bytes())
            .map_err(|e| AccountError::Hash(e.to_string()))?;
        Ok(hash.to_string())
    }

    /// Adds an account.
    pub fn add_account(&self, name: &str, role: Role, password: &str, now: i64) -> Result<()> {
        check_name(name)?;
        check_password(password)?;
        if self.role_of(name)?.is_some() {
            return Err(AccountError::Exists(name.to_owned()));
        }
        let phc = self.hash(password)?;
        self.conn.execute(
            "INSERT INTO accounts (name, role, phc, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, role.as_str(), phc, now],
        )?;
        Ok(())
    }

    /// Gives account `name` a new password and ends its sessions (signed in elsewhere with the
    /// old one, they sign in again).
    pub fn set_password(&self, name: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let phc = self.hash(password)?;
        if self.conn.execute("UPDATE accounts SET phc = ?1 WHERE name = ?2", params![phc, name])?
            == 0
        {
            return Err(AccountError::NoSuch(name.to_owned()));
        }
        self.conn.execute("DELETE FROM sessions WHERE account = ?1", [name])?;
        Ok(())
    }

    /// Removes account `name` and ends its sessions at once (someone who left the office).
    pub fn remove_account(&self, name: &str) -> Result<()> {
        self.conn.execute("DELETE FROM sessions WHERE account = ?1", [name])?;
        if self.conn.execute("DELETE FROM accounts WHERE name = ?1", [name])? == 0 {
            return Err(AccountError::NoSuch(name.to_owned()));
        }
        Ok(())
    }

    fn role_of(&self, name: &str) -> Result<Option<Role>> {
        let role: Option<String> = self
            .conn
            .query_row("SELECT role FROM accounts WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        Ok(role.and_then(|r| r.parse().ok()))
    }

    /// Checks a name and password from `address` ([`sign_in_through`] this database).
    pub fn sign_in(&self, name: &str, password: &str, address: &str, now: i64) -> Result<SignIn> {
        sign_in_through(|| self, name, password, address, now)
    }

    /// The first step of a sign-in: while the account or the address is in its back-off nothing
    /// is checked; otherwise the attempt is counted as a wrong password at once (so requests
    /// sent in parallel share the back-off: at most one is checked per wait) and what the
    /// password must match is returned (a dummy hash for an unknown name, so exactly one argon2
    /// verification runs either way).
    pub fn begin_sign_in(&self, name: &str, address: &str, now: i64) -> Result<Begun> {
        let keys = [format!("account:{name}"), format!("address:{address}")];
        let wait = keys.iter().map(|k| self.locked_until(k)).collect::<Result<Vec<_>>>()?;
        if let Some(until) = wait.into_iter().max().filter(|&until| until > now) {
            return Ok(Begun::Wait(until - now));
        }
        for key in &keys {
            self.record_failure(key, now)?;
        }
        let stored: Option<(String, String)> = self
            .conn
            .query_row("SELECT phc, role FROM accounts WHERE name = ?1", [name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (phc, role) = match stored {
            Some((phc, role)) => (phc, Some(role)),
            None => (self.dummy.clone(), None),
        };
        let attempt = Attempt { name: name.to_owned(), keys, phc, role, argon2: self.argon2() };
        Ok(Begun::Check(Box::new(attempt)))
    }

    /// The last step: a match signs in and clears both back-offs; anything else stays counted
    /// as the wrong password [`ConsoleDb::begin_sign_in`] counted it as.
    pub fn finish_sign_in(&self, attempt: Box<Attempt>, matched: bool) -> Result<SignIn> {
        match attempt.role {
            Some(role) if matched => {
                for key in &attempt.keys {
                    self.conn.execute("DELETE FROM login_failures WHERE key = ?1", [key])?;
                }
                let role = role.parse().map_err(|_| AccountError::BadName(attempt.name.clone()))?;
                Ok(SignIn::Ok(Account { name: attempt.name, role }))
            }
            _ => Ok(SignIn::Refused),
        }
    }

    fn locked_until(&self, key: &str) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT locked_until FROM login_failures WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0))
    }

    fn record_failure(&self, key: &str, now: i64) -> Result<()> {
        let failures: u32 = self
            .conn
            .query_row("SELECT failures FROM login_failures WHERE key = ?1", [key], |r| r.get(0))
            .optional()?
            .unwrap_or(0)
            + 1;
        self.conn.execute(
            "INSERT INTO login_failures (key, failures, locked_until) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET failures = ?2, locked_until = ?3",
            params![key, failures, now + wait_after(failures)],
        )?;
        Ok(())
    }
}

/// Checks a name and password from `address`, reaching the database through `db` only to read
/// ([`ConsoleDb::begin_sign_in`]) and to record ([`ConsoleDb::finish_sign_in`]): the argon2
/// check between them runs without it, so the console's lock is not held while it runs.
pub fn sign_in_through<D: std::ops::Deref<Target = ConsoleDb>>(
    db: impl Fn() -> D,
    name: &str,
    password: &str,
    address: &str,
    now: i64,
) -> Result<SignIn> {
    let begun = db().begin_sign_in(name, address, now)?;
    match begun {
        Begun::Wait(seconds) => Ok(SignIn::Wait(seconds)),
        Begun::Check(attempt) => {
            let matched = attempt.matches(password);
            db().finish_sign_in(attempt, matched)
        }
    }
}

/// The wait, in seconds, after `failures` wrong passwords in a row.
pub fn wait_after(failures: u32) -> i64 {
    match failures.checked_sub(FREE_FAILURES) {
        None => 0,
        Some(extra) => 1i64.checked_shl(extra).unwrap_or(i64::MAX).min(MAX_WAIT_SECONDS),
    }
}

/// A password's length: at least [`MIN_PASSWORD_CHARS`], at most [`MAX_PASSWORD_CHARS`].
fn check_password(password: &str) -> Result<()> {
    match password.chars().count() {
        n if n < MIN_PASSWORD_CHARS => Err(AccountError::ShortPassword),
        n if n > MAX_PASSWORD_CHARS => Err(AccountError::LongPassword),
        _ => Ok(()),
    }
}

/// Account names: 1 to 32 ASCII letters, digits, `.`, `_`, `-` (they appear in the audit log).
fn check_name(name: &str) -> Result<()> {
    let fine = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
    if name.is_empty() || name.len() > 32 || !name.bytes().all(fine) {
        return Err(AccountError::BadName(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "a long enough password";

    /// A way to the database that counts how often it is taken and how many are held at once.
    struct Counted<'a> {
        db: &'a ConsoleDb,
        held: &'a std::cell::Cell<(u32, u32, u32)>, // (taken, held now, most held at once)
    }

    impl std::ops::Deref for Counted<'_> {
        type Target = ConsoleDb;
        fn deref(&self) -> &ConsoleDb {
            self.db
        }
    }

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            let (taken, now, most) = self.held.get();
            self.held.set((taken, now - 1, most));
        }
    }

    #[test]
    fn a_new_password_or_a_removal_ends_the_accounts_sessions() {
        let db = ConsoleDb::in_memory().unwrap();
        db.add_account("wang", Role::Manager, PASSWORD, 1).unwrap();
        let account = Account { name: "wang".into(), role: Role::Manager };
        let session = db.start_session(&account, 2).unwrap();
        assert!(db.session(&session, 3).unwrap().is_some());
        db.set_password("wang", "another long password").unwrap();
        assert!(db.session(&session, 4).unwrap().is_none(), "the old session ended");
        assert_eq!(db.sign_in("wang", PASSWORD, "10.0.0.9", 5).unwrap(), SignIn::Refused);
        let again = db.sign_in("wang", "another long password", "10.0.0.8", 6).unwrap();
        assert!(matches!(again, SignIn::Ok(_)));
        let session = db.start_session(&account, 7).unwrap();
        db.remove_account("wang").unwrap();
        assert!(db.session(&session, 8).unwrap().is_none(), "removed: signed out at once");
        let gone = db.sign_in("wang", "another long password", "10.0.0.7", 9).unwrap();
        assert_eq!(gone, SignIn::Refused);
        assert!(matches!(db.remove_account("wang"), Err(AccountError::NoSuch(_))));
        assert!(matches!(db.set_password("li", PASSWORD), Err(AccountError::NoSuch(_))));
        assert!(matches!(db.set_password("li", "short"), Err(AccountError::ShortPassword)));
    }

    #[test]
    fn the_database_is_let_go_while_the_password_is_checked() {
        let db = ConsoleDb::in_memory().unwrap();
        db.add_account("wang", Role::Manager, PASSWORD, 1).unwrap();
        let held = std::cell::Cell::new((0, 0, 0));
        let take = || {
            let (taken, now, most) = held.get();
            held.set((taken + 1, now + 1, most.max(now + 1)));
            Counted { db: &db, held: &held }
        };
        let outcome = sign_in_through(take, "wang", PASSWORD, "10.0.0.9", 2).unwrap();
        assert!(matches!(outcome, SignIn::Ok(_)));
        // Taken once to read and once to record, never both at once: the check ran between.
        assert_eq!(held.get(), (2, 0, 1));
    }

    #[test]
    fn accounts_need_a_clean_name_a_long_password_and_are_unique() {
        let db = ConsoleDb::in_memory().unwrap();
        db.add_account("wang", Role::Manager, PASSWORD, 1).unwrap();
        assert!(matches!(
            db.add_account("wang", Role::Auditor, PASSWORD, 2),
            Err(AccountError::Exists(_))
        ));
        assert!(matches!(
            db.add_account("li", Role::Auditor, "short", 2),
            Err(AccountError::ShortPassword)
        ));
        let too_long = "x".repeat(MAX_PASSWORD_CHARS + 1);
        assert!(matches!(
            db.add_account("li", Role::Auditor, &too_long, 2),
            Err(AccountError::LongPassword)
        ));
        assert!(matches!(db.set_password("wang", &too_long), Err(AccountError::LongPassword)));
        assert!(matches!(
            db.add_account("<b>", Role::Auditor, PASSWORD, 2),
            Err(AccountError::BadName(_))
        ));
        let phc: String = db.conn.query_row("SELECT phc FROM accounts", [], |r| r.get(0)).unwrap();
        assert!(phc.starts_with("$argon2id$") && !phc.contains(PASSWORD));
    }

    #[test]
    fn the_back_off_starts_after_the_free_failures_doubles_and_is_capped() {
        assert_eq!((0..=FREE_FAILURES).map(wait_after).collect::<Vec<_>>(), [0, 0, 0, 0, 0, 1]);
        assert_eq!(wait_after(FREE_FAILURES + 3), 8);
        assert_eq!(wait_after(20), MAX_WAIT_SECONDS);
        assert_eq!(wait_after(200), MAX_WAIT_SECONDS);
    }

    #[test]
    fn attempts_begun_together_share_the_back_off() {
        let db = ConsoleDb::in_memory().unwrap();
        db.add_account("wang", Role::Manager, PASSWORD, 1).unwrap();
        // Twenty requests in parallel: all begin before any is checked.
        let begun: Vec<_> =
            (0..20).map(|_| db.begin_sign_in("wang", "10.0.0.9", 2).unwrap()).collect();
        let checks: Vec<_> = begun
            .into_iter()
            .filter_map(|b| match b {
                Begun::Check(attempt) => Some(attempt),
                Begun::Wait(_) => None,
            })
            .collect();
        assert_eq!(checks.len() as u32, FREE_FAILURES, "the free tries only");
        for attempt in checks {
            assert_eq!(db.finish_sign_in(attempt, false).unwrap(), SignIn::Refused);
        }
        let wait = wait_after(FREE_FAILURES);
        assert_eq!(db.sign_in("wang", PASSWORD, "10.0.0.8", 2).unwrap(), SignIn::Wait(wait));
        assert!(matches!(
            db.sign_in("wang", PASSWORD, "10.0.0.8", 2 + wait).unwrap(),
            SignIn::Ok(_)
        ));
    }

    #[test]
    fn a_right_password_signs_in_and_clears_the_failures_a_wrong_one_or_name_is_refused() {
        let db = ConsoleDb::in_memory().unwrap();
        db.add_account("wang", Role::Caretaker, PASSWORD, 1).unwrap();
        assert_eq!(db.sign_in("wang", "wrong password!", "10.0.0.9", 2).unwrap(), SignIn::Refused);
        assert_eq!(db.sign_in("nobody", PASSWORD, "10.0.0.9", 3).unwrap(), SignIn::Refused);
        let ok = db.sign_in("wang", PASSWORD, "10.0.0.9", 4).unwrap();
        assert_eq!(ok, SignIn::Ok(Account { name: "wang".into(), role: Role::Caretaker }));
        let left: i64 =
            db.conn.query_row("SELECT COUNT(*) FROM login_failures", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 1, "the unknown name's failures stay");
    }
}
