//! TLS between a door and the broker, through the product's own login
//! ([`BrokerLogin::connect`]): a door trusting the site CA connects by the addresses resolved
//! at join and checks the certificate against the broker's name; a server of another CA or
//! another name is refused, and the broker does not talk the plain protocol. The site refuses
//! a plain link or a plain listener off loopback.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use facegate::site::broker::{self, BrokerSettings, PasswordHash, TlsFiles};
use facegate::site::broker_config::{self, ServerSection};
use facegate::site::connect::BrokerLogin;
use facegate::site::controller::SiteDir;
use facegate::site::ids::SiteId;
use facegate::site::join::broker_addresses;

use crate::nats_harness::NatsServer;

const PASSWORD: &str = "door password";
/// The broker's name in its certificate: never resolves (RFC 6761), as on a door without DNS.
const BROKER_NAME: &str = "broker.invalid";

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl, installed by ./dev.sh)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA (`ca.pem`) and the broker's certificate for `DNS:broker.invalid` signed by it; the
/// broker's files.
fn ca_and_broker_certificate(dir: &Path) -> TlsFiles {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca = ["req", "-x509", "-days", "1", "-subj", "/CN=site-ca", "-keyout", "ca.key"];
    openssl(&[&ca[..], &ec, &["-out", "ca.pem"]].concat(), dir);
    let request = ["req", "-new", "-subj", "/CN=broker", "-keyout", "key.pem", "-out", "req.csr"];
    openssl(&[&request[..], &ec].concat(), dir);
    let extensions = format!(
        "subjectAltName=DNS:{BROKER_NAME}\nbasicConstraints=critical,CA:FALSE\n\
         extendedKeyUsage=serverAuth\n"
    );
    std::fs::write(dir.join("ext.cnf"), extensions).unwrap();
    let sign = ["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key"];
    openssl(
        &[&sign[..], &["-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "cert.pem"]]
            .concat(),
        dir,
    );
    TlsFiles { cert_file: dir.join("cert.pem"), key_file: dir.join("key.pem") }
}

/// A broker with TLS (the certificate of `tls`) and the user of door `gate-1` of site `north`.
fn tls_broker(tls: TlsFiles) -> NatsServer {
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
        tls: Some(tls),
    };
    NatsServer::start_with_config(&broker::render_server_config(&settings, &users))
}

/// Door `gate-1`'s login as `facegate join` leaves it: the broker by name, the address resolved
/// at join (loopback here), the CA of `ca_pem`.
fn door_login(server: &NatsServer, host: &str, ca_pem: &Path) -> BrokerLogin {
    let port = server.url().rsplit(':').next().unwrap().to_owned();
    BrokerLogin {
        url: format!("tls://{host}:{port}"),
        user: Some("door-north-gate-1".into()),
        password: Some(PASSWORD.into()),
        ca: Some(std::fs::read_to_string(ca_pem).unwrap()),
        addresses: vec!["127.0.0.1".parse().unwrap()],
    }
}

/// Whether a client of `login` publishes and gets the broker's answer within 5 s.
async fn talks(login: &BrokerLogin) -> bool {
    let client = login.connect("_INBOX_north_gate-1").await.expect("a valid login");
    let exchange = async {
        client.publish("site.north.door.gate-1.status", "up".into()).await?;
        client.flush().await.map_err(async_nats::Error::from)
    };
    matches!(tokio::time::timeout(Duration::from_secs(5), exchange).await, Ok(Ok(())))
}

#[tokio::test]
async fn a_door_reaches_the_broker_by_its_join_addresses_over_tls_checked_against_its_name() {
    let certs = tempfile::tempdir().unwrap();
    let server = tls_broker(ca_and_broker_certificate(certs.path()));
    assert!(broker_addresses(&format!("tls://{BROKER_NAME}")).is_err(), "the name never resolves");
    let login = door_login(&server, BROKER_NAME, &certs.path().join("ca.pem"));
    assert!(talks(&login).await, "the door connects over TLS, trusting the site's CA");

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

#[tokio::test]
async fn a_door_refuses_a_broker_of_another_ca_or_another_name() {
    let certs = tempfile::tempdir().unwrap();
    let server = tls_broker(ca_and_broker_certificate(certs.path()));
    let other = tempfile::tempdir().unwrap();
    ca_and_broker_certificate(other.path());
    let foreign_ca = door_login(&server, BROKER_NAME, &other.path().join("ca.pem"));
    assert!(!talks(&foreign_ca).await, "a certificate of another CA is refused");
    let wrong_name = door_login(&server, "other.invalid", &certs.path().join("ca.pem"));
    assert!(!talks(&wrong_name).await, "a certificate for another name is refused");
    let right = door_login(&server, BROKER_NAME, &certs.path().join("ca.pem"));
    assert!(talks(&right).await, "the same broker with the site CA and its name");
}

#[tokio::test]
async fn the_site_refuses_a_plain_link_or_listener_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let site = || "oak".parse().unwrap();
    let refused = |url: &str, ca: Option<String>| {
        let err = SiteDir(dir.path().join("s")).init_with_ca(site(), url, ca).err().unwrap();
        assert!(!dir.path().join("s/site.toml").exists(), "{url}: nothing written");
        err.to_string()
    };
    assert!(refused("nats://192.0.2.10:4222", None).contains("use tls://"));
    assert!(refused("tls://broker.example:4222", None).contains("no site CA"));
    let link = BrokerLogin { url: "nats://192.0.2.10:4222".into(), ..BrokerLogin::default() };
    let Err(err) = link.connect("_INBOX_oak__site").await else {
        panic!("a plain link off loopback is refused before dialling")
    };
    assert!(err.to_string().contains("use tls://"), "{err}");

    let site_dir = SiteDir(dir.path().join("loopback"));
    let mut settings = site_dir.init(site(), "nats://127.0.0.1:4222").unwrap();
    let server = format!("listen = \"0.0.0.0:4222\"\nstore_dir = {:?}\n", dir.path().join("js"));
    settings.server = Some(toml::from_str::<ServerSection>(&server).unwrap());
    let text = toml::to_string(&settings).unwrap();
    std::fs::write(site_dir.settings_path(), text).unwrap();
    let Err(err) = broker_config::render(&site_dir) else {
        panic!("no plain listener on every address")
    };
    assert!(err.to_string().contains("set tls_cert and tls_key"), "{err}");
    settings.server.as_mut().unwrap().listen = "127.0.0.1:4222".into();
    std::fs::write(site_dir.settings_path(), toml::to_string(&settings).unwrap()).unwrap();
    assert!(broker_config::render(&site_dir).is_ok(), "on loopback it may");
}
