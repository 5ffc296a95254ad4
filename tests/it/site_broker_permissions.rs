//! The rendered broker configuration against a real nats-server: a door's credentials watch
//! its site's bucket and send under its own id, and nothing else. Every refusal is the server's
//! own permission error for the exact subject, not just a failed call.

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use async_nats::{ConnectOptions, Event, ServerError};
use facegate::site::broker::{self, BrokerSettings, PasswordHash};
use facegate::site::ids::{DoorId, SiteId};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::nats_harness::NatsServer;

const NORTH: &str = "north";
const SOUTH: &str = "south";

fn site(name: &str) -> SiteId {
    name.parse().unwrap()
}

fn door(name: &str) -> DoorId {
    name.parse().unwrap()
}

/// A user's password in these tests: its name reversed (each user's differs).
fn password(user: &str) -> String {
    user.chars().rev().collect()
}

/// A broker with sites north (doors gate-1 and gate-2) and south, from the rendered configuration.
fn site_broker() -> NatsServer {
    let hash = |user: &str| PasswordHash::of(&password(user)).unwrap();
    let users = [
        broker::site_user(&site(NORTH), &hash("site-north")),
        broker::door_user(&site(NORTH), &door("gate-1"), &hash("door-north-gate-1")),
        broker::door_user(&site(NORTH), &door("gate-2"), &hash("door-north-gate-2")),
        broker::site_user(&site(SOUTH), &hash("site-south")),
    ];
    let settings = BrokerSettings {
        server_name: "broker-1".into(),
        listen: "127.0.0.1:4222".into(),
        mqtt_listen: None,
        store_dir: None,
        max_memory_store: 64 << 20,
        max_file_store: 256 << 20,
        tls: None,
    };
    NatsServer::start_with_config(&broker::render_server_config(&settings, &users))
}

/// A connected user and the errors the server sent it.
struct Client {
    js: jetstream::Context,
    client: async_nats::Client,
    server_errors: mpsc::UnboundedReceiver<ServerError>,
}

impl Client {
    async fn connect(server: &NatsServer, user: &str, inbox_prefix: &str) -> Client {
        Client::try_connect(server, user, &password(user), inbox_prefix).await.expect("connects")
    }

    async fn try_connect(
        server: &NatsServer,
        user: &str,
        password: &str,
        inbox_prefix: &str,
    ) -> Result<Client, async_nats::ConnectError> {
        let (sender, server_errors) = mpsc::unbounded_channel();
        let client = ConnectOptions::with_user_and_password(user.into(), password.into())
            .custom_inbox_prefix(inbox_prefix)
            .event_callback(move |event| {
                let sender = sender.clone();
                async move {
                    if let Event::ServerError(error) = event {
                        let _ = sender.send(error);
                    }
                }
            })
            .connect(server.url())
            .await?;
        // Short, so that a refused request (which the server does not answer) fails quickly.
        let js =
            jetstream::ContextBuilder::new().timeout(Duration::from_secs(1)).build(client.clone());
        Ok(Client { js, client, server_errors })
    }

    async fn site(server: &NatsServer, name: &str) -> Client {
        let site = site(name);
        Client::connect(server, &format!("site-{name}"), &broker::site_inbox_prefix(&site)).await
    }

    async fn door(server: &NatsServer, name: &str) -> Client {
        let prefix = broker::door_inbox_prefix(&site(NORTH), &door(name));
        Client::connect(server, &format!("door-north-{name}"), &prefix).await
    }

