//! Remote unlock through the site (issues 17 and 18), on a real nats-server: the console's
//! request goes through `site.db`, the controller (`c.<door>`), the door's sync agent and its
//! database to a gate ticking on the wall clock. The strike opens once for a fresh command,
//! never twice for one id (a replayed bucket entry, a reconnect), never for one that reached
//! the door after its expiry by the door's clock; each door's report reaches the site's audit.

use std::time::{Duration, Instant};

use facegate::config::Config;
use facegate::door::{DoorController, Output, SimGpio};
use facegate::runtime::{Event, Gate, PhotoCamera};
use facegate::site::commands::{self, DoorCommand};
use facegate::site::site_db::SiteDb;
use facegate::store::unix_now;
use facegate::vision::{FaceEngine, FakeEngine};

use crate::site_rig::*;

/// A gate on a door's database, its clock `skew` seconds off the site's.
pub struct RunningGate {
    gate: Gate<PhotoCamera, DoorController<SimGpio>>,
    pub gpio: SimGpio,
    started: Instant,
    unlocks: usize,
    strike_seen: bool,
}

impl RunningGate {
    pub fn new(door: &Door, skew: i64) -> Self {
        let config = Config::default();
        let gpio = SimGpio::default();
        let controller = DoorController::new(gpio.clone(), config.door.clone(), 0).unwrap();
        let faces: Box<dyn FaceEngine> = Box::new(FakeEngine::default());
        let at = unix_now() + skew;
        let gate = Gate::new(
            config.gate_settings(),
            door.open(),
            Ok(faces),
            PhotoCamera::default(),
            controller,
            at,
        )
        .unwrap();
        Self { gate, gpio, started: Instant::now(), unlocks: 0, strike_seen: false }
    }

    /// Ticks every 50 ms for `length`, or until `until` holds; counts remote unlocks.
    pub fn run(&mut self, length: Duration, mut until: impl FnMut(&Self) -> bool) {
        let ends = Instant::now() + length;
        while Instant::now() < ends && !until(self) {
            let now = self.started.elapsed().as_millis() as u64;
            for event in self.gate.tick(now).unwrap() {
                if event == (Event::Door { what: "RemoteUnlock".into() }) {
                    self.unlocks += 1;
                    self.strike_seen |= self.gpio.output(Output::Strike);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Puts a command under `c.<door>` directly, as a replayed or forged-by-the-site entry would be.
fn put_command(site: &Site, command: &DoorCommand) {
    let url = site.server.url();
    let bucket = facegate::site::bucket(&site.site);
    let json = serde_json::to_vec(command).unwrap();
    site.rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let kv = async_nats::jetstream::new(client).get_key_value(bucket).await.unwrap();
        kv.put(commands::key(&command.door), json.into()).await.unwrap();
    });
}

fn reported(site_db: &SiteDb, id: &str) -> Option<String> {
    site_db.command(id).unwrap().and_then(|c| c.reported_at.and(c.outcome))
}

#[test]
fn a_remote_unlock_opens_the_strike_once_in_time_and_never_again_nor_late() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 2, 2);
    let mut north = site.door("north", false);
    let mut south = site.door("south", false);
    let site_db = site.site_db(); // the rig added both doors to site.db
    site.start_controller();
    site.start_agent(&mut north);
    site.start_agent(&mut south);
    wait_until(Duration::from_secs(30), || {
        north.records().len() == 2 && south.records().len() == 2
    })
    .expect("both doors catch up");
    let mut gate = RunningGate::new(&north, 0);
    // South's clock runs a minute ahead: every command reaches it after its expiry.
    let mut late_gate = RunningGate::new(&south, 60);

    let asked = Instant::now();
    let command = commands::remote_unlock(
        &site_db,
        &mut site.register(),
        &north.id,
        "plumber for 1203",
        "wang",
        unix_now(),
    )
    .unwrap();
    gate.run(Duration::from_secs(15), |g| g.unlocks > 0);
    assert_eq!(gate.unlocks, 1, "a fresh command opens the door");
    assert!(gate.strike_seen, "the strike is released");
    println!("remote unlock: console → strike in {:?}", asked.elapsed());
    gate.run(Duration::from_secs(2), |_| false);
    assert_eq!(gate.unlocks, 1, "once");

    put_command(&site, &command);
    gate.run(Duration::from_secs(2), |_| false);
    assert_eq!(gate.unlocks, 1, "a replayed entry never opens twice");
    north.stop_agent();
    site.start_agent(&mut north);
    gate.run(Duration::from_secs(2), |_| false);
    assert_eq!(gate.unlocks, 1, "nor does a reconnect");

    let late = commands::remote_unlock(
        &site_db,
        &mut site.register(),
        &south.id,
        "courier",
        "wang",
        unix_now(),
    )
    .unwrap();
    wait_until(Duration::from_secs(15), || {
        late_gate.run(Duration::from_millis(200), |_| false);
        reported(&site_db, &late.id).is_some()
    })
    .expect("south reports the late command");
    assert_eq!(late_gate.unlocks, 0, "a command past its expiry by the door's clock never opens");
    assert_eq!(reported(&site_db, &late.id).as_deref(), Some("expired"));

    wait_until(Duration::from_secs(15), || reported(&site_db, &command.id).is_some())
        .expect("north reports its command");
    assert_eq!(reported(&site_db, &command.id).as_deref(), Some("opened"));
    let audit = site.register().audit_entries(None).unwrap();
    let about = |id: &str, outcome: &str| {
        let wanted = format!("command {} {outcome}", commands::short(id));
        audit.iter().filter(|e| e.kind == "remote_unlock" && e.detail.ends_with(&wanted)).count()
    };
    assert_eq!(about(&command.id, "opened"), 1, "the site's audit shows north's report once");
    assert_eq!(about(&late.id, "expired"), 1, "and south's");
    let asked: Vec<_> = audit.iter().filter(|e| e.kind == "remote_unlock_requested").collect();
    assert_eq!(asked.len(), 2);
    assert!(asked[0].detail.contains("by wang: plumber for 1203"), "{}", asked[0].detail);
}
