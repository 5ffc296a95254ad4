//! Key custody as an installer and a manager use it through the real binary: `init` with a
//! sealed key store, every command unsealing the key, `admin rotate-key`, and the passphrase
//! backup (`admin key export|import`). The host secret lives in its own temp dir
//! (`SYSTEMD_CREDENTIAL_SECRET`, passed to each child only), never the machine's.

use crate::cli_gate::{CliGate, read};

/// A gate whose key store is `key_store`, with its own host secret (`host`).
struct Site {
    gate: CliGate,
    host: tempfile::TempDir,
}

impl Site {
    fn new(key_store: &str) -> Self {
        let mut gate = CliGate::with_config(&format!(
            "[store]\ndatabase = \"gate.db\"\nkey_file = \"site.cred\"\nkey_store = {key_store:?}\n"
        ));
        let host = tempfile::tempdir().unwrap();
        gate.set_env("SYSTEMD_CREDENTIAL_SECRET", host.path().join("credential.secret"));
        Self { gate, host }
    }

    fn key_file(&self) -> std::path::PathBuf {
        self.gate.path("site.cred")
    }
}

impl std::ops::Deref for Site {
    type Target = CliGate;
    fn deref(&self) -> &CliGate {
        &self.gate
    }
}

const PASSPHRASE: &str = "a long backup passphrase\n";

#[test]
fn a_host_sealed_gate_keeps_working_through_rotation_backup_and_restore() {
    let site = Site::new("systemd-host");
    let err = site.fails(&["init", "--key-store", "file"], "");
    assert!(err.contains("set `key_store = \"file\"` under [store] first"), "{err}");
    let out = site.ok(&["init", "--key-store", "systemd-host"], "");
    assert!(out.contains("key store: systemd-host") && out.contains("admin key export"), "{out}");
    assert!(!out.contains("copy of the key file"), "{out}");
    let sealed = read(&site.key_file());
    assert_ne!(sealed.len(), 64, "the key file is sealed, not the raw key");

    site.ok(&["admin", "resident", "add", "1201", "--name", "Li Wei", "--unit", "3-1201"], "");
    let out = site.ok(&["admin", "rotate-key"], "");
    assert!(out.contains("restart the gate"), "{out}");
    assert_ne!(read(&site.key_file()), sealed, "a new sealed key");
    assert!(!site.path("site.cred.new").exists());
    let listed = site.ok(&["admin", "resident", "list", "--search", "li wei"], "");
    assert!(listed.contains("Li Wei") && listed.contains("3-1201"), "{listed}");
    let verify = site.ok(&["audit", "verify"], "");
    assert!(verify.contains("audit log intact"), "{verify}");

    let backup = site.path("key.age");
    let backup_arg = backup.to_str().unwrap();
    let err = site.fails(&["admin", "key", "export", backup_arg], "short\n");
    assert!(err.contains("at least 12 characters"), "{err}");
    site.ok(&["admin", "key", "export", backup_arg], PASSPHRASE);
    let err = site.fails(&["admin", "key", "import", backup_arg], PASSPHRASE);
    assert!(err.contains("already exists"), "import never overwrites: {err}");

    // The card died with its host secret: a new device (new host secret) restores from backup.
    std::fs::remove_file(site.key_file()).unwrap();
    std::fs::remove_file(site.host.path().join("credential.secret")).unwrap();
    let err = site.fails(&["admin", "key", "import", backup_arg], "not the passphrase!!\n");
    assert!(err.contains("wrong passphrase"), "{err}");
    assert!(!site.key_file().exists());
    site.ok(&["admin", "key", "import", backup_arg], PASSPHRASE);
    let listed = site.ok(&["admin", "resident", "list"], "");
    assert!(listed.contains("Li Wei"), "the restored key opens the register: {listed}");
    // Writing and restoring the key are admin actions in the chained log, with the operator.
    let log: Vec<serde_json::Value> =
        serde_json::from_str(&site.ok(&["audit", "list", "--json"], "")).unwrap();
    let key_rows: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| e["kind"] == "key_exported" || e["kind"] == "key_imported")
        .map(|e| (e["kind"].as_str().unwrap(), e["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(key_rows.iter().map(|r| r.0).collect::<Vec<_>>(), ["key_exported", "key_imported"]);
    assert!(key_rows.iter().all(|r| r.1.contains("key.age by ")), "{key_rows:?}");
    assert!(site.ok(&["audit", "verify"], "").contains("audit log intact"));
}

#[test]
fn a_backup_of_another_gate_is_refused_for_this_database() {
    let (ours, theirs) = (Site::new("file"), Site::new("file"));
    for site in [&ours, &theirs] {
        site.ok(&["init"], "");
        site.ok(&["admin", "resident", "add", "7", "--name", "X", "--unit", "1"], "");
    }
    let backup = theirs.path("key.age");
    theirs.ok(&["admin", "key", "export", backup.to_str().unwrap()], PASSPHRASE);
    std::fs::remove_file(ours.key_file()).unwrap();
    let err = ours.fails(&["admin", "key", "import", backup.to_str().unwrap()], PASSPHRASE);
    assert!(err.contains("does not fit database"), "{err}");
    assert!(!ours.key_file().exists());
}
