//! `facegate bench`: measured speed, for installers tuning a device and for our notes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::config::Config;
use crate::vision::evaluation::scan_images;
use crate::vision::liveness::LivenessMode;
use crate::vision::liveness::passive::PassiveLiveness;
use crate::vision::{BackendKind, FacePipeline, Frame, quality};

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Per-stage medians (decode, detect, align, embed) on the images of a folder, as JSON.
    Vision {
        /// Folder of JPEG/PNG images (searched recursively).
        #[arg(long)]
        images: PathBuf,
        /// Engines to measure (default: tract, and ort when this build has it).
        #[arg(long, value_delimiter = ',')]
        backend: Vec<BackendKind>,
        /// At most this many images.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Inference threads (default: the config's).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Time of one PIN verification with the config's argon2 parameters, for a known and an
    /// unknown resident number (tune `[pin]` to 100–250 ms on the device).
    Pin {
        #[arg(long, default_value_t = 15)]
        runs: usize,
    },
    /// What the config's `[pin]` lockout allows, simulated: wrong PINs a guesser gets checked
    /// per day sweeping through resident numbers, and the longest lock a mistyping resident sees.
    Keypad {
        /// Resident numbers the guesser sweeps through.
        #[arg(long, default_value_t = 200)]
        numbers: usize,
        #[arg(long, default_value_t = 7)]
        days: i64,
    },
    /// Listing and searching a register of N residents, whose personal fields are sealed:
    /// builds the database in DIR (a new folder; a plain key file) and times the CLI's paths.
    Register {
        #[arg(long, default_value_t = 20_000)]
        residents: usize,
        #[arg(long)]
        dir: PathBuf,
    },
    /// A new door joining a site of N residents: the register is built in DIR (a new folder)
    /// and published to BROKER (a test nats-server with JetStream), then the new door's full
    /// replica is timed, as JSON.
    Site {
        #[arg(long, default_value_t = 20_000)]
        residents: usize,
        #[arg(long)]
        broker: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// The gate end to end in the simulator, tap on Face to strike, for an enrolled resident in
    /// front of the camera: p50/p95 per engine, thread count and liveness (off, passive, both),
    /// the start to the idle screen, and resident memory after many decisions: one JSON line per
    /// figure, written when it is measured.
    Gate {
        /// The resident's photo the camera shows (letterboxed into 640×480).
        #[arg(long)]
        photo: PathBuf,
        /// Photos the resident is enrolled from (default: the camera's photo).
        #[arg(long, value_delimiter = ',')]
        enrol: Vec<PathBuf>,
        /// Timed face sessions per engine, thread count and liveness mode.
        #[arg(long, default_value_t = 100)]
        sessions: usize,
        /// Engines (default: tract, and ort when this build has it).
        #[arg(long, value_delimiter = ',')]
        backend: Vec<BackendKind>,
        #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
        threads: Vec<usize>,
        /// Liveness modes to time sessions in (default: off, passive, both).
        #[arg(long, value_delimiter = ',', value_parser = liveness_mode)]
        liveness: Vec<LivenessMode>,
        /// Decisions on one gate (the first engine and thread count, passive liveness) before
        /// its resident memory is read; one in 100 by face, the others by card (0: no memory
        /// run).
        #[arg(long, default_value_t = 10_000)]
        decisions: usize,
    },
    /// Exit button to strike, with the door on its own thread: p50/p99/max while the gate is
    /// idle, runs a face session, and is stuck in a 5-s camera call (simulated door), as JSON.
    Door {
        #[arg(long, default_value_t = 1000)]
        presses: usize,
        /// A photo in front of the camera during the face session (default: an empty scene).
        #[arg(long)]
        photo: Option<PathBuf>,
    },
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    match args {
        Args::Vision { images, backend, limit, threads } => {
            let mut config = config.clone();
            if let Some(threads) = threads {
                config.vision.threads = threads;
            }
            let mut paths = scan_images(&images)
                .with_context(|| format!("cannot read {}", images.display()))?;
            paths.truncate(limit);
            anyhow::ensure!(!paths.is_empty(), "no JPEG or PNG images under {}", images.display());
            let backends = if backend.is_empty() { default_backends() } else { backend };
            let results = backends
                .into_iter()
                .map(|b| bench_vision(&config, b, &paths))
                .collect::<anyhow::Result<Vec<_>>>()?;
            println!("{}", serde_json::to_string_pretty(&results)?);
            Ok(())
        }
        Args::Pin { runs } => {
            let p = &config.pin;
            let (known, unknown) = crate::credentials::pin::bench(p, runs)?;
            println!(
                "argon2id m={} KiB t={} p={}: known number {known:.1} ms, unknown number {unknown:.1} ms (median of {runs}; difference {:.1} %)",
                p.memory_kib,
                p.iterations,
                p.parallelism,
                100.0 * (unknown - known).abs() / known
            );
            Ok(())
        }
        Args::Keypad { numbers, days } => {
            let figures = crate::credentials::lockout::simulate(&config.pin, numbers, days);
            println!("{}", serde_json::to_string_pretty(&figures)?);
            Ok(())
        }
        Args::Register { residents, dir } => bench_register(residents, &dir),
        Args::Site { residents, broker, dir } => super::bench_site::run(residents, &broker, &dir),
        Args::Gate { photo, enrol, sessions, backend, threads, liveness, decisions } => {
            let backends = if backend.is_empty() { default_backends() } else { backend };
            anyhow::ensure!(!threads.is_empty(), "--threads needs at least one count");
            let plan = super::gate_bench::Plan {
                photo,
                enrol,
                sessions,
                backends,
                threads,
                liveness,
                decisions,
            };
            super::gate_bench::run(config, &plan, &mut std::io::stdout().lock())
        }
        Args::Door { presses, photo } => {
            let figures = super::door_bench::run(config, presses, photo.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&figures)?);
            Ok(())
        }
    }
}

