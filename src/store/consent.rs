//! Consent to face recognition: recorded before any enrolment, withdrawn at any time (which
//! deletes the face data at once), and the notice text residents agree to.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::audit::{AuditKind, Chain, append};
use super::register_fields::{Field, FieldKey, write_consent};
use super::{Result, RetentionConfig, Store, StoreConfig};
use crate::language::Language;

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
        // Who runs the gate and how to reach them have no default: face enrolment is refused
        // until the site sets them (a notice naming nobody informs nobody).
        Self {
            text_version: "1".into(),
            minor_age: 14,
            controller: String::new(),
            contact: String::new(),
        }
    }
}

impl ConsentConfig {
    /// Refuses consent (and so face enrolment) while the notice would name no controller or
    /// no contact.
    pub fn check_complete(&self) -> Result<()> {
        if self.controller.trim().is_empty() || self.contact.trim().is_empty() {
            return Err(super::StoreError::NoticeIncomplete);
        }
        Ok(())
    }
}

/// Bumped whenever the notice's wording changes; part of the recorded version.
const WORDING_REVISION: u32 = 4;

const NOTICE_EN: &str = "Face recognition at this door — notice and consent (version {version})

Who: {controller}. Contact: {contact}.
Purpose: only to open this door for you. Never for marketing, attendance or any other use.
Your choice: face recognition is optional. A PIN and a card open the door just as well, and declining or withdrawing changes nothing else about your access.
What is stored: no photo and no video. A mathematical face template, scrambled with a secret key; your name and flat are encrypted with it too. {custody} {where}
How long: your template is deleted when you withdraw, when it has not been used for {unused}, or when you move out ({moved}).
Withdraw at any time: choose \"My data\" at the door after your PIN or card, or ask the office. Your face data is deleted immediately.
Children under {minor} need a parent's or guardian's consent.
";

const NOTICE_ZH: &str = "本门人脸识别告知与同意书（版本 {version}）

处理者：{controller}。联系方式：{contact}。
目的：仅用于为您开启本门，绝不用于营销、考勤或其他任何用途。
您的选择：人脸识别完全自愿。密码和门卡同样可以开门；拒绝或撤回同意不影响您的任何通行权利。
存储内容：不存储照片或视频，只存储经密钥加密变换的人脸特征模板；您的姓名和房号也用该密钥加密。{custody}{where}
保存期限：您撤回同意、或模板连续 {unused}未使用时删除；您迁出时，{moved}。
随时撤回：在门口用密码或门卡验证后选择“我的数据”，或联系物业。您的人脸数据将立即删除。
未满 {minor} 周岁的未成年人须由其父母或监护人同意。
";

/// Where the key lies, as the notice tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCustody {
    /// Sealed in the TPM2.
    Tpm2,
    /// A plain key file on another medium than the database.
    SeparateMedium,
    /// Sealed to the host secret, which lies on the same card.
    HostSecret,
    /// A plain key file beside the data.
    Beside,
}

impl KeyCustody {
    /// How the configured store keeps its key.
    pub fn of(store: &StoreConfig) -> Self {
        use crate::keys::custody::KeyStore;
        match store.key_store {
            KeyStore::Tpm2 => Self::Tpm2,
            KeyStore::SystemdHost => Self::HostSecret,
            KeyStore::File if store.custody().beside_data(&store.database).is_some() => {
                Self::Beside
            }
            KeyStore::File => Self::SeparateMedium,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Tpm2 => "tpm2",
            Self::SeparateMedium => "separate-medium",
            Self::HostSecret => "systemd-host",
            Self::Beside => "file",
        }
    }

