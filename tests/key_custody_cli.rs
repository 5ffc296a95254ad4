//! Key custody as an installer and a manager use it through the real binary: `init` with a
//! sealed key store, every command unsealing the key, `admin rotate-key`, and the passphrase
//! backup (`admin key export|import`). The host secret lives in its own temp dir
//! (`SYSTEMD_CREDENTIAL_SECRET`, passed to each child only), never the machine's.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Site {
    data: tempfile::TempDir,
    host: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Site {
    fn new(key_store: &str) -> Self {
        let (data, host) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let config = data.path().join("gate.toml");
        let text = format!(
            "[store]\ndatabase = {:?}\nkey_file = {:?}\nkey_store = {key_store:?}\n",
            data.path().join("gate.db"),
            data.path().join("site.cred"),
        );
        std::fs::write(&config, text).unwrap();
        Self { data, host, config }
    }

    fn key_file(&self) -> std::path::PathBuf {
        self.data.path().join("site.cred")
    }

    /// Runs facegate with `args`, `stdin` on its standard input.
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_facegate"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("SYSTEMD_CREDENTIAL_SECRET", self.host.path().join("credential.secret"))
            .env_remove("CREDENTIALS_DIRECTORY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
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
    assert!(!site.data.path().join("site.cred.new").exists());
    let listed = site.ok(&["admin", "resident", "list", "--search", "li wei"], "");
    assert!(listed.contains("Li Wei") && listed.contains("3-1201"), "{listed}");
    let verify = site.ok(&["audit", "verify"], "");
    assert!(verify.contains("audit log intact"), "{verify}");

    let backup = site.data.path().join("key.age");
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
}

#[test]
fn a_backup_of_another_gate_is_refused_for_this_database() {
    let (ours, theirs) = (Site::new("file"), Site::new("file"));
    for site in [&ours, &theirs] {
        site.ok(&["init"], "");
        site.ok(&["admin", "resident", "add", "7", "--name", "X", "--unit", "1"], "");
    }
    let backup = theirs.data.path().join("key.age");
    theirs.ok(&["admin", "key", "export", backup.to_str().unwrap()], PASSPHRASE);
    std::fs::remove_file(ours.key_file()).unwrap();
    let err = ours.fails(&["admin", "key", "import", backup.to_str().unwrap()], PASSPHRASE);
    assert!(err.contains("does not fit database"), "{err}");
    assert!(!ours.key_file().exists());
}
