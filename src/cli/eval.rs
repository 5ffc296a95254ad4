//! `facegate eval`: accuracy of the face pipeline on a labelled photo folder.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::vision::evaluation::{self, PairingOptions, det_plot};
use crate::vision::{BackendKind, FacePipeline};

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
    /// Write the DET curve to this SVG file.
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
    let mut pipeline = FacePipeline::load(&config.paths.models, &vision)?;

    let bar = ProgressBar::new(images.len() as u64).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} [{elapsed} < {eta}]")
            .expect("static template"),
    );
    bar.set_message(format!("embedding ({})", vision.backend));
    let mut embedded = Vec::with_capacity(images.len());
    for image in &images {
        embedded.push(evaluation::embed_one(&mut pipeline, &image.path, args.frames)?);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let embeddings: Vec<_> = embedded.iter().map(|e| e.embedding.clone()).collect();
    let (scores, pairing) =
        evaluation::score_pairs(&images, &embeddings, PairingOptions::default());
    let fusion = evaluation::Fusion { flip: vision.flip_fusion, frames: args.frames };
    let report = evaluation::report(
        &config.matching,
        vision.backend.to_string(),
        fusion,
        &images,
        &embedded,
        &scores,
        pairing,
    );

    if let Some(plot) = &args.plot {
        let title = format!(
            "DET, {} images, {} backend, EER {:.2} %",
            report.images,
            report.backend,
            report.eer * 100.0
        );
        std::fs::write(plot, det_plot::render(&scores.curve(), &title))
            .with_context(|| format!("cannot write {}", plot.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let pct = |v: f64| format!("{:.2} %", v * 100.0);
    println!(
        "images               {} ({} identities, backend {}, flip fusion {}, {} frame(s) fused)",
        report.images,
        report.identities,
        report.backend,
        if report.fusion.flip { "on" } else { "off" },
        report.fusion.frames
    );
    println!("failures to acquire  {} (counted as rejections)", report.failures_to_acquire);
    println!(
        "pairs                {} genuine, {} impostor ({})",
        report.genuine_pairs, report.impostor_pairs, report.impostor_pairing
    );
    println!("EER                  {} (threshold {:.3})", pct(report.eer), report.eer_threshold);
    println!(
        "FNMR @ FMR 1e-2      {} (threshold {:.3})",
        pct(report.fnmr_at_fmr_1e2),
        report.threshold_at_fmr_1e2
    );
    println!(
        "FNMR @ FMR 1e-3      {} (threshold {:.3})",
        pct(report.fnmr_at_fmr_1e3),
        report.threshold_at_fmr_1e3
    );
    println!(
        "FNMR @ FMR 1e-4      {} (threshold {:.3})",
        pct(report.fnmr_at_fmr_1e4),
        report.threshold_at_fmr_1e4
    );
    for (name, fnmr, threshold) in [
        ("1e-5", report.fnmr_at_fmr_1e5, report.threshold_at_fmr_1e5),
        ("1e-6", report.fnmr_at_fmr_1e6, report.threshold_at_fmr_1e6),
    ] {
        println!("FNMR @ FMR {name}      {} (threshold {threshold:.3})", pct(fnmr));
    }
    for site in &report.sites {
        println!(
            "{:>6} residents     threshold {:.3}: stranger accepted ≈ {:.1e} per attempt; measured here: FMR {:.1e}, FNMR {}",
            site.residents,
            site.threshold,
            site.stranger_acceptance,
            site.fmr,
            pct(site.fnmr)
        );
    }
    println!("time per image       {:.1} ms (detect + align + embed)", report.ms_per_image);
    Ok(())
}