    fn sentence(self, lang: Language) -> &'static str {
        match (lang, self) {
            (Language::En, Self::Tpm2) => {
                "The key is sealed in this gate's security chip (TPM), so a copy of the gate's memory card alone is useless."
            }
            (Language::En, Self::SeparateMedium) => {
                "The key is kept on a separate key medium inside the housing, not on the memory card, so a copy of the memory card alone is useless."
            }
            (Language::En, Self::HostSecret) => {
                "The key is sealed to this device's system secret, but that secret lies on the same memory card: whoever takes the whole card could unseal the key and use your template and name. A copy of the database file alone is useless."
            }
            (Language::En, Self::Beside) => {
                "The key lies on this gate beside the data: whoever copies the gate's memory card gets the key too and could use your template and name."
            }
            (Language::Zh, Self::Tpm2) => {
                "密钥封存在本机安全芯片（TPM）中，仅复制本机存储卡无法使用这些数据。"
            }
            (Language::Zh, Self::SeparateMedium) => {
                "密钥保存在机壳内单独的密钥介质上，不在存储卡上，仅复制存储卡无法使用这些数据。"
            }
            (Language::Zh, Self::HostSecret) => {
                "密钥由本机系统密钥封存，但该系统密钥与数据在同一张存储卡上：拿走整张存储卡的人有可能解封密钥并使用您的模板和姓名；仅复制数据库文件则无法使用。"
            }
            (Language::Zh, Self::Beside) => {
                "密钥与数据存放在本机同一张存储卡上：复制存储卡的人可同时获得密钥并使用您的模板和姓名。"
            }
        }
    }
}

/// The recorded version: the site's `text_version`, the wording revision and the key custody.
pub fn notice_version(consent: &ConsentConfig, custody: KeyCustody) -> String {
    format!("{}.{WORDING_REVISION}-{}", consent.text_version, custody.name())
}

/// Where the data goes: nowhere from a single door; on a door of a site, what the office and
/// the other doors hold.
fn whereabouts(lang: Language, site_mode: bool) -> &'static str {
    match (lang, site_mode) {
        (Language::En, false) => "Nothing leaves this device; the gate has no network connection.",
        (Language::En, true) => {
            "This is one door of a site: the site office keeps the register on its own computer (your name, flat and consent, with your template, PIN hash and card code), and every door of the site keeps a copy of your template, PIN hash and card code so that any of them opens for you. The office computer keeps the register's key beside it: whoever copies that computer's disk gets the key too. Flats are never on the doors, and names only of residents who agreed to be greeted by name. The gate itself has no network connection; a separate sync service on this device exchanges these copies with the office over an encrypted link, and the office sees the door's access events (without names). A withdrawal, a deletion or a revoked card reaches the other doors within seconds; a door that has lost its link to the office follows when the link returns, and stops recognising faces once it has been without the link for a set time (the installer's setting, 24 hours by default)."
        }
        (Language::Zh, false) => "数据不离开本设备，本门禁不联网。",
        (Language::Zh, true) => {
            "本门是小区多个门禁之一：物业办公室在其电脑上保存住户登记（您的姓名、房号和同意记录，以及您的模板、密码哈希和门卡编码），小区每个门禁保存您的模板、密码哈希和门卡编码的副本，以便任何一个门都能为您开启。登记的密钥与登记存放在办公室同一台电脑上：复制该电脑磁盘的人可同时获得密钥。门禁上从不保存房号；只有同意在门口被称呼姓名的住户，其姓名才保存在门禁上。门禁本身不联网；本设备上单独的同步服务通过加密连接与物业办公室交换这些副本，物业可看到门禁的通行记录（不含姓名）。撤回同意、删除数据或注销门卡会在数秒内同步到其他门禁；与办公室断开连接的门禁在恢复连接后同步，断开超过设定时间（由安装人员设置，默认 24 小时）后停止人脸识别。"
        }
    }
}

/// "N days" in the notice's language.
fn days(lang: Language, n: i64) -> String {
    match (lang, n) {
        (Language::En, 1) => "1 day".into(),
        (Language::En, n) => format!("{n} days"),
        (Language::Zh, n) => format!("{n} 天"),
    }
}

