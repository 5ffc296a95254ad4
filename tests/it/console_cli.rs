//! `facegate console account add|passwd|remove` and `console serve` through the built binary:
//! the account's password from stdin, who can sign in after a new password or a removal, the
//! self-signed certificate made on first start for the names given, its printed fingerprint,
//! and the sign-in page over HTTPS.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use facegate::console::backup::seal_register;
use facegate::console::{SiteFiles, tls};
use facegate::store::{NewResident, Store};

fn account_add(dir: &Path, password: &str) -> std::process::Output {
    account(dir, &["add", "wang", "--role", "manager"], password)
}

/// `facegate console account ARGS --dir DIR` with `stdin`.
fn account(dir: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
    command.args(["console", "account"]).args(args).arg("--dir").arg(dir);
    crate::cli_gate::run_with_stdin(command, stdin)
}

#[test]
fn passwd_and_remove_change_who_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    assert!(account_add(dir.path(), "a long enough password\n").status.success());
    let changed = account(dir.path(), &["passwd", "wang"], "another long password\n");
    assert!(changed.status.success(), "{}", String::from_utf8_lossy(&changed.stderr));
    let db =
        facegate::console::accounts::ConsoleDb::open(&SiteFiles::in_dir(dir.path()).console_db);
    let db = db.unwrap();
    let ok = |password| {
        matches!(
            db.sign_in("wang", password, "10.0.0.1", 1).unwrap(),
            facegate::console::accounts::SignIn::Ok(_)
        )
    };
    assert!(!ok("a long enough password") && ok("another long password"));
    assert!(account(dir.path(), &["remove", "wang"], "").status.success());
    assert!(!ok("another long password"), "removed");
    let again = account(dir.path(), &["remove", "wang"], "");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("there is no account wang"));
}

/// GETs `/login` over TLS, trusting only `cert`, for `name`.
async fn get_login(
    addr: &str,
    cert: &CertificateDer<'static>,
    name: &str,
) -> std::io::Result<String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = connector.connect(ServerName::try_from(name.to_owned()).unwrap(), tcp).await?;
    tls.write_all(b"GET /login HTTP/1.1\r\nHost: console\r\nConnection: close\r\n\r\n").await?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await?;
    Ok(answer)
}

/// A site directory as `site init` makes it (the console serves a site's register).
fn site_init(dir: &Path) {
    let site = facegate::site::controller::SiteDir(dir.to_owned());
    site.init("oak".parse().unwrap(), "nats://127.0.0.1:4222").unwrap();
}

/// Starts `facegate console serve --listen 127.0.0.1:0 ARGS --dir DIR`: the process, the
/// address it listens on and the lines it printed before.
fn serve(dir: &Path, args: &[&str]) -> (Child, String, Vec<String>) {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["console", "serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let addr = loop {
        let line = lines.next().expect("serve prints its address").unwrap();
        if let Some(url) = line.strip_prefix("console at https://") {
            break url.trim_end_matches('/').to_owned();
        }
        printed.push(line);
    };
    std::thread::spawn(move || lines.for_each(drop));
    (serve, addr, printed)
}

#[tokio::test]
async fn serve_makes_a_certificate_for_its_names_prints_its_fingerprint_and_answers_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let files = SiteFiles::in_dir(dir.path());
    site_init(dir.path());
    let short = account_add(dir.path(), "short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let added = account_add(dir.path(), "a long enough password\n");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));

    let (mut serve, addr, printed) = serve(dir.path(), &["--host", "gate-office.local"]);
    let fingerprint = tls::fingerprint(&files.certificate).unwrap();
    assert!(printed.iter().any(|l| l.contains(&fingerprint)), "{printed:?}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&files.private_key).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let cert = CertificateDer::from_pem_file(&files.certificate).unwrap();
    for name in ["gate-office.local", "localhost", "127.0.0.1"] {
        let answer = get_login(&addr, &cert, name).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
        assert!(answer.to_lowercase().contains("strict-transport-security"), "{answer}");
    }
    assert!(
        get_login(&addr, &cert, "elsewhere.example").await.is_err(),
        "a name it was not made for"
    );
    serve.kill().unwrap();
    serve.wait().unwrap();
}

#[test]
fn a_restore_is_refused_while_the_console_serves_the_register() {
    const PASSPHRASE: &str = "a passphrase of the office";
    let dir = tempfile::tempdir().unwrap();
    let files = SiteFiles::in_dir(dir.path());
    site_init(dir.path());
    let mut register = Store::open(&files.register).unwrap();
    let backup = dir.path().join("register.db.age");
    std::fs::write(&backup, seal_register(&register, PASSPHRASE).unwrap()).unwrap();
    let new = NewResident { number: "1201".into(), name: "x".into(), ..Default::default() };
    register.add_resident(&new, 1, "wang").unwrap();
    drop(register);
    let restore = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_facegate"));
        command.args(["console", "restore"]).arg(&backup).arg("--dir").arg(dir.path());
        crate::cli_gate::run_with_stdin(command, &format!("{PASSPHRASE}\n"))
    };
    let resident_kept = || Store::open(&files.register).unwrap().find_resident("1201").unwrap();

    let (mut console, _, _) = serve(dir.path(), &[]);
    let refused = restore();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a restore while the console serves is refused");
    assert!(stderr.contains("the console is running"), "{stderr}");
    assert!(resident_kept().is_some(), "and the register is left as it was");
    let second = serve_refused(dir.path());
    assert!(second.contains("the console is running"), "a second console on it: {second}");

    console.kill().unwrap();
    console.wait().unwrap();
    let restored = restore();
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    assert!(resident_kept().is_none(), "the backup, made before 1201, is in place");
}

/// `facegate console serve` on `dir` that must fail: its stderr.
fn serve_refused(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
        .args(["console", "serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}
