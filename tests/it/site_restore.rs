//! A register backup restored through the real path (`facegate console restore`, the
//! controller as a `facegate site run` process, two doors' sync agents, a real nats-server):
//! the restore refuses while the controller runs; after it, residents removed and faces
//! withdrawn since the backup come back at no door, new residents get ids never used, and no
//! card revoked, resident suspended, pass used or revoked, or PIN changed since is undone.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use facegate::console::backup::seal_register;
use facegate::credentials::Pin;
use facegate::manage;
use facegate::store::{NewResident, NewVisitorPass, PassUse, ResidentStatus, unix_now};

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

#[test]
fn a_restored_register_undoes_no_revoked_card_suspension_pass_use_nor_pin_change() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 3, 1_000);
    let now = unix_now();
    let pass = NewVisitorPass {
        label: "guest".into(),
        company: None,
        valid_from: now - 60,
        valid_until: now + 86_400,
        entries: 1,
        doors: vec!["north".parse().unwrap()],
    };
    let (used, revoked) = {
        let mut register = site.register();
        let used = manage::create_visitor_pass(&mut register, &pass, now, "wang").unwrap().id;
        let revoked = manage::create_visitor_pass(&mut register, &pass, now, "wang").unwrap().id;
        (used, revoked)
    };
    site.start_controller_process();
    let mut doors = vec![site.door("north", false)];
    site.start_agent(&mut doors[0]);
    site.wait_converged(&doors, Duration::from_secs(60));
    let backup = site.dir.path().join("register.db.age");
    std::fs::write(&backup, seal_register(&site.register(), PASSPHRASE).unwrap()).unwrap();

    let new_pin = Pin::parse("917364", &rules()).unwrap();
    {
        let mut register = site.register();
        let (card_id, ..) =
            register.card_with_index(&register.card_index(&card(1001))).unwrap().unwrap();
        manage::revoke_card(&mut register, card_id, now, "wang").unwrap();
        let edit = NewResident { number: "1002".into(), ..NewResident::default() };
        let suspended = Some(ResidentStatus::Suspended);
        manage::edit_resident(&mut register, "1002", &edit, suspended, now, "wang").unwrap();
        manage::set_pin(&mut register, &rules(), "1003", &new_pin, now + 1, "wang").unwrap();
        let door = Some("north".parse().unwrap());
        register.record_pass_use(&PassUse { pass: used, door, at: now }).unwrap();
        manage::revoke_visitor_pass(&mut register, revoked, now, "wang").unwrap();
    }
    site.wait_converged(&doors, Duration::from_secs(60));
    let before = doors[0].records();

    site.kill9_controller();
    let (restored, stderr) = restore(&site, &backup);
    assert!(restored, "{stderr}");
    site.start_controller_process();
    site.wait_converged(&doors, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    site.wait_converged(&doors, Duration::from_secs(60));

    let after = doors[0].records();
    let record = |records: &[facegate::site::DoorRecord], number: &str| {
        records.iter().find(|r| r.number == number).unwrap().clone()
    };
    assert!(record(&after, "1001").cards.iter().all(|c| c.revoked_at.is_some()), "card revoked");
    assert_eq!(record(&after, "1002").status, ResidentStatus::Suspended, "still suspended");
    assert_eq!(record(&after, "1003").pin, record(&before, "1003").pin, "the newer PIN");
    let register = site.register();
    let passes = register.visitor_passes(0).unwrap();
    let pass_of = |id: i64| passes.iter().find(|p| p.id == id).unwrap();
    assert_eq!(pass_of(used).entries_left, 0, "the used pass stays used");
    assert!(pass_of(revoked).revoked_at.is_some(), "the revoked pass stays revoked");
    let again = register.audit_entries(None).unwrap();
    let again = again.iter().filter(|e| e.detail.contains("before the register's restore"));
    assert_eq!(again.count(), 4, "each kind audited once");
}
