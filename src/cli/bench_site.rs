//! `facegate bench site`: a new door joining a site of N residents. Builds a register in DIR
//! (every resident with a card and a face template, every 100th with a PIN), publishes it to
//! the broker at `--broker` (a nats-server with JetStream, no users: a test broker), then times
//! a new door's sync agent from its start to its full replica.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::credentials::{CardUid, Pin, PinConfig};
use crate::keys::custody::KeyStore;
use crate::site::connect::{BrokerLogin, create_bucket, jetstream};
use crate::site::controller::SiteDir;
use crate::site::site_db::SiteDb;
use crate::site::sync::DoorLogin;
use crate::site::{DoorId, SiteId, publish};
use crate::store::{ConsentGrant, NewResident, Store, StoreConfig};
use crate::vision::Embedding;

pub fn run(residents: usize, broker: &str, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir(dir)
        .with_context(|| format!("cannot create {} (a new folder)", dir.display()))?;
    let site: SiteId = "bench".parse()?;
    let site_dir = SiteDir(dir.join("site"));
    site_dir.init(site.clone(), broker)?;
    let started = Instant::now();
    let mut register = Store::open(&site_dir.register())?;
    fill(&mut register, residents)?;
    let fill_s = started.elapsed().as_secs_f64();

    let rt = super::site::runtime()?;
    let login = BrokerLogin { url: broker.to_owned(), ..BrokerLogin::default() };
    let door_id: DoorId = "new-door".parse()?;
    let door_config = StoreConfig {
        database: dir.join("door.db"),
        key_file: dir.join("door.key"),
        key_store: KeyStore::File,
    };
    let key = site_dir.register().custody().load()?;
    Store::create_with_key(&door_config, &key)?.join_site(&site, &door_id)?;
    let (publish_s, join_s) = rt.block_on(async {
        let door_config = &door_config;
        let js = jetstream(login.connect(&crate::site::site_inbox_prefix(&site)).await?);
        let kv = create_bucket(&js, &site).await?;
        let mut site_db = SiteDb::open(&site_dir.site_db_path())?;
        let started = Instant::now();
        let published = publish::publish(&mut register, &mut site_db, &kv, false).await?;
        let publish_s = started.elapsed().as_secs_f64();
        let door_login = DoorLogin { site: site.clone(), door: door_id, broker: login.clone() };
        let started = Instant::now();
        let agent_config = door_config.clone();
        let agent = tokio::spawn(async move {
            let mut door = Store::open(&agent_config)?;
            crate::site::sync::run(&mut door, &door_login).await?;
            anyhow::Ok(())
        });
        let watcher = Store::open(door_config)?;
        while watcher.replica()?.is_none_or(|r| r.revision < published.revision) {
            anyhow::ensure!(!agent.is_finished(), "the sync agent stopped");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let join_s = started.elapsed().as_secs_f64();
        agent.abort();
        anyhow::Ok((publish_s, join_s))
    })?;
    let records = Store::open(&door_config)?.door_records(false)?.len();
    anyhow::ensure!(records == residents, "the replica holds {records} of {residents} residents");
    println!(
        "{{\"residents\": {residents}, \"register_built_s\": {fill_s:.1}, \"published_s\": {publish_s:.2}, \"new_door_full_replica_s\": {join_s:.2}}}"
    );
    Ok(())
}

/// Adds `count` residents: a card and a face template each, a PIN every 100th (argon2 with
/// small parameters: the record's size is what matters here).
fn fill(register: &mut Store, count: usize) -> anyhow::Result<()> {
    let rules = PinConfig { memory_kib: 256, iterations: 1, ..PinConfig::default() };
    let grant = ConsentGrant {
        text_version: "1.2-file".into(),
        text_sha256: "ab".repeat(32),
        operator: "bench".into(),
        guardian: None,
    };
    for i in 0..count {
        let number = format!("{}", 100_000 + i);
        let new = NewResident {
            number: number.clone(),
            name: format!("Resident {i:05}"),
            unit: format!("{}-{:04}", 1 + i / 2000, i % 2000),
            ..NewResident::default()
        };
        register.add_resident(&new, 0, "bench")?;
        let uid = CardUid::new((i as u32).to_be_bytes().to_vec()).context("card uid")?;
        register.add_card(&number, &uid, "", 0, "bench")?;
        let raw: [f32; 128] = std::array::from_fn(|k| ((i * 131 + k * 7) % 97) as f32 - 48.0);
        let embedding = Embedding::from_raw(raw).context("embedding")?;
        register.enrol(&number, &embedding, Some(&grant), 14, 0)?;
        if i % 100 == 0 {
            register.set_pin(&number, &Pin::parse("482915", &rules)?, &rules, 0, "bench")?;
        }
    }
    Ok(())
}
