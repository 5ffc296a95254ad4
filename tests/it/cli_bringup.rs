//! The installer's commands through the real binary: `init`, then `selftest --sim`, a scripted
//! scenario through `run --sim --headless --script`; and the systemd units in `hardware/` pass
//! `systemd-analyze verify`, the gate's without network, the sync agent's with the broker only.

use crate::common;

use std::process::Command;

fn facegate(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// A config in `dir` with its database and key file there.
fn config_in(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("gate.toml");
    let text = format!(
        "[paths]\nmodels = {:?}\n[store]\ndatabase = {:?}\nkey_file = {:?}\n",
        common::models_dir(),
        dir.join("gate.db"),
        dir.join("site.key")
    );
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn a_headless_script_prints_the_decisions_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    assert!(facegate(&config, &["init"]).status.success());
    let add = ["admin", "resident", "add", "1201", "--name", "Li", "--unit", "3-1201"];
    assert!(facegate(&config, &add).status.success());
    let mut pin = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(&config)
        .args(["admin", "pin", "set", "1201"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    pin.stdin.take().unwrap().write_all(b"2580\n").unwrap();
    assert!(pin.wait().unwrap().success());
    let script = dir.path().join("scenario.txt");
    std::fs::write(
        &script,
        "at 100\ntap pin\ntype 1201\ntype 9999\nat 5000\ntap pin\ntype 1201\ntype 2580\nat 12000\n",
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let out = facegate(&config, &["run", "--sim", "--headless", "--script", script]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let decisions: Vec<bool> = events
        .iter()
        .filter(|e| e["event"] == "decision")
        .map(|e| e["granted"].as_bool().unwrap())
        .collect();
    assert_eq!(decisions, [false, true]);
    let door: Vec<&str> = events.iter().filter_map(|e| e["what"].as_str()).collect();
    assert!(door.contains(&"Unlocked") && door.contains(&"Relocked"), "{door:?}");
    assert!(!stdout.contains("9999") && !stdout.contains("2580"), "no PIN in the output");
}

#[test]
fn selftest_sim_exercises_every_part() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let before = facegate(&config, &["selftest", "--sim"]);
    assert!(!before.status.success(), "no database yet");
    assert!(String::from_utf8_lossy(&before.stdout).contains("FAIL  database"));

    assert!(facegate(&config, &["init"]).status.success());
    let key = std::fs::read(dir.path().join("site.key")).unwrap();
    assert!(!facegate(&config, &["init"]).status.success(), "init never overwrites");
    assert!(facegate(&config, &["init", "--if-missing"]).status.success(), "the service's start");
    assert_eq!(std::fs::read(dir.path().join("site.key")).unwrap(), key, "the key is kept");
    let out = facegate(&config, &["selftest", "--sim", "--pulse"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for part in ["database", "face models", "camera", "door", "card reader"] {
        assert!(
            stdout.lines().any(|l| l.starts_with("ok") && l.contains(part)),
            "{part}: {stdout}"
        );
    }
    assert!(stdout.contains("relay pulsed"));
}

/// A unit of `hardware/`, pointed at the binary just built (which exists here, unlike
/// /usr/bin/facegate), written into `dir`; its path.
fn unit_in(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(format!("{}/hardware/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .replace("/usr/bin/facegate", env!("CARGO_BIN_EXE_facegate"));
    let path = dir.join(name);
    std::fs::write(&path, unit).unwrap();
    path
}

fn unit_settings(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().filter(|l| !l.starts_with('#') && l.contains('=')).map(String::from).collect()
}

#[test]
fn the_systemd_units_verify() {
    let check = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .expect("systemd-analyze (Debian package systemd, installed by ./dev.sh test)");
    assert!(check.status.success());
    let dir = tempfile::tempdir().unwrap();
    for name in ["facegate.service", "facegate-sync.service", "facegate-site.service"] {
        let path = unit_in(dir.path(), name);
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let problems: Vec<&str> = stderr.lines().filter(|l| l.contains(name)).collect();
        assert!(out.status.success() && problems.is_empty(), "{name}: {stderr}");
    }
}

#[test]
fn the_sync_agent_with_joins_network_drop_in_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_in(dir.path(), "facegate-sync.service");
    let dropin = std::path::Path::new(facegate::site::broker::SYNC_NETWORK_DROPIN);
    let dropin_dir = dir.path().join(dropin.parent().unwrap().file_name().unwrap());
    std::fs::create_dir(&dropin_dir).unwrap();
    let broker = ["192.0.2.10".parse().unwrap(), "2001:db8::10".parse().unwrap()];
    let text = facegate::site::broker::sync_network_dropin(&broker);
    std::fs::write(dropin_dir.join(dropin.file_name().unwrap()), &text).unwrap();
    let out =
        Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&unit).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr.lines().filter(|l| l.contains("facegate-sync")).collect();
    assert!(out.status.success() && problems.is_empty(), "{stderr}");
    let allowed: Vec<&str> = text.lines().filter(|l| l.starts_with("IPAddressAllow=")).collect();
    assert_eq!(allowed, ["IPAddressAllow=192.0.2.10", "IPAddressAllow=2001:db8::10"]);
}

#[test]
fn join_writes_the_sync_agents_drop_in_with_the_broker_as_its_only_address() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let bundle = dir.path().join("north.join");
    let cli = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_facegate")).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let os = |text: &'static str| std::ffi::OsStr::new(text);
    let ca = dir.path().join("site-ca.pem");
    let made = rcgen::generate_simple_self_signed(vec!["site-ca".to_owned()]).unwrap();
    std::fs::write(&ca, made.cert.pem()).unwrap();
    cli(&[
        os("site"),
        os("--dir"),
        site.as_os_str(),
        os("init"),
        os("oak"),
        os("--broker"),
        os("nats://127.0.0.1:4222"),
        os("--broker-ca"),
        ca.as_os_str(),
    ]);
    let added = cli(&[
        os("site"),
        os("--dir"),
        site.as_os_str(),
        os("door"),
        os("add"),
        os("north"),
        os("--broker-url"),
        os("tls://door:secret@192.0.2.10:4222"),
        os("--out"),
        bundle.as_os_str(),
    ]);
    let passphrase = added.lines().find_map(|l| l.split_once("(shown only now): ")).unwrap().1;
    // The door's state directory, owned by the service user (`nobody` here) as systemd's
    // StateDirectory= is; `join` runs as root.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let as_root = uid == 0;
    if as_root {
        std::os::unix::fs::chown(&state, Some(65534), Some(65534)).unwrap();
    }
    let config = dir.path().join("door.toml");
    let login = state.join("site-login.json");
    let text = format!(
        "[store]\ndatabase = {:?}\nkey_file = {:?}\n[site]\nlogin = {:?}\n",
        state.join("door.db"),
        state.join("door.key"),
        login
    );
    std::fs::write(&config, text).unwrap();
    let dropin = dir.path().join("facegate-sync.service.d/broker.conf");
    let mut join = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(&config)
        .arg("join")
        .arg(&bundle)
        .arg("--network-dropin")
        .arg(&dropin)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(join.stdin.take().unwrap(), "{passphrase}").unwrap();
    let out = join.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let owner = std::fs::metadata(&state).unwrap().uid();
    assert_eq!(owner, if as_root { 65534 } else { uid });
    for file in ["door.db", "door.key", "site-login.json"] {
        let meta = std::fs::metadata(state.join(file)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (owner, owner), "{file} is the service user's");
    }
    assert_eq!(std::fs::metadata(&login).unwrap().permissions().mode() & 0o777, 0o600);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&login).unwrap()).unwrap();
    assert_eq!(stored["broker"]["addresses"], serde_json::json!(["192.0.2.10"]));
    assert!(stored["broker"]["ca"].as_str().unwrap().contains("BEGIN CERTIFICATE"));

    let text = std::fs::read_to_string(&dropin).unwrap();
    let allowed: Vec<&str> = text.lines().filter(|l| l.contains("IPAddress")).collect();
    assert_eq!(allowed, ["IPAddressAllow=192.0.2.10"], "the broker only: {text}");
    // After the broker moved: resolve again, without a bundle; the login keeps its mode.
    std::fs::remove_file(&dropin).unwrap();
    let again = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .arg("--config")
        .arg(&config)
        .args(["join", "--resolve-again", "--network-dropin"])
        .arg(&dropin)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read_to_string(&dropin).unwrap(), text);
    let meta = std::fs::metadata(&login).unwrap();
    assert_eq!((meta.permissions().mode() & 0o777, meta.uid()), (0o600, owner), "still private");
    let unit = unit_in(dir.path(), "facegate-sync.service");
    let out =
        Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&unit).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("broker.conf"), "{stderr}");
}

