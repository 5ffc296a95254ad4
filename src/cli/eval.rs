//! `facegate eval`: accuracy of the face pipeline on a labelled photo folder.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::vision::evaluation::enrolment::{GalleryKind, score_enrolled};
use crate::vision::evaluation::{self, Embedded, LabelledImage, PairingOptions, Rates, det_plot};
use crate::vision::{BackendKind, FacePipeline, VisionConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder of `<identity>/<image>` photos (JPEG or PNG).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Inference engine (default: the config's).
    #[arg(long)]
    pub backend: Option<BackendKind>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Fuse each face's embedding with its mirror image's (default: the config's `flip_fusion`).
    #[arg(long)]
    pub flip_fusion: Option<bool>,
    /// Emulate this many camera frames per photo and fuse their embeddings, as the gate fuses a
    /// session's good frames (the photo shifted by 3 px per frame).
    #[arg(long, default_value_t = 1)]
    pub frames: usize,
    /// Also enrol each identity from groups of this many photos (as `admin enrol` does) and
    /// probe with its other photos.
    #[arg(long, default_value_t = 3)]
    pub enrol_photos: usize,
    /// Keep the embeddings in this file and reuse them when the photos and settings match.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Write the DET curve (photo against photo) to this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let mut vision = config.vision.clone();
    if let Some(backend) = args.backend {
        vision.backend = backend;
    }
    if let Some(flip) = args.flip_fusion {
        vision.flip_fusion = flip;
    }
    let images = evaluation::scan(&args.dataset)
        .with_context(|| format!("cannot read dataset folder {}", args.dataset.display()))?;
    anyhow::ensure!(
        !images.is_empty(),
        "no JPEG or PNG images under {}/<identity>/",
        args.dataset.display()
    );
    let settings = format!("{vision:?}");
    let cached = args
        .cache
        .as_deref()
        .and_then(|c| evaluation::cache::load(c, &settings, &images, args.frames));
    let embedded = match cached {
        Some(embedded) => embedded,
        None => {
            let embedded = embed_all(&images, config, &vision, args.frames)?;
            if let Some(path) = &args.cache {
                evaluation::cache::save(path, &settings, &images, &embedded)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            embedded
        }
    };

    let embeddings: Vec<_> = embedded.iter().map(|e| e.embedding.clone()).collect();
    let options = PairingOptions::default();
    let (scores, pairing) = evaluation::score_pairs(&images, &embeddings, options);
    let matching = &config.matching;
    let mut protocols =
        vec![evaluation::rates(matching, "photo against photo".into(), &scores, pairing)];
    for (kind, what) in [
        (GalleryKind::Averaged, "one averaged template"),
        (GalleryKind::EachPhoto, "a template per photo, best score"),
    ] {
        let k = args.enrol_photos;
        let (enrolled, pairing, n) = score_enrolled(&images, &embedded, k, kind, options);
        let name = format!("{n} enrolments of {k} photos, {what}");
        protocols.push(evaluation::rates(matching, name, &enrolled, pairing));
    }
    let fusion = evaluation::Fusion { flip: vision.flip_fusion, frames: args.frames };
    let report =
        evaluation::report(vision.backend.to_string(), fusion, &images, &embedded, protocols);

    if let Some(plot) = &args.plot {
        let title = format!(
            "DET, {} images, {} backend, EER {:.2} %",
            report.images,
            report.backend,
            report.protocols[0].eer * 100.0
        );
        std::fs::write(plot, det_plot::render(&scores.curve(), &title))
            .with_context(|| format!("cannot write {}", plot.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "images               {} ({} identities, backend {}, flip fusion {}, {} frame(s) fused)",
        report.images,
        report.identities,
        report.backend,
        if report.fusion.flip { "on" } else { "off" },
        report.fusion.frames
    );
    println!("failures to acquire  {} (counted as rejections)", report.failures_to_acquire);
    for rates in &report.protocols {
        print_rates(rates);
    }
    println!("time per image       {:.1} ms (detect + align + embed)", report.ms_per_image);
    Ok(())
}

/// Embeds every image, with a progress bar.
fn embed_all(
    images: &[LabelledImage],
    config: &Config,
    vision: &VisionConfig,
    frames: usize,
) -> anyhow::Result<Vec<Embedded>> {
    let mut pipeline = FacePipeline::load(&config.paths.models, vision)?;
    let bar = ProgressBar::new(images.len() as u64).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} [{elapsed} < {eta}]")
            .expect("static template"),
    );
    bar.set_message(format!("embedding ({})", vision.backend));
    let mut embedded = Vec::with_capacity(images.len());
    for image in images {
        embedded.push(evaluation::embed_one(&mut pipeline, &image.path, frames)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(embedded)
}

fn pct(v: f64) -> String {
    format!("{:.2} %", v * 100.0)
}

fn print_rates(rates: &Rates) {
    println!("\n{}", rates.protocol);
    println!(
        "  pairs              {} genuine, {} impostor ({})",
        rates.genuine_pairs, rates.impostor_pairs, rates.impostor_pairing
    );
    println!("  EER                {} (threshold {:.3})", pct(rates.eer), rates.eer_threshold);
    for point in &rates.at_fmr {
        println!(
            "  FNMR @ FMR {:.0e}    {} (threshold {:.3})",
            point.target,
            pct(point.fnmr),
            point.threshold
        );
    }
    for site in &rates.sites {
        println!(
            "  {:>6} residents   threshold {:.3}: stranger accepted ≈ {:.1e} per attempt; measured here: FMR {:.1e}, FNMR {}",
            site.residents,
            site.threshold,
            site.stranger_acceptance,
            site.fmr,
            pct(site.fnmr)
        );
    }
}