fn moved_out(lang: Language, n: i64) -> String {
    match (lang, n) {
        (Language::En, 0) => "at once when your access ends".into(),
        (Language::En, n) => format!("at most {} after your access ends", days(lang, n)),
        (Language::Zh, 0) => "通行期结束即删除".into(),
        (Language::Zh, n) => format!("通行期结束后最迟 {}内删除", days(lang, n)),
    }
}

/// What the notice tells a resident, from the configuration: who runs the gate, how long data is
/// kept, and how the key is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeTerms {
    pub consent: ConsentConfig,
    pub retention: RetentionConfig,
    pub custody: KeyCustody,
    /// This gate is a door of a site (its database is a replica): the notice says what the
    /// office and the other doors hold.
    pub site_mode: bool,
}

impl Default for NoticeTerms {
    fn default() -> Self {
        Self::new(&ConsentConfig::default(), &RetentionConfig::default(), &StoreConfig::default())
    }
}

impl NoticeTerms {
    pub fn new(consent: &ConsentConfig, retention: &RetentionConfig, store: &StoreConfig) -> Self {
        Self {
            consent: consent.clone(),
            retention: retention.clone(),
            custody: KeyCustody::of(store),
            site_mode: false,
        }
    }
}

/// The notice and consent text.
pub fn notice(lang: Language, terms: &NoticeTerms) -> String {
    let (consent, retention, custody) = (&terms.consent, &terms.retention, terms.custody);
    let template = match lang {
        Language::En => NOTICE_EN,
        Language::Zh => NOTICE_ZH,
    };
    template
        .replace("{version}", &notice_version(consent, custody))
        .replace("{controller}", &consent.controller)
        .replace("{contact}", &consent.contact)
        .replace("{custody}", custody.sentence(lang))
        .replace("{where}", whereabouts(lang, terms.site_mode))
        .replace("{unused}", &days(lang, retention.template_unused_days))
        .replace("{moved}", &moved_out(lang, retention.moved_out_days))
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
    /// The grant of a resident who has just read the notice in `lang`; refused while the
    /// notice names no controller or contact.
    pub fn read(
        lang: Language,
        terms: &NoticeTerms,
        operator: &str,
        guardian: Option<String>,
    ) -> Result<Self> {
        terms.consent.check_complete()?;
        let text = notice(lang, terms);
        Ok(Self {
            text_version: notice_version(&terms.consent, terms.custody),
            text_sha256: text_sha256(&text),
            operator: operator.to_owned(),
            guardian,
        })
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
    fields: &FieldKey,
    resident_id: i64,
    grant: &ConsentGrant,
    now: i64,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO consents (resident_id, granted_at, text_version, text_sha256, operator)
         VALUES (?1, ?2, ?3, ?4, X'')",
        params![resident_id, now, grant.text_version, grant.text_sha256],
    )?;
    let id = tx.last_insert_rowid();
    write_consent(tx, fields, id, &grant.operator, grant.guardian.as_deref())?;
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
    fields: &FieldKey,
    resident_id: i64,
) -> Result<Option<ConsentRecord>> {
    Ok(conn
        .query_row(
            "SELECT id, granted_at, text_version, text_sha256, operator, guardian, withdrawn_at FROM consents
             WHERE resident_id = ?1 AND withdrawn_at IS NULL ORDER BY id DESC LIMIT 1",
            [resident_id],
            |r| {
                let id = r.get(0)?;
                Ok(ConsentRecord {
                    id,
                    granted_at: r.get(1)?,
                    text_version: r.get(2)?,
                    text_sha256: r.get(3)?,
                    operator: fields.open(Field::ConsentOperator, id, &r.get::<_, Vec<u8>>(4)?)?,
                    guardian: fields.open_opt(Field::ConsentGuardian, id, r.get(5)?)?,
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
        let fields = self.fields.clone();
        self.transaction(|tx| insert(tx, &key, &fields, resident.id, grant, now))
    }

    /// The resident's current consent, if any.
    pub fn consent(&self, number: &str) -> Result<Option<ConsentRecord>> {
        let resident = self.resident(number)?;
        active(&self.conn, &self.fields, resident.id)
    }

    /// Withdraws consent: the resident's templates are deleted at once and the withdrawal is
    /// recorded. Returns how many templates were deleted.
    pub fn withdraw_consent(&mut self, number: &str, now: i64, operator: &str) -> Result<usize> {
        let resident = self.resident(number)?;
        let key = self.audit_key().clone();
        let deleted = self.transaction(|tx| {
            super::replica::note_withdrawal(tx, resident.id, now)?;
            super::site_intake::note_withdrawn(tx, resident.id, now)?;
            let deleted = tx.execute("DELETE FROM templates WHERE resident_id = ?1", [resident.id])?;
            tx.execute("UPDATE consents SET withdrawn_at = ?1 WHERE resident_id = ?2 AND withdrawn_at IS NULL", params![now, resident.id])?;
            append(tx, &key, Chain::Admin, now, AuditKind::ConsentWithdrawn, &resident.subject(), &format!("{deleted} templates deleted, by {operator}"))?;
            Ok(deleted)
        })?;
        self.checkpoint()?;
        Ok(deleted)
    }

    /// How many residents consent to face recognition, with a guardian's consent, have face
    /// data, and how many consents were withdrawn.
    pub fn consent_statistics(&self) -> Result<ConsentStatistics> {
        let count = |sql: &str| self.conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        Ok(ConsentStatistics {
            residents: count("SELECT COUNT(*) FROM residents")?,
            consenting: count(
                "SELECT COUNT(DISTINCT resident_id) FROM consents WHERE withdrawn_at IS NULL",
            )?,
            with_guardian: count(
                "SELECT COUNT(DISTINCT resident_id) FROM consents
                 WHERE withdrawn_at IS NULL AND guardian IS NOT NULL",
            )?,
            with_face_data: count("SELECT COUNT(DISTINCT resident_id) FROM templates")?,
            withdrawals: count("SELECT COUNT(*) FROM consents WHERE withdrawn_at IS NOT NULL")?,
        })
    }
}

/// The consent figures of a register (see [`Store::consent_statistics`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConsentStatistics {
    pub residents: i64,
    pub consenting: i64,
    pub with_guardian: i64,
    pub with_face_data: i64,
    pub withdrawals: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::keys::custody::KeyStore;

    fn site(dir: &std::path::Path) -> Config {
        let mut config = Config::default();
        config.consent.controller = "Office B".into();
        config.consent.contact = "Room 101".into();
        config.retention.template_unused_days = 200;
        config.store.database = dir.join("gate.db");
        config.store.key_file = dir.join("site.key");
        config
    }

    #[test]
    fn notices_carry_the_configured_facts_in_both_languages() {
        let dir = tempfile::tempdir().unwrap();
        let config = site(dir.path());
        for lang in [Language::En, Language::Zh] {
            let text = notice(lang, &config.notice_terms());
            assert!(
                text.contains("Office B") && text.contains("Room 101") && text.contains("200"),
                "{text}"
            );
            assert!(text.contains("14"), "{text}");
            assert!(!text.contains('{'), "every placeholder is filled: {text}");
        }
        let mut other = config.clone();
        other.consent.controller = "Office C".into();
        let (a, b) = (
            notice(Language::En, &config.notice_terms()),
            notice(Language::En, &other.notice_terms()),
        );
        assert_ne!(text_sha256(&a), text_sha256(&b), "the recorded hash pins the exact wording");
    }

    #[test]
    fn each_key_store_gets_its_own_truthful_wording_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let usb = tempfile::tempdir_in("/dev/shm").unwrap();
        let mut config = site(dir.path());
        let mut seen = Vec::new();
        let cases = [
            (KeyStore::File, dir.path(), "beside the data", "同一张存储卡", false),
            (KeyStore::File, usb.path(), "separate key medium", "单独的密钥介质", true),
            (KeyStore::SystemdHost, dir.path(), "same memory card", "同一张存储卡", false),
            (KeyStore::Tpm2, dir.path(), "security chip (TPM)", "安全芯片", true),
        ];
        for (store, key_dir, en, zh, copy_is_useless) in cases {
            config.store.key_store = store;
            config.store.key_file = key_dir.join("site.key");
            let (text_en, text_zh) = (
                notice(Language::En, &config.notice_terms()),
                notice(Language::Zh, &config.notice_terms()),
            );
            assert!(text_en.contains(en) && text_zh.contains(zh), "{text_en}\n{text_zh}");
            assert_eq!(
                text_en.contains("memory card alone is useless"),
                copy_is_useless,
                "{text_en}"
            );
            assert_eq!(
                text_zh.contains("仅复制本机存储卡无法使用")
                    || text_zh.contains("仅复制存储卡无法使用"),
                copy_is_useless,
                "{text_zh}"
            );
            assert!(!text_en.contains("useless if copied"), "{text_en}");
            seen.push(notice_version(&config.consent, KeyCustody::of(&config.store)));
        }
        seen.dedup();
        assert_eq!(seen.len(), 4, "each wording has its own version: {seen:?}");
        assert!(seen.iter().all(|v| v.starts_with("1.4-")), "{seen:?}");
    }

    #[test]
    fn durations_read_naturally_and_an_unnamed_controller_refuses_consent() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = site(dir.path());
        config.retention.moved_out_days = 0;
        assert!(
            notice(Language::En, &config.notice_terms())
                .contains("(at once when your access ends)")
        );
        let zh = notice(Language::Zh, &config.notice_terms());
        assert!(zh.contains("您迁出时，通行期结束即删除。") && !zh.contains("最迟 0"), "{zh}");
        config.retention.moved_out_days = 1;
        assert!(notice(Language::En, &config.notice_terms()).contains("at most 1 day after"));
        assert!(notice(Language::Zh, &config.notice_terms()).contains("最迟 1 天内删除"));

        let unset = Config::default();
        assert!(unset.consent.controller.is_empty() && unset.consent.contact.is_empty());
        let err =
            ConsentGrant::read(Language::Zh, &unset.notice_terms(), "manager", None).unwrap_err();
        assert!(err.to_string().contains("`[consent] controller` and `contact`"), "{err}");
        let grant =
            ConsentGrant::read(Language::Zh, &config.notice_terms(), "manager", None).unwrap();
        assert_eq!(grant.text_version, "1.4-file");
    }

    #[test]
    fn a_door_of_a_site_says_what_the_office_and_the_other_doors_hold() {
        let dir = tempfile::tempdir().unwrap();
        let mut terms = site(dir.path()).notice_terms();
        let single = notice(Language::En, &terms);
        assert!(single.contains("Nothing leaves this device"), "{single}");
        terms.site_mode = true;
        let (en, zh) = (notice(Language::En, &terms), notice(Language::Zh, &terms));
        assert!(!en.contains("Nothing leaves this device") && !zh.contains("数据不离开本设备"));
        assert!(en.contains("every door of the site keeps a copy of your template"), "{en}");
        assert!(en.contains("Flats are never on the doors, and names only of residents who agreed to be greeted by name"), "{en}");
        assert!(zh.contains("门禁上从不保存房号"), "{zh}");
        // The office's register keeps its key beside it (`site::controller` opens a key file).
        assert!(en.contains("whoever copies that computer's disk gets the key too"), "{en}");
        assert!(zh.contains("复制该电脑磁盘的人可同时获得密钥"), "{zh}");
        // A door cut off from the office keeps what it had until the link returns.
        assert!(
            en.contains(
                "a door that has lost its link to the office follows when the link returns"
            ),
            "{en}"
        );
        assert!(zh.contains("与办公室断开连接的门禁在恢复连接后同步"), "{zh}");
        assert_ne!(text_sha256(&single), text_sha256(&en), "the recorded hash tells them apart");
    }
}
