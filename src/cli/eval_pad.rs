//! `facegate eval-pad`: presentation-attack detection error rates, ISO/IEC 30107-3 naming.
//!
//! Every face at least `[vision.liveness] min_face_width` pixels wide in a photo is one
//! presentation. APCER: the share of attack presentations accepted as live; BPCER: the share of
//! bona fide presentations rejected.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::config::Config;
use crate::vision::evaluation::scan_images;
use crate::vision::liveness::passive::{PassiveLiveness, face_scores};
use crate::vision::{FacePipeline, Frame};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Photos of live people (bona fide presentations).
    #[arg(long)]
    real: PathBuf,
    /// Photos of attacks: printed photos, screens.
    #[arg(long)]
    attack: PathBuf,
    /// Decision threshold (default: the config's).
    #[arg(long)]
    threshold: Option<f32>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    apcer: f64,
    bpcer: f64,
    threshold: f32,
    attacks: usize,
    bona_fide: usize,
    attack_scores: Vec<f32>,
    bona_fide_scores: Vec<f32>,
}

fn scores(
    dir: &Path,
    faces: &mut FacePipeline,
    pad: &mut PassiveLiveness,
    min_width: f32,
) -> anyhow::Result<Vec<f32>> {
    let mut all = Vec::new();
    for path in scan_images(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let frame = Frame::open(&path)?;
        all.extend(face_scores(faces, pad, &frame, min_width)?);
    }
    Ok(all)
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let vision = &config.vision;
    let mut faces = FacePipeline::load(&config.paths.models, vision)?;
    let mut pad = PassiveLiveness::load(&config.paths.models, vision.backend, vision.threads)?;
    let threshold = args.threshold.unwrap_or(vision.liveness.threshold);
    let min_width = vision.liveness.min_face_width;
    let attack_scores = scores(&args.attack, &mut faces, &mut pad, min_width)?;
    let bona_fide_scores = scores(&args.real, &mut faces, &mut pad, min_width)?;
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let report = Report {
        apcer: share(
            attack_scores.iter().filter(|&&s| s >= threshold).count(),
            attack_scores.len(),
        ),
        bpcer: share(
            bona_fide_scores.iter().filter(|&&s| s < threshold).count(),
            bona_fide_scores.len(),
        ),
        threshold,
        attacks: attack_scores.len(),
        bona_fide: bona_fide_scores.len(),
        attack_scores,
        bona_fide_scores,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("faces at least {min_width} px wide; threshold {threshold}");
        println!(
            "APCER {:.1} % of {} attack presentations accepted",
            report.apcer * 100.0,
            report.attacks
        );
        println!(
            "BPCER {:.1} % of {} bona fide presentations rejected",
            report.bpcer * 100.0,
            report.bona_fide
        );
    }
    Ok(())
}