fn bench_register(count: usize, dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir(dir)
        .with_context(|| format!("cannot create {} (a new folder)", dir.display()))?;
    let store_config = crate::store::StoreConfig {
        database: dir.join("facegate.db"),
        key_file: dir.join("site.key"),
        ..Default::default()
    };
    let mut store = crate::store::Store::init(&store_config)?;
    let t = Instant::now();
    for i in 0..count {
        let new = crate::store::NewResident {
            number: format!("{}", 100_000 + i),
            name: format!("Resident {i:05}"),
            unit: format!("{}-{:04}", 1 + i / 2000, i % 2000),
            birth_year: Some(1950 + (i % 60) as i32),
            ..Default::default()
        };
        store.add_resident(&new, 0, "bench")?;
    }
    let add_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let all = store.residents()?;
    let list_ms = ms(t);
    let t = Instant::now();
    let found = store.search_residents("resident 1999")?;
    let search_ms = ms(t);
    println!(
        "{} residents (sealed fields): added in {add_s:.1} s, listed (decrypt all) in {list_ms:.0} ms, searched in memory in {search_ms:.0} ms ({} matches); database {}",
        all.len(),
        found.len(),
        store_config.database.display()
    );
    Ok(())
}

/// `off`, `passive`, `active` or `both`, as in the config file.
fn liveness_mode(text: &str) -> Result<LivenessMode, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("unknown liveness mode `{text}` (off, passive, active or both)"))
}

fn default_backends() -> Vec<BackendKind> {
    if cfg!(feature = "ort") {
        vec![BackendKind::Tract, BackendKind::Ort]
    } else {
        vec![BackendKind::Tract]
    }
}

/// Median milliseconds per stage for one engine.
#[derive(Debug, Serialize)]
struct StageMedians {
    backend: BackendKind,
    images: usize,
    faces: usize,
    threads: usize,
    decode_ms: f64,
    detect_ms: f64,
    align_ms: f64,
    embed_ms: f64,
    /// Median of detect + align + embed per image with a face.
    total_ms: f64,
    /// Median of the passive liveness check of one face (both models), when their files exist.
    liveness_ms: Option<f64>,
    load_ms: f64,
}

fn bench_vision(
    config: &Config,
    backend: BackendKind,
    paths: &[PathBuf],
) -> anyhow::Result<StageMedians> {
    let mut vision = config.vision.clone();
    vision.backend = backend;
    let start = Instant::now();
    let mut pipeline = FacePipeline::load(&config.paths.models, &vision)?;
    let load_ms = ms(start);
    let mut pad = PassiveLiveness::load(&config.paths.models, backend, vision.threads).ok();
    let mut liveness = Vec::new();
    let (mut decode, mut detect, mut align, mut embed, mut total) =
        (vec![], vec![], vec![], vec![], vec![]);
    for path in paths {
        let t = Instant::now();
        let Ok(work) = Frame::open_within(path, vision.max_side) else { continue };
        decode.push(ms(t));
        let t = Instant::now();
        let faces = pipeline.detect(&work)?;
        let detect_ms = ms(t);
        detect.push(detect_ms);
        let Some(face) = quality::dominant(&faces) else { continue };
        let t = Instant::now();
        let Some(aligned) = pipeline.align(&work, face) else { continue };
        let align_ms = ms(t);
        align.push(align_ms);
        let t = Instant::now();
        pipeline.embed(&aligned)?;
        let embed_ms = ms(t);
        embed.push(embed_ms);
        total.push(detect_ms + align_ms + embed_ms);
        if let Some(pad) = pad.as_mut() {
            let t = Instant::now();
            pad.score(&work, &face.bbox)?;
            liveness.push(ms(t));
        }
    }
    Ok(StageMedians {
        backend,
        images: decode.len(),
        faces: embed.len(),
        threads: vision.threads,
        decode_ms: median(decode),
        detect_ms: median(detect),
        align_ms: median(align),
        embed_ms: median(embed),
        total_ms: median(total),
        liveness_ms: (!liveness.is_empty()).then(|| median(liveness)),
        load_ms,
    })
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
