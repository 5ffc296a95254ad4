//! A site and its doors for the site-mode tests: a real nats-server, the site controller and
//! the doors' sync agents as tasks of one runtime (or as `facegate` processes), each door with
//! its own database; helpers to change the register as a manager would and to wait until
//! every replica equals the register.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use facegate::credentials::{CardUid, Pin, PinConfig};
use facegate::keys::SiteKey;
use facegate::keys::custody::KeyStore;
use facegate::site::connect::BrokerLogin;
use facegate::site::controller::{SiteController, SiteDir};
use facegate::site::site_db::SiteDb;
use facegate::site::sync::DoorLogin;
use facegate::site::{DoorId, DoorRecord, SiteId};
use facegate::store::{ConsentGrant, NewResident, Store, StoreConfig};
use facegate::vision::Embedding;

use crate::nats_harness::{NatsServer, TcpProxy};

pub const NOW: i64 = 1_780_000_000;

/// A well-formed bcrypt hash of no particular password, for doors of a broker without users.
pub const UNUSED_HASH: &str = "$2b$04$abcdefghijklmnopqrstuu5uVqJG8e6N2tqMpN2h0b0m/7d8x4aQe";

pub fn rules() -> PinConfig {
    PinConfig { memory_kib: 256, iterations: 1, ..PinConfig::default() }
}

pub fn embedding(seed: u64) -> Embedding {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Embedding::from_raw(std::array::from_fn(|_| rand::RngExt::random::<f32>(&mut rng) - 0.5))
        .unwrap()
}

pub fn grant() -> ConsentGrant {
    ConsentGrant {
        text_version: "1.2-file".into(),
        text_sha256: "ab".repeat(32),
        operator: "Office".into(),
        guardian: None,
    }
}

pub fn card(n: u32) -> CardUid {
    CardUid::new(n.to_be_bytes().to_vec()).unwrap()
}

/// A resident's PIN: one of a few that are not weak (none holds a test resident's number).
pub fn pin_of(number: &str) -> Pin {
    const PINS: [&str; 4] = ["482915", "730264", "591837", "264830"];
    let n: usize = number.parse().unwrap();
    Pin::parse(PINS[n % PINS.len()], &rules()).unwrap()
}

/// A site: the broker, its directory, and the controller's task or process.
pub struct Site {
    pub server: NatsServer,
    pub dir: tempfile::TempDir,
    pub site: SiteId,
    pub key: SiteKey,
    pub rt: tokio::runtime::Runtime,
    controller: Option<tokio::task::JoinHandle<()>>,
    controller_process: Option<Child>,
}

/// A door: its database, its login, and its agent's task or process.
pub struct Door {
    pub id: DoorId,
    pub store: StoreConfig,
    pub proxy: Option<TcpProxy>,
    login: DoorLogin,
    dir: PathBuf,
    task: Option<tokio::task::JoinHandle<()>>,
    process: Option<Child>,
}

impl Site {
    pub fn new() -> Site {
        static LOGGING: std::sync::Once = std::sync::Once::new();
        LOGGING.call_once(|| {
            let subscriber =
                tracing_subscriber::fmt().with_test_writer().with_max_level(tracing::Level::WARN);
            subscriber.init();
        });
        let server = NatsServer::start();
        let dir = tempfile::tempdir().unwrap();
        let site: SiteId = "oak".parse().unwrap();
        let site_dir = SiteDir(dir.path().join("site"));
        site_dir.init(site.clone(), &server.url()).unwrap();
        // The rig's rows are dated `NOW`, months before the real clock the controller's
        // retention runs on: keep its access log for ten years, not 90 days.
        let settings = site_dir.settings_path();
        let text = std::fs::read_to_string(&settings).unwrap();
        assert!(text.contains("access_log_days = 90"), "{text}");
        std::fs::write(&settings, text.replace("access_log_days = 90", "access_log_days = 3650"))
            .unwrap();
        let key = site_dir.register().custody().load().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        Site { server, dir, site, key, rt, controller: None, controller_process: None }
    }

    pub fn site_dir(&self) -> SiteDir {
        SiteDir(self.dir.path().join("site"))
    }

    pub fn register(&self) -> Store {
        Store::open(&self.site_dir().register()).unwrap()
    }

    pub fn site_db(&self) -> SiteDb {
        SiteDb::open(&self.site_dir().site_db_path()).unwrap()
    }

    /// Starts the controller as a task.
    pub fn start_controller(&mut self) {
        let dir = self.site_dir().0;
        self.controller = Some(self.rt.spawn(async move {
            let controller = SiteController::open(&dir).unwrap();
            controller.run().await.unwrap();
        }));
    }

    /// Stops the controller's task.
    pub fn stop_controller(&mut self) {
        if let Some(task) = self.controller.take() {
            task.abort();
        }
    }

    /// Starts the controller as a `facegate site run` process.
    pub fn start_controller_process(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_facegate"))
            .args(["site", "--dir"])
            .arg(self.site_dir().0)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.controller_process = Some(child);
    }

