//! `facegate eval`: how accuracy is measured on a folder of labelled photos.
//!
//! `DIR/<identity>/<image>`: every image is embedded (largest face, no quality gate: this
//! measures recognition, and the gate's rejections are a separate, tunable policy). Two
//! protocols are scored. Photo against photo: genuine pairs are all pairs of one identity's
//! images. Enrolment ([`enrolment`]): each identity is enrolled from a few of its photos, as
//! `admin enrol` builds a template, and probed with the others. Impostor pairs are pairs of
//! different identities; when folder names carry a block prefix (`<block>__<name>`, as in the
//! dev set, where one public figure may appear in two blocks) they are formed within a block
//! only. An image without a face (failure to acquire) makes all its pairs score −∞: rejected.

pub mod cache;
pub mod det_plot;
pub mod enrolment;
pub mod metrics;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Embedding, FacePipeline, Frame, VisionError};
use crate::templates::MatchingConfig;
use metrics::Scores;

/// A photo and the identity it shows.
#[derive(Debug, Clone)]
pub struct LabelledImage {
    pub identity: String,
    pub path: PathBuf,
}

/// Lists `DIR/<identity>/<image>` (JPEG and PNG), sorted for reproducible runs.
pub fn scan(dir: &Path) -> std::io::Result<Vec<LabelledImage>> {
    let mut images = Vec::new();
    for identity in std::fs::read_dir(dir)? {
        let identity = identity?;
        if !identity.file_type()?.is_dir() {
            continue;
        }
        let name = identity.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(identity.path())? {
            let path = file?.path();
            if is_image(&path) {
                images.push(LabelledImage { identity: name.clone(), path });
            }
        }
    }
    images.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(images)
}

/// Every JPEG or PNG below `dir`, sorted.
pub(crate) fn scan_images(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if is_image(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn is_image(path: &Path) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png"))
}

/// The block an identity belongs to: the part of its name before `__`, if any.
fn block(identity: &str) -> &str {
    identity.split_once("__").map_or("", |(b, _)| b)
}

/// The outcome of embedding one image.
pub struct Embedded {
    /// The session's probe: the fused embeddings of the emulated frames with a face.
    pub embedding: Option<Embedding>,
    /// Each emulated frame's embedding, the unshifted photo first (what `admin enrol` takes
    /// from a photo).
    pub frames: Vec<Option<Embedding>>,
    /// Time for detect + align + embed, excluding decoding and shrinking.
    pub seconds: f64,
}

impl Embedded {
    /// The outcome of an image from its frames' embeddings.
    pub fn from_frames(frames: Vec<Option<Embedding>>, seconds: f64) -> Self {
        let found: Vec<Embedding> = frames.iter().flatten().cloned().collect();
        let embedding = Embedding::mean(&found);
        Self { embedding, frames, seconds }
    }

    /// The embedding of the photo itself (the first frame), as enrolment from photos takes it.
    pub fn photo(&self) -> Option<&Embedding> {
        self.frames.first().and_then(Option::as_ref)
    }
}

/// Pixels between the emulated camera frames of one photo ([`embed_one`]'s `frames`).
pub const FRAME_SHIFT: u32 = 3;

/// Decodes and embeds one image. An unreadable or corrupt file is a failure to acquire.
///
/// With `frames` > 1 the photo stands for that many camera frames of one session: the working
/// frame shifted by 0, [`FRAME_SHIFT`], 2 × [`FRAME_SHIFT`] … pixels (which moves the face
/// against the detector's grid, as a head moves between frames), and the embeddings of those
/// with a face are fused as the gate fuses a session's good frames.
pub fn embed_one(
    pipeline: &mut FacePipeline,
    path: &Path,
    frames: usize,
) -> Result<Embedded, VisionError> {
    let frame = match Frame::open_within(path, pipeline.config().max_side) {
        Ok(frame) => frame,
        Err(err @ (VisionError::ImageDecode { .. } | VisionError::ImageRead { .. })) => {
            tracing::warn!("{err}");
            return Ok(Embedded::from_frames(vec![None; frames.max(1)], 0.0));
        }
        Err(err) => return Err(err),
    };
    let work = pipeline.working_frame(&frame);
    let start = Instant::now();
    let mut found = Vec::new();
    for shift in (0..frames.max(1) as u32).map(|k| k * FRAME_SHIFT) {
        found.push(if shift == 0 {
            pipeline.embed_largest(&work)?
        } else {
            pipeline.embed_largest(&work.cropped_from(shift, shift))?
        });
    }
    Ok(Embedded::from_frames(found, start.elapsed().as_secs_f64()))
}

/// The numbers `eval` reports (also its `--json` output).
#[derive(Debug, Serialize)]
pub struct Report {
    pub backend: String,
    pub fusion: Fusion,
    pub images: usize,
    pub identities: usize,
    pub failures_to_acquire: usize,
    /// One set of rates per protocol: photo against photo, then enrolment from several photos.
    pub protocols: Vec<Rates>,
    pub ms_per_image: f64,
}

/// The error rates of one protocol.
#[derive(Debug, Serialize)]
pub struct Rates {
    pub protocol: String,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    /// How impostor pairs were formed, and whether they were sampled.
    pub impostor_pairing: String,
    pub eer: f64,
    pub eer_threshold: f32,
    /// FNMR at FMR 1e-2 … 1e-6 ([`FMR_TARGETS`]). Below one impostor pair in the set (1e-5 and
    /// 1e-6 on the dev set), the threshold is the one just above the highest impostor score.
    pub at_fmr: Vec<AtFmr>,
    /// The config's 1:N threshold for sites of 100, 1 000 and 10 000 residents, and the error
    /// rates measured there.
    pub sites: Vec<SitePoint>,
}

/// FNMR where FMR is at most a target.
#[derive(Debug, Serialize)]
pub struct AtFmr {
    pub target: f64,
    pub threshold: f32,
    pub fnmr: f64,
}

/// The FMR targets `eval` reports.
pub const FMR_TARGETS: [f64; 5] = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

/// One site size under `[matching]`: its threshold and the rates measured at it.
#[derive(Debug, Serialize)]
pub struct SitePoint {
    pub residents: usize,
    pub threshold: f32,
    /// A stranger's expected chance per attempt to match somebody (`[matching]`'s model).
    pub stranger_acceptance: f64,
    /// FMR per comparison measured at this threshold.
    pub fmr: f64,
    pub fnmr: f64,
}

/// What a probe's embedding fuses: its mirror image's, and emulated frames ([`embed_one`]).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Fusion {
    pub flip: bool,
    pub frames: usize,
}

