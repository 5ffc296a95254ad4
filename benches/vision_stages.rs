//! Criterion benchmark of the face pipeline's stages: detect, align and embed on one dev photo
//! (or a synthetic frame without `../shared`), for tract and, with `--features ort` and
//! `ORT_DYLIB_PATH`, ONNX Runtime. Run: `cargo bench --bench vision_stages`.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use facegate::vision::{BackendKind, FacePipeline, Frame, VisionConfig, quality};

fn photo() -> Frame {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/testdata/faces/deepface__c01/1.jpg");
    Frame::open(&shared).unwrap_or_else(|_| {
        eprintln!("../shared is absent: timing a synthetic grey 640x480 frame (no face)");
        Frame::from_rgb(640, 480, vec![120; 640 * 480 * 3]).expect("valid size")
    })
}

fn stages(c: &mut Criterion) {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let backends: &[BackendKind] = if cfg!(feature = "ort") {
        &[BackendKind::Tract, BackendKind::Ort]
    } else {
        &[BackendKind::Tract]
    };
    let frame = photo();
    for &backend in backends {
        let config = VisionConfig { backend, ..VisionConfig::default() };
        let mut pipeline = match FacePipeline::load(&models, &config) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("skipping {backend}: {e}");
                continue;
            }
        };
        let work = pipeline.working_frame(&frame);
        let faces = pipeline.detect(&work).expect("detection runs");
        c.bench_function(&format!("{backend}/detect {}x{}", work.width(), work.height()), |b| {
            b.iter(|| pipeline.detect(&work).expect("detection runs"))
        });
        let Some(face) = quality::dominant(&faces).cloned() else { continue };
        c.bench_function(&format!("{backend}/align"), |b| b.iter(|| pipeline.align(&work, &face)));
        let aligned = pipeline.align(&work, &face).expect("landmarks are usable");
        c.bench_function(&format!("{backend}/embed"), |b| {
            b.iter(|| pipeline.embed(&aligned).expect("embedding runs"))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = stages
}
criterion_main!(benches);
