//! A register backup restored through the real path (`facegate console restore`, the
//! controller as a `facegate site run` process, two doors' sync agents, a real nats-server):
//! the restore refuses while the controller runs; after it, residents removed and faces
//! withdrawn since the backup come back at no door, and new residents get ids never used.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use facegate::console::backup::seal_register;
use facegate::manage;
use facegate::store::unix_now;

use crate::site_rig::*;

const PASSPHRASE: &str = "a passphrase of the office";

/// `facegate console restore FILE --dir DIR` with the passphrase on stdin: success, stderr.
fn restore(site: &Site, file: &std::path::Path) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["console", "restore"])
        .arg(file)
        .arg("--dir")
        .arg(site.site_dir().0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = writeln!(child.stdin.take().unwrap(), "{PASSPHRASE}");
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The register's id of resident `number`.
fn id_of(site: &Site, number: &str) -> i64 {
    site.register().resident(number).unwrap().id
}

#[test]
fn a_restored_register_brings_back_no_removed_resident_nor_withdrawn_face_and_reuses_no_id() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 3, 1);
    site.start_controller_process();
    let mut doors = vec![site.door("north", false), site.door("south", false)];
    for door in &mut doors {
        site.start_agent(door);
    }
    site.wait_converged(&doors, Duration::from_secs(60));
    let backup = site.dir.path().join("register.db.age");
    std::fs::write(&backup, seal_register(&site.register(), PASSPHRASE).unwrap()).unwrap();

    add_residents(&mut site.register(), 1004, 1, 1);
    site.wait_converged(&doors, Duration::from_secs(60));
    let (removed, withdrawn, newest) =
        (id_of(&site, "1002"), id_of(&site, "1003"), id_of(&site, "1004"));
    let now = unix_now();
    manage::remove_resident(&mut site.register(), "1002", now, "wang").unwrap();
    manage::remove_resident(&mut site.register(), "1004", now, "wang").unwrap();
    manage::delete_face_data(&mut site.register(), "1003", now, "wang").unwrap();
    site.wait_converged(&doors, Duration::from_secs(60));

    let (restored, stderr) = restore(&site, &backup);
    assert!(!restored, "a restore while the controller runs is refused");
    assert!(stderr.contains("the site controller is running"), "{stderr}");
    assert!(site.register().find_resident("1002").unwrap().is_none(), "and changes nothing");

    site.kill9_controller();
    let (restored, stderr) = restore(&site, &backup);
    assert!(restored, "{stderr}");
    let register = site.register();
    assert!(register.find_resident("1002").unwrap().is_some(), "the backup holds 1002");
    assert_eq!(register.templates_of("1003").unwrap().len(), 1, "and 1003's face");
    drop(register);

    site.start_controller_process();
    site.wait_converged(&doors, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    site.wait_converged(&doors, Duration::from_secs(60));
    let register = site.register();
    assert!(register.find_resident("1002").unwrap().is_none(), "removed again");
    assert!(register.templates_of("1003").unwrap().is_empty(), "withdrawn again");
    for door in &doors {
        let records = door.records();
        assert!(records.iter().all(|r| r.resident != removed), "1002 is back at {}", door.id);
        let face = records.iter().find(|r| r.resident == withdrawn).unwrap();
        assert!(face.templates.is_empty(), "1003's face is back at {}", door.id);
    }
    let again: Vec<_> = register
        .audit_entries(None)
        .unwrap()
        .into_iter()
        .filter(|e| e.detail.contains("before the register's restore"))
        .map(|e| (e.kind, e.subject))
        .collect();
    assert_eq!(
        again,
        [
            ("resident_removed".to_owned(), format!("resident#{removed}")),
            ("consent_withdrawn".to_owned(), format!("resident#{withdrawn}"))
        ],
        "each audited"
    );
    drop(register);

    add_residents(&mut site.register(), 1005, 1, 1);
    let fresh = id_of(&site, "1005");
    assert!(fresh > newest, "a new resident gets id {fresh}, above {newest} the doors saw");
    site.wait_converged(&doors, Duration::from_secs(60));
    assert!(doors.iter().all(|door| door.records().iter().any(|r| r.resident == fresh)));
}