/// Site sizes `eval` reports.
pub const SITE_SIZES: [usize; 3] = [100, 1_000, 10_000];

/// Pairing limits.
#[derive(Debug, Clone, Copy)]
pub struct PairingOptions {
    /// Above this many impostor pairs, a seeded random sample of about this size is scored.
    pub max_impostor_pairs: usize,
    pub seed: u64,
}

impl Default for PairingOptions {
    fn default() -> Self {
        Self { max_impostor_pairs: 2_000_000, seed: 1 }
    }
}

/// Whether two identities form impostor pairs: different, and in the same block.
fn impostors(a: &str, b: &str) -> bool {
    a != b && block(a) == block(b)
}

/// Keeps impostor comparisons at random when there are more than the options allow; says how
/// impostors were paired.
struct Sampler {
    keep: f64,
    rng: ChaCha8Rng,
    pairing: String,
}

impl Sampler {
    fn new(images: &[LabelledImage], total: usize, options: PairingOptions) -> Self {
        let keep = (options.max_impostor_pairs as f64 / total.max(1) as f64).min(1.0);
        let blocked = images.iter().any(|im| !block(&im.identity).is_empty());
        let pairing = if blocked { "within blocks (<block>__<name>)" } else { "all identities" };
        let rng = ChaCha8Rng::seed_from_u64(options.seed);
        Self { keep, rng, pairing: pairing.to_owned() }
    }

    fn take(&mut self) -> bool {
        self.keep >= 1.0 || self.rng.random::<f64>() < self.keep
    }

    fn pairing(&self, kept: usize, total: usize) -> String {
        if self.keep < 1.0 {
            format!("{}, seeded sample of {kept} of {total}", self.pairing)
        } else {
            self.pairing.clone()
        }
    }
}

/// Scores all pairs of embedded images.
pub fn score_pairs(
    images: &[LabelledImage],
    embeddings: &[Option<Embedding>],
    options: PairingOptions,
) -> (Scores, String) {
    let score = |i: usize, j: usize| match (&embeddings[i], &embeddings[j]) {
        (Some(a), Some(b)) => a.cosine(b),
        _ => f32::NEG_INFINITY,
    };
    let is_impostor = |i: usize, j: usize| impostors(&images[i].identity, &images[j].identity);
    let n = images.len();
    let total_impostors =
        (0..n).map(|i| (i + 1..n).filter(|&j| is_impostor(i, j)).count()).sum::<usize>();
    let mut sampler = Sampler::new(images, total_impostors, options);
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for i in 0..n {
        for j in i + 1..n {
            if images[i].identity == images[j].identity {
                genuine.push(score(i, j));
            } else if is_impostor(i, j) && sampler.take() {
                impostor.push(score(i, j));
            }
        }
    }
    let pairing = sampler.pairing(impostor.len(), total_impostors);
    (Scores::new(genuine, impostor), pairing)
}

