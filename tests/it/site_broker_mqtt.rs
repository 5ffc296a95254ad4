//! The broker's MQTT listener for home automation (Home Assistant), with the rendered
//! configuration: the automation user receives the doors' alarms over MQTT and nothing else, and
//! a door's credentials do not work there.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use facegate::site::broker::{self, BrokerSettings, PasswordHash};
use facegate::site::ids::SiteId;

use crate::nats_harness::{NatsServer, free_port};

const AUTOMATION_PASSWORD: &str = "automation password";
const DOOR_PASSWORD: &str = "door password";

/// A broker for site north with door gate-1, its automation user and an MQTT listener on a free
/// port; the server and that port.
fn broker_with_mqtt() -> (NatsServer, u16) {
    let site: SiteId = "north".parse().unwrap();
    let door = "gate-1".parse().unwrap();
    let users = [
        broker::door_user(&site, &door, &PasswordHash::of(DOOR_PASSWORD).unwrap()),
        broker::automation_user(&site, &PasswordHash::of(AUTOMATION_PASSWORD).unwrap()),
    ];
    let mqtt_port = free_port();
    let settings = BrokerSettings {
        server_name: "broker-1".into(),
        listen: "127.0.0.1:4222".into(),
        mqtt_listen: Some(format!("127.0.0.1:{mqtt_port}")),
        store_dir: None,
        max_memory_store: 64 << 20,
        max_file_store: 256 << 20,
        tls: None,
    };
    (NatsServer::start_with_config(&broker::render_server_config(&settings, &users)), mqtt_port)
}

/// A minimal MQTT 3.1.1 client (QoS 0), enough to act as Home Assistant does.
struct Mqtt {
    stream: TcpStream,
}

fn with_length(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

impl Mqtt {
    /// Connects and returns the CONNACK's return code (0 accepted, 5 not authorised) with the
    /// client.
    fn connect(port: u16, user: &str, password: &str) -> io::Result<(u8, Mqtt)> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut client = Mqtt { stream };
        let mut body = with_length(b"MQTT");
        // Level 4 (3.1.1); flags: user name, password, clean session; keep-alive 60 s.
        body.extend_from_slice(&[4, 0xC2, 0, 60]);
        for field in ["home-assistant", user, password] {
            body.extend(with_length(field.as_bytes()));
        }
        client.send(0x10, &body)?;
        let (kind, reply) = client.receive()?;
        assert_eq!((kind, reply.len()), (0x20, 2), "CONNACK");
        Ok((reply[1], client))
    }

    fn send(&mut self, header: u8, body: &[u8]) -> io::Result<()> {
        let mut packet = vec![header];
        let mut length = body.len();
        loop {
            let byte = (length % 128) as u8;
            length /= 128;
            packet.push(if length > 0 { byte | 0x80 } else { byte });
            if length == 0 {
                break;
            }
        }
        packet.extend_from_slice(body);
        self.stream.write_all(&packet)
    }

    /// One packet: its type byte and body.
    fn receive(&mut self) -> io::Result<(u8, Vec<u8>)> {
        let mut byte = [0];
        self.stream.read_exact(&mut byte)?;
        let kind = byte[0];
        let (mut length, mut shift) = (0usize, 0);
        loop {
            self.stream.read_exact(&mut byte)?;
            length |= usize::from(byte[0] & 0x7F) << shift;
            shift += 7;
            if byte[0] & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body)?;
        Ok((kind, body))
    }

    /// Subscribes to one topic filter at QoS 0; the SUBACK's return code (0x80 = refused).
    fn subscribe(&mut self, packet_id: u16, filter: &str) -> io::Result<u8> {
        let mut body = packet_id.to_be_bytes().to_vec();
        body.extend(with_length(filter.as_bytes()));
        body.push(0);
        self.send(0x82, &body)?;
        let (kind, reply) = self.receive()?;
        assert_eq!((kind, &reply[..2]), (0x90, &packet_id.to_be_bytes()[..]), "SUBACK");
        Ok(reply[2])
    }

    /// A PINGREQ answered: every packet this client sent before has been handled.
    fn ping(&mut self) -> io::Result<()> {
        self.send(0xC0, &[])?;
        let (kind, _) = self.receive()?;
        assert_eq!(kind, 0xD0, "PINGRESP (and no message before it)");
        Ok(())
    }

    fn publish(&mut self, topic: &str, payload: &[u8]) -> io::Result<()> {
        let mut body = with_length(topic.as_bytes());
        body.extend_from_slice(payload);
        self.send(0x30, &body)
    }

    /// The next PUBLISH: its topic and payload.
    fn next_message(&mut self) -> io::Result<(String, Vec<u8>)> {
        let (kind, body) = self.receive()?;
        assert_eq!(kind & 0xF0, 0x30, "PUBLISH");
        let topic_length = usize::from(u16::from_be_bytes([body[0], body[1]]));
        let topic = String::from_utf8_lossy(&body[2..2 + topic_length]).into_owned();
        Ok((topic, body[2 + topic_length..].to_vec()))
    }
}

async fn door_client(server: &NatsServer) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(
        "door-north-gate-1".into(),
        DOOR_PASSWORD.into(),
    )
    .custom_inbox_prefix("_INBOX_north_gate-1")
    .connect(server.url())
    .await
    .expect("the door connects over NATS")
}

#[tokio::test]
async fn home_automation_receives_door_alarms_over_mqtt_and_nothing_else() {
    let (server, mqtt_port) = broker_with_mqtt();
    let (code, mut automation) =
        Mqtt::connect(mqtt_port, "automation-north", AUTOMATION_PASSWORD).unwrap();
    assert_eq!(code, 0, "the automation user connects over MQTT");
    assert_eq!(automation.subscribe(1, "site/north/door/+/alarm").unwrap(), 0);
    assert_eq!(
        automation.subscribe(2, "site/north/door/+/event").unwrap(),
        0x80,
        "no access events"
    );
    assert_eq!(automation.subscribe(3, "#").unwrap(), 0x80, "not everything");

    // A publish is refused: not even this subscriber gets it back.
    automation.publish("site/north/door/gate-1/alarm", b"forged").unwrap();
    automation.ping().unwrap();

    let door = door_client(&server).await;
    door.publish("site.north.door.gate-1.event", "opened".into()).await.unwrap();
    door.publish("site.north.door.gate-1.alarm", "forced open".into()).await.unwrap();
    door.flush().await.unwrap();
    let (topic, payload) = tokio::task::spawn_blocking(move || automation.next_message())
        .await
        .unwrap()
        .expect("the alarm arrives");
    assert_eq!(
        (topic.as_str(), &payload[..]),
        ("site/north/door/gate-1/alarm", &b"forced open"[..])
    );
}

#[tokio::test]
async fn credentials_work_on_their_own_listener_only() {
    let (server, mqtt_port) = broker_with_mqtt();
    let (code, _) = Mqtt::connect(mqtt_port, "door-north-gate-1", DOOR_PASSWORD).unwrap();
    assert_eq!(code, 5, "a door's credentials are not authorised over MQTT");
    let automation_over_nats = async_nats::ConnectOptions::with_user_and_password(
        "automation-north".into(),
        AUTOMATION_PASSWORD.into(),
    )
    .connect(server.url())
    .await;
    let error = automation_over_nats.err().map(|e| e.kind());
    assert_eq!(error, Some(async_nats::ConnectErrorKind::AuthorizationViolation));
}
