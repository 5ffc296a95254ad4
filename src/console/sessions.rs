//! Console sessions: a random token in the `Secure; HttpOnly; SameSite=Strict` cookie (only its
//! SHA-256 is stored), a CSRF token per session that every form carries, an idle timeout and a
//! longest lifetime.

use rand::TryRng;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::accounts::{Account, ConsoleDb, Result};

/// The session cookie's name.
pub const COOKIE: &str = "fg_session";
/// A session ends this long after its last request.
pub const IDLE_TIMEOUT_SECONDS: i64 = 15 * 60;
/// A session ends this long after sign-in, however busy.
pub const MAX_LIFETIME_SECONDS: i64 = 12 * 60 * 60;

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account: Account,
    /// The token every form of this session carries.
    pub csrf: String,
}

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ConsoleDb {
    /// Starts a session for `account`; returns the cookie token.
    pub fn start_session(&self, account: &Account, now: i64) -> Result<String> {
        let token = random_token();
        self.conn.execute(
            "DELETE FROM sessions WHERE last_seen + ?1 <= ?2 OR created_at + ?3 <= ?2",
            params![IDLE_TIMEOUT_SECONDS, now, MAX_LIFETIME_SECONDS],
        )?;
        self.conn.execute(
            "INSERT INTO sessions (token_hash, account, csrf, created_at, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![token_hash(&token), account.name, random_token(), now],
        )?;
        Ok(token)
    }

    /// The live session of a cookie token, its idle time restarted; an expired one is ended.
    pub fn session(&self, token: &str, now: i64) -> Result<Option<Session>> {
        let hash = token_hash(token);
        let row: Option<(String, String, String, i64, i64)> = self
            .conn
            .query_row(
                "SELECT s.account, a.role, s.csrf, s.created_at, s.last_seen
                 FROM sessions s JOIN accounts a ON a.name = s.account WHERE s.token_hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((name, role, csrf, created_at, last_seen)) = row else { return Ok(None) };
        let live =
            now < last_seen + IDLE_TIMEOUT_SECONDS && now < created_at + MAX_LIFETIME_SECONDS;
        let Ok(role) = role.parse() else { return Ok(None) };
        if !live {
            self.end_session(token)?;
            return Ok(None);
        }
        self.conn.execute(
            "UPDATE sessions SET last_seen = ?1 WHERE token_hash = ?2",
            params![now, hash],
        )?;
        Ok(Some(Session { account: Account { name, role }, csrf }))
    }

    /// Ends a session (sign-out).
    pub fn end_session(&self, token: &str) -> Result<()> {
        self.conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash(token)])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::roles::Role;

    #[test]
    fn a_session_lives_while_used_and_ends_after_the_idle_timeout_or_its_lifetime() {
        let db = ConsoleDb::in_memory().unwrap();
        db.add_account("wang", Role::Manager, "a long enough password", 0).unwrap();
        let account = Account { name: "wang".into(), role: Role::Manager };
        let token = db.start_session(&account, 0).unwrap();
        let mut now = 0;
        while now + IDLE_TIMEOUT_SECONDS - 1 < MAX_LIFETIME_SECONDS {
            now += IDLE_TIMEOUT_SECONDS - 1;
            assert!(db.session(&token, now).unwrap().is_some(), "used in time at {now}");
        }
        assert_eq!(db.session(&token, MAX_LIFETIME_SECONDS).unwrap(), None, "lifetime over");
        let token = db.start_session(&account, 100).unwrap();
        assert_eq!(db.session(&token, 100 + IDLE_TIMEOUT_SECONDS).unwrap(), None, "idle");
        assert_eq!(db.session(&token, 101).unwrap(), None, "an ended session stays ended");
        assert_eq!(db.session("not a token", 101).unwrap(), None);
    }

    #[test]
    fn tokens_compare_by_value_only() {
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert!(same_token(&t, &t.clone()));
        assert!(!same_token(&t, &random_token()) && !same_token(&t, &t[..63]));
    }
}
