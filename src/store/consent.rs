//! Consent to face recognition: recorded before any enrolment, withdrawn at any time (which
//! deletes the face data at once), and the notice text residents agree to.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::audit::{AuditKind, Chain, append};
use super::{Result, Store};
use crate::language::Language;
use crate::store::retention::RetentionConfig;

/// `[consent]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentConfig {
    /// Version of the notice text; recorded with every consent.
    pub text_version: String,
    /// Residents younger than this need a guardian's consent for face enrolment.
    pub minor_age: i32,
    /// Who runs the gate (shown in the notice).
    pub controller: String,
    /// How to reach them (shown in the notice).
    pub contact: String,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        Self {
            text_version: "1".into(),
            minor_age: 14,
            controller: "the property management office".into(),
            contact: "the management office".into(),
        }
    }
}

const NOTICE_EN: &str = "Face recognition at this door — notice and consent (version {version})

Who: {controller}. Contact: {contact}.
Purpose: only to open this door for you. Never for marketing, attendance or any other use.
Your choice: face recognition is optional. A PIN and a card open the door just as well, and declining or withdrawing changes nothing else about your access.
What is stored: no photo and no video. A mathematical face template, scrambled with a secret key kept on this gate only, so it is useless if copied. Nothing leaves this device; the gate has no network connection.
How long: your template is deleted when you withdraw, when it has not been used for {unused} days, or when you move out (at once, at most {moved} days after your access ends).
Withdraw at any time: choose \"My data\" at the door after your PIN or card, or ask the office. Your face data is deleted immediately.
Children under {minor} need a parent's or guardian's consent.
";

const NOTICE_ZH: &str = "本门人脸识别告知与同意书（版本 {version}）

处理者：{controller}。联系方式：{contact}。
目的：仅用于为您开启本门，绝不用于营销、考勤或其他任何用途。
您的选择：人脸识别完全自愿。密码和门卡同样可以开门；拒绝或撤回同意不影响您的任何通行权利。
存储内容：不存储照片或视频，只存储经本机专有密钥加密变换的人脸特征模板，被复制也无法使用。数据不离开本设备，本门禁不联网。
保存期限：您撤回同意、模板连续 {unused} 天未使用、或您迁出（通行期结束后立即，最迟 {moved} 天）时删除。
随时撤回：在门口用密码或门卡验证后选择“我的数据”，或联系物业。您的人脸数据将立即删除。
未满 {minor} 周岁的未成年人须由其父母或监护人同意。
";

/// The notice and consent text, generated from the configuration.
pub fn notice(lang: Language, consent: &ConsentConfig, retention: &RetentionConfig) -> String {
    let template = match lang {
        Language::En => NOTICE_EN,
        Language::Zh => NOTICE_ZH,
    };
    template
        .replace("{version}", &consent.text_version)
        .replace("{controller}", &consent.controller)
        .replace("{contact}", &consent.contact)
        .replace("{unused}", &retention.template_unused_days.to_string())
        .replace("{moved}", &retention.moved_out_days.to_string())
        .replace("{minor}", &consent.minor_age.to_string())
}

/// SHA-256 of a notice text, recorded with the consent so the exact wording can be proven.
pub fn text_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A consent being given.
#[derive(Debug, Clone)]
pub struct ConsentGrant {
    pub text_version: String,
    pub text_sha256: String,
    /// Who recorded it (a manager's name, or "resident at the door").
    pub operator: String,
    /// For a minor: the guardian who consented.
    pub guardian: Option<String>,
}

impl ConsentGrant {
    /// The grant of a resident who has just read the notice in `lang`.
    pub fn read(
        lang: Language,
        consent: &ConsentConfig,
        retention: &RetentionConfig,
        operator: &str,
        guardian: Option<String>,
    ) -> Self {
        let text = notice(lang, consent, retention);
        Self {
            text_version: consent.text_version.clone(),
            text_sha256: text_sha256(&text),
            operator: operator.to_owned(),
            guardian,
        }
    }
}

