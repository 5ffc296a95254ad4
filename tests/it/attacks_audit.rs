//! Attacks on the audit log of a database file edited with any SQLite tool: a removed prefix
//! hidden behind a forged checkpoint, a whole removed chain, a removed tail (also after the
//! gate appends again), a moved checkpoint; and the archive path: an export verifies later
//! with `audit verify --file`, a doctored export does not, and pruning leaves its own row.
//! Every verdict comes from the `facegate audit verify` a manager runs.

use crate::common;
use std::path::Path;
use std::process::{Command, Output};

use facegate::store::{AuditKind, Chain, RetentionConfig, Store, StoreConfig};

const DAY: i64 = 86_400;

struct Site {
    dir: tempfile::TempDir,
    config: StoreConfig,
}

impl Site {
    /// A database with ten days of interleaved access and admin rows.
    fn new() -> (Site, Store) {
        let dir = tempfile::tempdir().unwrap();
        let config = common::store_in(dir.path());
        std::fs::write(
            dir.path().join("gate.toml"),
            "[store]\ndatabase = \"gate.db\"\nkey_file = \"site.key\"\n",
        )
        .unwrap();
        let mut store = Store::init(&config).unwrap();
        for day in 0..10 {
            store
                .audit(Chain::Access, day * DAY, AuditKind::AccessGranted, "resident#1", "pin")
                .unwrap();
            store
                .audit(Chain::Admin, day * DAY, AuditKind::PinSet, "resident#1", "by manager")
                .unwrap();
        }
        (Site { dir, config }, store)
    }

    fn edit(&self, sql: &str) {
        rusqlite::Connection::open(&self.config.database).unwrap().execute_batch(sql).unwrap();
    }

    fn facegate(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_facegate"))
            .current_dir(self.dir.path())
            .args(["--config", "gate.toml"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Whether `audit verify` (of the database, or of `file`) passes; prints what it said.
    fn verifies(&self, file: Option<&Path>) -> bool {
        let mut args = vec!["audit", "verify"];
        let file = file.map(|f| f.to_string_lossy().into_owned());
        if let Some(file) = &file {
            args.extend(["--file", file]);
        }
        let out = self.facegate(&args);
        eprintln!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.status.success()
    }
}

#[test]
fn an_untouched_log_verifies() {
    let (site, store) = Site::new();
    drop(store);
    assert!(site.verifies(None));
}

#[test]
fn a_removed_prefix_behind_a_forged_checkpoint_is_found() {
    let (site, store) = Site::new();
    drop(store);
    site.edit(
        "INSERT INTO audit_checkpoints (chain, last_id, last_mac, at)
            SELECT 'admin', id, mac, at FROM audit WHERE chain = 'admin' ORDER BY id LIMIT 1 OFFSET 3;
         DELETE FROM audit WHERE chain = 'admin' AND id <= (SELECT last_id FROM audit_checkpoints WHERE chain = 'admin');",
    );
    assert!(!site.verifies(None), "four admin rows removed unnoticed");
}

#[test]
fn a_whole_removed_chain_is_found() {
    let (site, store) = Site::new();
    drop(store);
    site.edit("DELETE FROM audit WHERE chain = 'admin';");
    assert!(!site.verifies(None), "the admin chain removed unnoticed");
}

#[test]
fn a_removed_tail_is_found_even_after_the_gate_appends_again() {
    let (site, store) = Site::new();
    drop(store);
    site.edit("DELETE FROM audit WHERE id > (SELECT MAX(id) - 3 FROM audit);");
    assert!(!site.verifies(None), "the last three rows removed unnoticed");
    let mut store = Store::open(&site.config).unwrap();
    let _ = store.audit(Chain::Access, 20 * DAY, AuditKind::AccessGranted, "resident#1", "card");
    drop(store);
    assert!(!site.verifies(None), "the next append covered the removal");
}

#[test]
fn a_checkpoint_moved_over_unpruned_rows_is_found() {
    let (site, mut store) = Site::new();
    store.purge(&RetentionConfig { access_log_days: 95, ..Default::default() }, 100 * DAY).unwrap();
    drop(store);
    assert!(site.verifies(None));
    site.edit(
        "UPDATE audit_checkpoints SET (last_id, last_mac) =
            (SELECT id, mac FROM audit WHERE chain = 'access' ORDER BY id LIMIT 1 OFFSET 2)
            WHERE chain = 'access';
         DELETE FROM audit WHERE chain = 'access' AND id <= (SELECT last_id FROM audit_checkpoints WHERE chain = 'access');",
    );
    assert!(!site.verifies(None), "three access rows removed behind a moved checkpoint");
}

#[test]
fn pruning_is_audited() {
    let (_site, mut store) = Site::new();
    let report = store.purge(&RetentionConfig::default(), 95 * DAY).unwrap();
    assert_eq!(report.access_events, 5);
    let log = store.audit_entries(None).unwrap();
    let pruned: Vec<_> = log.iter().filter(|e| e.kind == "access_pruned").collect();
    assert_eq!(pruned.len(), 1, "{log:?}");
    assert!(pruned[0].detail.starts_with("5 access rows"), "{}", pruned[0].detail);
}

#[test]
fn an_export_verifies_later_and_a_doctored_one_does_not() {
    let (site, mut store) = Site::new();
    store.purge(&RetentionConfig::default(), 95 * DAY).unwrap();
    drop(store);
    let export = site.facegate(&["audit", "export"]);
    assert!(export.status.success());
    let text = String::from_utf8(export.stdout).unwrap();
    assert!(text.contains("\"mac\"") && text.contains("\"head\""), "{text}");
    let file = site.dir.path().join("audit.jsonl");
    std::fs::write(&file, &text).unwrap();
    site.edit("DELETE FROM audit;"); // the database's log is gone; the export is all there is
    assert!(site.verifies(Some(&file)), "the untouched export");
    let lines: Vec<&str> = text.lines().collect();
    for doctored in [
        [&lines[..4], &lines[6..]].concat().join("\n"), // two rows cut out
        lines[1..].join("\n"),                          // first row gone
        lines[..lines.len() - 1].join("\n"),            // head gone
        text.replacen("by manager", "by nobody", 1),    // a row edited
    ] {
        std::fs::write(&file, doctored).unwrap();
        assert!(!site.verifies(Some(&file)));
    }
}