/// The rates of one protocol's scores, with the 1:N thresholds of `matching`.
pub fn rates(
    matching: &MatchingConfig,
    protocol: String,
    scores: &Scores,
    pairing: String,
) -> Rates {
    let at_fmr = FMR_TARGETS
        .iter()
        .map(|&target| {
            let p = scores.at_fmr(target);
            AtFmr { target, threshold: p.threshold, fnmr: p.fnmr }
        })
        .collect();
    let sites = SITE_SIZES
        .iter()
        .map(|&residents| {
            let threshold = matching.threshold_for(residents);
            let point = scores.at(threshold);
            SitePoint {
                residents,
                threshold,
                stranger_acceptance: MatchingConfig::stranger_rate(residents, threshold),
                fmr: point.fmr,
                fnmr: point.fnmr,
            }
        })
        .collect();
    let eer = scores.eer();
    Rates {
        protocol,
        genuine_pairs: scores.genuine_pairs(),
        impostor_pairs: scores.impostor_pairs(),
        impostor_pairing: pairing,
        eer: eer.fmr,
        eer_threshold: eer.threshold,
        at_fmr,
        sites,
    }
}

/// Builds the report from the images and each protocol's rates.
pub fn report(
    backend: String,
    fusion: Fusion,
    images: &[LabelledImage],
    embedded: &[Embedded],
    protocols: Vec<Rates>,
) -> Report {
    let mut identities: Vec<&str> = images.iter().map(|i| i.identity.as_str()).collect();
    identities.dedup();
    Report {
        backend,
        fusion,
        images: images.len(),
        identities: identities.len(),
        failures_to_acquire: embedded.iter().filter(|e| e.embedding.is_none()).count(),
        protocols,
        ms_per_image: 1000.0 * embedded.iter().map(|e| e.seconds).sum::<f64>()
            / embedded.len().max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::EMBEDDING_DIM;

    fn unit(axis: usize) -> Option<Embedding> {
        let mut v = [0f32; EMBEDDING_DIM];
        v[axis] = 1.0;
        Embedding::from_raw(v)
    }

    fn image(identity: &str) -> LabelledImage {
        LabelledImage { identity: identity.into(), path: PathBuf::new() }
    }

    #[test]
    fn pairs_within_blocks_and_failures_score_minus_infinity() {
        let images = [image("a__x"), image("a__x"), image("a__y"), image("b__z")];
        let embeddings = [unit(0), None, unit(1), unit(2)];
        let (scores, pairing) = score_pairs(&images, &embeddings, PairingOptions::default());
        assert_eq!(scores.genuine_pairs(), 1);
        // a__x/a__y twice; a__* with b__z are in different blocks.
        assert_eq!(scores.impostor_pairs(), 2);
        assert!(pairing.starts_with("within blocks"));
        assert_eq!(scores.at(-1.0).fnmr, 1.0, "the only genuine pair has a failed image");
    }

    #[test]
    fn large_impostor_sets_are_sampled_deterministically() {
        let images: Vec<_> = (0..60).map(|i| image(&format!("p{i}"))).collect();
        let embeddings: Vec<_> = (0..60).map(unit).collect();
        let options = PairingOptions { max_impostor_pairs: 500, seed: 7 };
        let (a, pairing) = score_pairs(&images, &embeddings, options);
        let (b, _) = score_pairs(&images, &embeddings, options);
        assert!(pairing.contains("seeded sample") && pairing.contains("of 1770"));
        assert_eq!(a.impostor_pairs(), b.impostor_pairs());
        assert!((350..650).contains(&a.impostor_pairs()), "{}", a.impostor_pairs());
    }

    #[test]
    fn scan_reads_identity_folders_and_skips_other_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("alice")).unwrap();
        std::fs::write(dir.path().join("alice/1.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("alice/notes.txt"), b"x").unwrap();
        std::fs::write(dir.path().join("README.md"), b"x").unwrap();
        let images = scan(dir.path()).unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].identity, "alice");
    }
}