/// A consent on record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentRecord {
    pub id: i64,
    pub granted_at: i64,
    pub text_version: String,
    pub text_sha256: String,
    pub operator: String,
    pub guardian: Option<String>,
    pub withdrawn_at: Option<i64>,
}

/// Records a consent inside a transaction; returns its id.
pub(super) fn insert(
    tx: &rusqlite::Transaction,
    key: &crate::keys::Key,
    resident_id: i64,
    grant: &ConsentGrant,
    now: i64,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO consents (resident_id, granted_at, text_version, text_sha256, operator, guardian)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![resident_id, now, grant.text_version, grant.text_sha256, grant.operator, grant.guardian],
    )?;
    let id = tx.last_insert_rowid();
    let detail = format!(
        "version {} by {}{}",
        grant.text_version,
        grant.operator,
        if grant.guardian.is_some() { ", guardian" } else { "" }
    );
    append(
        tx,
        key,
        Chain::Admin,
        now,
        AuditKind::ConsentGranted,
        &format!("resident#{resident_id}"),
        &detail,
    )?;
    Ok(id)
}

/// The resident's current (not withdrawn) consent.
pub(super) fn active(
    conn: &rusqlite::Connection,
    resident_id: i64,
) -> Result<Option<ConsentRecord>> {
    Ok(conn
        .query_row(
            "SELECT id, granted_at, text_version, text_sha256, operator, guardian, withdrawn_at FROM consents
             WHERE resident_id = ?1 AND withdrawn_at IS NULL ORDER BY id DESC LIMIT 1",
            [resident_id],
            |r| {
                Ok(ConsentRecord {
                    id: r.get(0)?,
                    granted_at: r.get(1)?,
                    text_version: r.get(2)?,
                    text_sha256: r.get(3)?,
                    operator: r.get(4)?,
                    guardian: r.get(5)?,
                    withdrawn_at: r.get(6)?,
                })
            },
        )
        .optional()?)
}

impl Store {
    /// Records a resident's consent to face recognition.
    pub fn grant_consent(&mut self, number: &str, grant: &ConsentGrant, now: i64) -> Result<i64> {
        let resident = self.resident(number)?;
        let key = self.audit_key().clone();
        self.transaction(|tx| insert(tx, &key, resident.id, grant, now))
    }

    /// The resident's current consent, if any.
    pub fn consent(&self, number: &str) -> Result<Option<ConsentRecord>> {
        let resident = self.resident(number)?;
        active(&self.conn, resident.id)
    }

    /// Withdraws consent: the resident's templates are deleted at once and the withdrawal is
    /// recorded. Returns how many templates were deleted.
    pub fn withdraw_consent(&mut self, number: &str, now: i64, operator: &str) -> Result<usize> {
        let resident = self.resident(number)?;
        let key = self.audit_key().clone();
        let deleted = self.transaction(|tx| {
            let deleted = tx.execute("DELETE FROM templates WHERE resident_id = ?1", [resident.id])?;
            tx.execute("UPDATE consents SET withdrawn_at = ?1 WHERE resident_id = ?2 AND withdrawn_at IS NULL", params![now, resident.id])?;
            append(tx, &key, Chain::Admin, now, AuditKind::ConsentWithdrawn, &resident.subject(), &format!("{deleted} templates deleted, by {operator}"))?;
            Ok(deleted)
        })?;
        self.checkpoint()?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_carry_the_configured_facts_in_both_languages() {
        let consent = ConsentConfig { controller: "Office B".into(), ..ConsentConfig::default() };
        let retention = RetentionConfig { template_unused_days: 200, ..RetentionConfig::default() };
        for lang in [Language::En, Language::Zh] {
            let text = notice(lang, &consent, &retention);
            assert!(
                text.contains("Office B") && text.contains("200") && text.contains("14"),
                "{text}"
            );
            assert!(!text.contains('{'), "every placeholder is filled: {text}");
        }
        let a = text_sha256(&notice(Language::En, &consent, &retention));
        let b = text_sha256(&notice(Language::En, &ConsentConfig::default(), &retention));
        assert_ne!(a, b, "the recorded hash pins the exact wording");
    }
}