#[test]
fn a_doors_login_goes_by_default_to_the_state_directory_of_its_services() {
    let login = facegate::config::Config::default().site.login;
    assert!(login.is_absolute(), "{}", login.display());
    assert_eq!(login, std::path::Path::new(facegate::site::DEFAULT_LOGIN));
    assert!(login.starts_with("/var/lib/facegate/"), "{}", login.display());
    let dir = tempfile::tempdir().unwrap();
    for unit in ["facegate.service", "facegate-sync.service"] {
        let settings = unit_settings(&unit_in(dir.path(), unit));
        assert!(settings.contains(&"StateDirectory=facegate".to_string()), "{unit}");
    }
}

#[test]
fn the_gate_has_no_network_and_the_sync_agent_only_what_join_allows() {
    let dir = tempfile::tempdir().unwrap();
    let gate = unit_settings(&unit_in(dir.path(), "facegate.service"));
    assert!(gate.contains(&"PrivateNetwork=yes".to_string()));
    assert!(gate.contains(&"RestrictAddressFamilies=AF_UNIX".to_string()));
    let sync = unit_settings(&unit_in(dir.path(), "facegate-sync.service"));
    assert!(sync.contains(&"IPAddressDeny=any".to_string()));
    assert!(!sync.iter().any(|l| l.starts_with("IPAddressAllow=")), "join adds the broker");
    // Every hardening line of the gate is the sync agent's too, except its network ones.
    let network = ["PrivateNetwork=", "RestrictAddressFamilies="];
    for line in gate.iter().filter(|l| !network.iter().any(|n| l.starts_with(n))) {
        let is_hardening = line.starts_with("Protect")
            || line.starts_with("Restrict")
            || line.starts_with("Private")
            || ["NoNewPrivileges=yes", "LockPersonality=yes", "MemoryDenyWriteExecute=yes"]
                .contains(&line.as_str())
            || line.starts_with("CapabilityBoundingSet=")
            || line.starts_with("SystemCallArchitectures=");
        assert!(!is_hardening || sync.contains(line), "the sync agent lacks {line}");
    }
}