    /// Kills the controller's process with SIGKILL.
    pub fn kill9_controller(&mut self) {
        if let Some(mut child) = self.controller_process.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// A new door on this site (in `site.db` as `site door add` puts it, joined with the site
    /// key), its agent not started yet; `proxied` puts a cuttable TCP proxy between it and the
    /// broker (which has no users here: the door logs in without a password).
    pub fn door(&self, name: &str, proxied: bool) -> Door {
        let id: DoorId = name.parse().unwrap();
        self.site_db().add_door(&id, UNUSED_HASH, NOW).unwrap();
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let store = StoreConfig {
            database: dir.join("door.db"),
            key_file: dir.join("site.key"),
            key_store: KeyStore::File,
        };
        Store::create_with_key(&store, &self.key).unwrap().join_site(&self.site, &id).unwrap();
        let proxy = proxied.then(|| TcpProxy::new(&self.server.url()));
        let url = proxy.as_ref().map_or_else(|| self.server.url(), TcpProxy::url);
        let login = DoorLogin {
            site: self.site.clone(),
            door: id.clone(),
            broker: BrokerLogin { url, ..BrokerLogin::default() },
        };
        Door { id, store, proxy, login, dir, task: None, process: None }
    }

    /// Starts a door's agent as a task.
    pub fn start_agent(&self, door: &mut Door) {
        let (config, login) = (door.store.clone(), door.login.clone());
        door.task = Some(self.rt.spawn(async move {
            let mut store = Store::open(&config).unwrap();
            facegate::site::sync::run(&mut store, &login).await.unwrap();
        }));
    }

    /// Every door's records equal the register's (compared field by field).
    pub fn converged(&self, doors: &[Door]) -> bool {
        let expected = self.register().door_records(false).unwrap();
        doors.iter().all(|door| door.records() == expected)
    }

    /// Waits until every replica equals the register; the time it took.
    pub fn wait_converged(&self, doors: &[Door], timeout: Duration) -> Duration {
        let started = Instant::now();
        wait_until(timeout, || self.converged(doors)).unwrap_or_else(|| {
            let expected = self.register().door_records(false).unwrap();
            let behind: Vec<&Door> = doors.iter().filter(|d| d.records() != expected).collect();
            let first = behind[0].records();
            let differs = expected.iter().find(|r| !first.contains(r));
            panic!(
                "replicas differ from the register after {timeout:?}: {:?}; {} has {} records, the register {}; first missing or different: {differs:?}",
                behind.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
                behind[0].id,
                first.len(),
                expected.len()
            )
        });
        started.elapsed()
    }

    /// A config file for the `facegate` CLI on the register.
    pub fn register_cli_config(&self) -> PathBuf {
        let path = self.dir.path().join("register-cli.toml");
        let register = self.site_dir().register();
        let text = format!(
            "[store]\ndatabase = {:?}\nkey_file = {:?}\n",
            register.database, register.key_file
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Removes a resident as a manager does (`facegate admin resident remove`).
    pub fn remove_resident(&self, number: &str) {
        let out = Command::new(env!("CARGO_BIN_EXE_facegate"))
            .arg("--config")
            .arg(self.register_cli_config())
            .args(["admin", "resident", "remove", number])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.kill9_controller();
        if let Some(task) = self.controller.take() {
            task.abort();
        }
    }
}

impl Door {
    pub fn open(&self) -> Store {
        Store::open(&self.store).unwrap()
    }

    pub fn records(&self) -> Vec<DoorRecord> {
        self.open().door_records(false).unwrap()
    }

    /// Stops the agent's task.
    pub fn stop_agent(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Starts the agent as a `facegate sync` process.
    pub fn start_process(&mut self) {
        let config = self.dir.join("door.toml");
        let login = self.dir.join("site-login.json");
        if !login.exists() {
            std::fs::write(&login, serde_json::to_vec(&self.login).unwrap()).unwrap();
        }
        let text = format!(
            "[store]\ndatabase = {:?}\nkey_file = {:?}\n[site]\nlogin = {:?}\n",
            self.store.database, self.store.key_file, login
        );
        std::fs::write(&config, text).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_facegate"))
            .arg("--config")
            .arg(&config)
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.process = Some(child);
    }

    /// Kills the agent's process with SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.process.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Door {
    fn drop(&mut self) {
        self.kill9();
        self.stop_agent();
    }
}

/// Adds residents `first..first+count` with a PIN, a card and (every `face_every`th) a face.
pub fn add_residents(register: &mut Store, first: u32, count: u32, face_every: u32) {
    for n in first..first + count {
        let number = n.to_string();
        let new = NewResident {
            number: number.clone(),
            name: format!("Resident {n}"),
            unit: format!("unit {n}"),
            ..NewResident::default()
        };
        register.add_resident(&new, NOW, "Office").unwrap();
        register.set_pin(&number, &pin_of(&number), &rules(), NOW, "Office").unwrap();
        register.add_card(&number, &card(n), "", NOW, "Office").unwrap();
        if n % face_every == 0 {
            register.enrol(&number, &embedding(n as u64), Some(&grant()), 14, NOW).unwrap();
        }
    }
}

/// Polls `f` every 20 ms until it holds; the time it took, or `None` after `timeout`.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if f() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The p-th percentile (0..=100) of some durations, in milliseconds.
pub fn percentile_ms(times: &mut [Duration], p: usize) -> f64 {
    times.sort();
    let index = ((times.len() - 1) * p).div_ceil(100);
    times[index].as_secs_f64() * 1000.0
}