    /// The next server error is the permission error for `action` ("Publish" or "Subscription")
    /// on exactly `subject`.
    async fn assert_refused(&mut self, action: &str, subject: &str) {
        let expected = format!("Permissions Violation for {action} to \"{subject}\"");
        let error = tokio::time::timeout(Duration::from_secs(5), self.server_errors.recv()).await;
        match error {
            Ok(Some(ServerError::Other(text))) => assert_eq!(text, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }

    /// The site's bucket, asked again until the client has reconnected to a restarted broker.
    async fn bucket_after_restart(&self, name: &str) -> kv::Store {
        let bucket = broker::bucket(&site(name));
        for _ in 0..30 {
            if let Ok(store) = self.js.get_key_value(&bucket).await {
                return store;
            }
        }
        panic!("no answer from the restarted broker within 30 tries");
    }

    /// The server has sent this client no error.
    async fn assert_no_server_error(&mut self) {
        self.client.flush().await.unwrap();
        let error =
            tokio::time::timeout(Duration::from_millis(300), self.server_errors.recv()).await;
        assert!(error.is_err(), "unexpected server error: {error:?}");
    }
}

/// Creates a site's KV bucket. Not with async-nats 0.51's `create_key_value`: it first asks for
/// the account's info, whose nats-server 2.9 answer lacks `reserved_memory` and does not parse.
/// So the bucket's stream with the settings that `create_key_value` gives it.
async fn create_bucket(client: &Client, site_name: &str) -> kv::Store {
    let bucket = broker::bucket(&site(site_name));
    client
        .js
        .create_stream(stream::Config {
            name: format!("KV_{bucket}"),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 5,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .expect("the site creates its bucket's stream");
    client.js.get_key_value(bucket).await.expect("the site opens its bucket")
}

/// The north site controller creates its bucket (with one record) and its stream.
async fn north_site_with_a_record(server: &NatsServer) -> (Client, kv::Store) {
    let site_client = Client::site(server, NORTH).await;
    let records = create_bucket(&site_client, NORTH).await;
    records.put("r.1", "record one".into()).await.expect("the site writes a record");
    site_client
        .js
        .create_stream(stream::Config {
            name: broker::stream(&site(NORTH)),
            subjects: vec!["site.north.door.>".into()],
            ..Default::default()
        })
        .await
        .expect("the site creates its stream");
    (site_client, records)
}

/// The watch's next entry. A watch whose broker went away yields an error (a missed heartbeat)
/// and goes on once its consumer is re-created: such errors are passed over.
async fn next_entry(watch: &mut kv::Watch) -> kv::Entry {
    let entry = async {
        loop {
            match watch.next().await.expect("the watch goes on") {
                Ok(entry) => return entry,
                Err(error) => eprintln!("watch: {error}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), entry).await.expect("an entry within 30 s")
}

#[tokio::test]
async fn a_door_watches_its_sites_bucket_and_sends_under_its_own_id() {
    let mut server = site_broker();
    let (mut site_client, records) = north_site_with_a_record(&server).await;
    let mut door = Client::door(&server, "gate-1").await;

    let bucket =
        door.js.get_key_value(broker::bucket(&site(NORTH))).await.expect("door opens bucket");
    let mut watch = bucket.watch_all_from_revision(1).await.expect("door watches the bucket");
    let first = next_entry(&mut watch).await;
    assert_eq!((first.key.as_str(), &first.value[..]), ("r.1", &b"record one"[..]));
    records.put("r.2", "record two".into()).await.unwrap();
    assert_eq!(next_entry(&mut watch).await.key, "r.2", "a live change reaches the door");

    // The broker crashes; the watch's consumer is re-created (under a new name) and goes on.
    server.kill9();
    server.restart();
    let records = site_client.bucket_after_restart(NORTH).await;
    records.delete("r.1").await.expect("the site deletes after the restart");
    let deleted = next_entry(&mut watch).await;
    assert_eq!((deleted.key.as_str(), deleted.operation), ("r.1", kv::Operation::Delete));

    let ack = door
        .js
        .send_publish(
            "site.north.door.gate-1.event",
            jetstream::message::PublishMessage::build()
                .message_id("gate-1-1")
                .payload("opened".into()),
        )
        .await
        .expect("door publishes its own subject")
        .await
        .expect("the stream stores it");
    assert_eq!(ack.stream, broker::stream(&site(NORTH)));

    let from_doors = site_client.js.get_stream(broker::stream(&site(NORTH))).await.unwrap();
    let consumer = from_doors
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("audit".into()),
            ..Default::default()
        })
        .await
        .expect("the site creates its consumer");
    let mut messages = consumer.fetch().max_messages(1).messages().await.expect("the site fetches");
    let message = messages.next().await.expect("one message").expect("readable");
    assert_eq!(&message.payload[..], b"opened");
    message.ack().await.expect("the site acks");

    door.assert_no_server_error().await;
    site_client.assert_no_server_error().await;
}

#[tokio::test]
async fn a_door_cannot_write_or_delete_records() {
    let server = site_broker();
    let (_site_client, records) = north_site_with_a_record(&server).await;
    let mut door = Client::door(&server, "gate-1").await;
    let bucket = door.js.get_key_value(broker::bucket(&site(NORTH))).await.unwrap();

    let put = bucket.put("r.9", "forged".into()).await;
    assert_eq!(put.unwrap_err().kind(), kv::PutErrorKind::Ack, "no ack for a refused put");
    door.assert_refused("Publish", "$KV.site-north-doors.r.9").await;
    assert!(bucket.delete("r.1").await.is_err());
    door.assert_refused("Publish", "$KV.site-north-doors.r.1").await;
    assert!(bucket.purge("r.1").await.is_err());
    door.assert_refused("Publish", "$KV.site-north-doors.r.1").await;

    let record = records.get("r.1").await.unwrap();
    assert_eq!(record.as_deref(), Some(&b"record one"[..]), "the record is untouched");
    assert_eq!(records.get("r.9").await.unwrap(), None, "no forged record");
}

#[tokio::test]
async fn a_door_cannot_read_another_site_or_act_as_another_door() {
    let server = site_broker();
    let (site_client, _records) = north_site_with_a_record(&server).await;
    let south = Client::site(&server, SOUTH).await;
    create_bucket(&south, SOUTH).await;
    let mut door = Client::door(&server, "gate-1").await;

    assert!(door.js.get_key_value("site-south-doors").await.is_err());
    door.assert_refused("Publish", "$JS.API.STREAM.INFO.KV_site-south-doors").await;

    door.client.publish("site.north.door.gate-2.event", "forged".into()).await.unwrap();
    door.assert_refused("Publish", "site.north.door.gate-2.event").await;
    let from_doors = site_client.js.get_stream(broker::stream(&site(NORTH))).await.unwrap();
    assert!(
        from_doors.get_last_raw_message_by_subject("site.north.door.gate-2.event").await.is_err(),
        "nothing stored as gate-2"
    );

    let _inbox = door.client.subscribe("_INBOX_north_gate-2.>").await.unwrap();
    door.assert_refused("Subscription", "_INBOX_north_gate-2.>").await;
    let _events = door.client.subscribe("site.north.door.>").await.unwrap();
    door.assert_refused("Subscription", "site.north.door.>").await;

    let stolen = Client::try_connect(
        &server,
        "door-north-gate-2",
        &password("door-north-gate-1"),
        "_INBOX_north_gate-2",
    )
    .await;
    assert!(
        matches!(stolen, Err(ref e) if e.kind() == async_nats::ConnectErrorKind::AuthorizationViolation),
        "{:?}",
        stolen.err()
    );
}

#[tokio::test]
async fn a_door_cannot_create_or_delete_streams() {
    let server = site_broker();
    let (site_client, _records) = north_site_with_a_record(&server).await;
    let mut door = Client::door(&server, "gate-1").await;

    let created = door
        .js
        .create_stream(stream::Config {
            name: "grab".into(),
            subjects: vec!["site.>".into()],
            ..Default::default()
        })
        .await;
    assert!(created.is_err());
    door.assert_refused("Publish", "$JS.API.STREAM.CREATE.grab").await;
    for name in ["KV_site-north-doors", "site-north-from-doors"] {
        assert!(door.js.delete_stream(name).await.is_err());
        door.assert_refused("Publish", &format!("$JS.API.STREAM.DELETE.{name}")).await;
        site_client.js.get_stream(name).await.expect("the stream is still there");
    }
}

#[tokio::test]
async fn one_site_controller_cannot_touch_another_sites_bucket() {
    let server = site_broker();
    let (_site_client, records) = north_site_with_a_record(&server).await;
    let mut south = Client::site(&server, SOUTH).await;

    assert!(south.js.get_key_value("site-north-doors").await.is_err());
    south.assert_refused("Publish", "$JS.API.STREAM.INFO.KV_site-north-doors").await;
    south.client.publish("$KV.site-north-doors.r.1", "forged".into()).await.unwrap();
    south.assert_refused("Publish", "$KV.site-north-doors.r.1").await;
    assert_eq!(records.get("r.1").await.unwrap().as_deref(), Some(&b"record one"[..]));
}

#[tokio::test]
async fn a_door_catches_up_on_a_large_bucket_under_flow_control() {
    let server = site_broker();
    let (mut site_client, records) = north_site_with_a_record(&server).await;
    let count = 3000;
    for i in 2..=count {
        records.put(format!("r.{i}"), vec![b'x'; 8192].into()).await.unwrap();
    }
    let mut door = Client::door(&server, "gate-1").await;
    let bucket = door.js.get_key_value(broker::bucket(&site(NORTH))).await.unwrap();
    let mut watch = bucket.watch_all_from_revision(1).await.unwrap();
    for revision in 1..=count {
        assert_eq!(next_entry(&mut watch).await.revision, revision);
    }
    door.assert_no_server_error().await;
    site_client.assert_no_server_error().await;
}

/// A north door's connection attempt with its own password.
async fn try_door(server: &NatsServer, name: &str) -> Result<Client, async_nats::ConnectError> {
    let user = format!("door-north-{name}");
    let prefix = broker::door_inbox_prefix(&site(NORTH), &door(name));
    Client::try_connect(server, &user, &password(&user), &prefix).await
}

#[tokio::test]
async fn a_reloaded_configuration_adds_and_removes_doors_without_a_restart() {
    let store = tempfile::tempdir().unwrap();
    let hash = |user: &str| PasswordHash::of(&password(user)).unwrap();
    let config = |doors: &[&str]| {
        let mut users = vec![broker::site_user(&site(NORTH), &hash("site-north"))];
        for name in doors {
            let user = format!("door-north-{name}");
            users.push(broker::door_user(&site(NORTH), &door(name), &hash(&user)));
        }
        let settings = BrokerSettings {
            server_name: "broker-1".into(),
            listen: "127.0.0.1:4222".into(),
            mqtt_listen: None,
            store_dir: Some(store.path().to_path_buf()),
            max_memory_store: 64 << 20,
            max_file_store: 256 << 20,
            tls: None,
        };
        broker::render_server_config(&settings, &users)
    };
    let refused = |result: Result<Client, async_nats::ConnectError>| matches!(result, Err(e) if e.kind() == async_nats::ConnectErrorKind::AuthorizationViolation);
    let mut server = NatsServer::start_with_config(&config(&["gate-1"]));
    Client::door(&server, "gate-1").await;
    assert!(refused(try_door(&server, "gate-2").await), "gate-2 is not a door yet");

    server.reload_config(&config(&["gate-2"]));
    assert!(try_door(&server, "gate-2").await.is_ok(), "gate-2 connects after the reload");
    assert!(refused(try_door(&server, "gate-1").await), "gate-1 was removed");
    assert!(store.path().join("jetstream").is_dir(), "the configuration's store dir is used");
}

#[tokio::test]
async fn a_door_creating_watches_without_end_is_refused_at_the_limit_and_the_site_goes_on() {
    let server = site_broker();
    let (site_client, records) = north_site_with_a_record(&server).await;
    let door = Client::door(&server, "gate-1").await;
    let bucket = door.js.get_key_value(broker::bucket(&site(NORTH))).await.unwrap();
    // North's account has three users: the controller and two doors.
    let limit = (broker::CONSUMERS_PER_USER * 3 + broker::CONSUMERS_SPARE) as usize;
    let mut watches = Vec::new();
    let refused = loop {
        match bucket.watch_all().await {
            Ok(watch) if watches.len() <= limit => watches.push(watch),
            Ok(_) => panic!("more than {limit} watches allowed"),
            Err(error) => break error,
        }
    };
    assert_eq!(watches.len(), limit, "refused at the limit: {refused}");
    assert!(format!("{refused:?}").contains("maximum consumers limit reached"), "{refused:?}");

    // The site goes on: it writes records, and consumes what doors send (another stream).
    records.put("r.2", "record two".into()).await.expect("the site still writes");
    let event =
        jetstream::message::PublishMessage::build().message_id("gate-1-1").payload("opened".into());
    let sent = door.js.send_publish("site.north.door.gate-1.event", event).await.unwrap();
    sent.await.expect("the door's message is stored");
    let from_doors = site_client.js.get_stream(broker::stream(&site(NORTH))).await.unwrap();
    let consumer = from_doors
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("site".into()),
            ..Default::default()
        })
        .await
        .expect("the site creates its consumer");
    let mut messages = consumer.fetch().max_messages(1).messages().await.unwrap();
    let message = messages.next().await.expect("one message").expect("readable");
    assert_eq!(&message.payload[..], b"opened");

    // What the limit does not prevent: meanwhile, the other doors cannot start a watch either.
    let other = Client::door(&server, "gate-2").await;
    let other_bucket = other.js.get_key_value(broker::bucket(&site(NORTH))).await.unwrap();
    assert!(other_bucket.watch_all().await.is_err(), "the limit is the stream's, not the door's");
}
