//! The rendered configuration with TLS: a door connects over TLS, trusting the site's CA, and the
//! broker does not talk the plain protocol.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use facegate::site::broker::{self, BrokerSettings, PasswordHash, TlsFiles};
use facegate::site::ids::SiteId;

use crate::nats_harness::NatsServer;

const PASSWORD: &str = "door password";

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl, installed by ./dev.sh)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A site CA (`ca.pem`) and the broker's certificate for 127.0.0.1 signed by it; the broker's
/// files.
fn site_ca_and_broker_certificate(dir: &Path) -> TlsFiles {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca = ["req", "-x509", "-days", "1", "-subj", "/CN=site-ca", "-keyout", "ca.key"];
    openssl(&[&ca[..], &ec, &["-out", "ca.pem"]].concat(), dir);
    let request = ["req", "-new", "-subj", "/CN=broker", "-keyout", "key.pem", "-out", "req.csr"];
    openssl(&[&request[..], &ec].concat(), dir);
    let extensions = "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
                      extendedKeyUsage=serverAuth\n";
    std::fs::write(dir.join("ext.cnf"), extensions).unwrap();
    let sign = ["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key"];
    openssl(
        &[&sign[..], &["-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "cert.pem"]]
            .concat(),
        dir,
    );
    TlsFiles { cert_file: dir.join("cert.pem"), key_file: dir.join("key.pem") }
}

#[tokio::test]
async fn with_tls_a_door_connects_over_tls_only() {
    let certs = tempfile::tempdir().unwrap();
    let tls = site_ca_and_broker_certificate(certs.path());
    let site: SiteId = "north".parse().unwrap();
    let users = [broker::door_user(
        &site,
        &"gate-1".parse().unwrap(),
        &PasswordHash::of(PASSWORD).unwrap(),
    )];
    let settings = BrokerSettings {
        server_name: "broker-1".into(),
        listen: "127.0.0.1:4222".into(),
        mqtt_listen: None,
        store_dir: None,
        max_memory_store: 64 << 20,
        max_file_store: 256 << 20,
        tls: Some(tls.clone()),
    };
    let server = NatsServer::start_with_config(&broker::render_server_config(&settings, &users));

    let door = async_nats::ConnectOptions::with_user_and_password(
        "door-north-gate-1".into(),
        PASSWORD.into(),
    )
    .custom_inbox_prefix("_INBOX_north_gate-1")
    .add_root_certificates(certs.path().join("ca.pem"))
    .require_tls(true)
    .connect(server.url())
    .await
    .expect("the door connects over TLS, trusting the site's CA");
    door.publish("site.north.door.gate-1.status", "up".into()).await.unwrap();
    door.flush().await.expect("and talks to the broker");

    // A plain client: the server announces TLS as required and does not answer in plain text.
    let plain = TcpStream::connect(server.url().trim_start_matches("nats://")).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut reader = BufReader::new(plain.try_clone().unwrap());
    let mut info = String::new();
    reader.read_line(&mut info).unwrap();
    assert!(info.contains("\"tls_required\":true"), "{info}");
    let hello =
        format!("CONNECT {{\"user\":\"door-north-gate-1\",\"pass\":\"{PASSWORD}\"}}\r\nPING\r\n");
    (&plain).write_all(hello.as_bytes()).unwrap();
    let mut reply = String::new();
    let _ = reader.read_line(&mut reply);
    assert_ne!(reply.trim_end(), "PONG", "no plain-text session");
}
