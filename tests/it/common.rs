//! Helpers shared by the integration tests: where the models and `../shared` are, and the dev
//! face set embedded once per test binary.

use std::path::PathBuf;
use std::sync::OnceLock;

use facegate::vision::evaluation::{self, Embedded, LabelledImage};
use facegate::vision::{BackendKind, FacePipeline, VisionConfig};

/// The models folder of this checkout (filled by `models/fetch.sh`).
pub fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// `../shared` beside the checkout (or `$FACEGATE_SHARED`), when the tests were built with it
/// (cfg `shared_data`, from `build.rs`). Tests that cannot run without it carry
/// `#[cfg_attr(not(shared_data), ignore = "needs ../shared")]`, so they count as skipped.
pub fn shared_dir() -> Option<PathBuf> {
    cfg!(shared_data).then(|| {
        let dir = PathBuf::from(env!("FACEGATE_SHARED_DIR"));
        assert!(dir.is_dir(), "{} was there when the tests were built", dir.display());
        dir
    })
}

/// The labelled dev face photos in `../shared`, if built with it.
pub fn dev_faces_dir() -> Option<PathBuf> {
    shared_dir().map(|d| d.join("testdata/faces"))
}

/// For tests that are ignored without `../shared`.
pub const NEEDS_SHARED: &str = "built with ../shared (cfg shared_data)";

/// A pipeline on this checkout's models; panics with the fix when they are missing.
pub fn pipeline(backend: BackendKind) -> FacePipeline {
    let config = VisionConfig { backend, ..VisionConfig::default() };
    FacePipeline::load(&models_dir(), &config).unwrap_or_else(|e| panic!("{e}"))
}

/// The dev face set, embedded with one backend.
pub struct DevFaces {
    pub images: Vec<LabelledImage>,
    pub embedded: Vec<Embedded>,
}

/// The dev set embedded with tract, computed once per test binary.
pub fn dev_faces_tract() -> Option<&'static DevFaces> {
    static CELL: OnceLock<Option<DevFaces>> = OnceLock::new();
    CELL.get_or_init(|| embed_dev_faces(BackendKind::Tract)).as_ref()
}

pub fn embed_dev_faces(backend: BackendKind) -> Option<DevFaces> {
    let dir = dev_faces_dir()?;
    let images = evaluation::scan(&dir).expect("dev set is readable");
    let mut pipeline = pipeline(backend);
    let embedded = images
        .iter()
        .map(|image| evaluation::embed_one(&mut pipeline, &image.path, 1).expect("pipeline runs"))
        .collect();
    Some(DevFaces { images, embedded })
}

/// A store's files in a test's temp folder: `gate.db` and `site.key`, a plain key file.
pub fn store_in(dir: &std::path::Path) -> facegate::store::StoreConfig {
    facegate::store::StoreConfig {
        database: dir.join("gate.db"),
        key_file: dir.join("site.key"),
        ..facegate::store::StoreConfig::default()
    }
}

/// Runs a scenario on a simulated gate; returns its events.
pub fn run(
    sim: &mut facegate::runtime::script::Simulation,
    script: &str,
) -> Vec<facegate::runtime::Event> {
    script.lines().flat_map(|line| sim.run_line(line).unwrap()).map(|(_, e)| e).collect()
}

/// The decisions among events: granted, and why not.
pub fn decisions(
    events: &[facegate::runtime::Event],
) -> Vec<(bool, Option<facegate::access::DenyReason>)> {
    events
        .iter()
        .filter_map(|e| match e {
            facegate::runtime::Event::Decision { granted, reason, .. } => Some((*granted, *reason)),
            _ => None,
        })
        .collect()
}
