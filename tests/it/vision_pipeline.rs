//! The face pipeline end to end: models, bad input, and accuracy on the dev face set.

use crate::common;

use facegate::vision::evaluation::enrolment::{GalleryKind, score_enrolled};
use facegate::vision::evaluation::{self, PairingOptions};
use facegate::vision::{BackendKind, Frame, VisionConfig, VisionError, backend};

/// The threshold the simulated gate decides at (`[matching]` in `hardware/sim.toml`, defaults
/// included); the dev set puts FMR 1e-3 near 0.37.
fn decision_threshold() -> f32 {
    let sim = concat!(env!("CARGO_MANIFEST_DIR"), "/hardware/sim.toml");
    facegate::config::Config::load(Some(std::path::Path::new(sim))).unwrap().matching.threshold
}

#[test]
fn missing_models_are_a_clear_error_naming_the_fix() {
    let empty = tempfile::tempdir().unwrap();
    let err =
        facegate::vision::FacePipeline::load(empty.path(), &VisionConfig::default()).err().unwrap();
    assert!(err.to_string().contains("models/fetch.sh"), "{err}");
}

#[test]
fn a_corrupt_model_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("broken.onnx");
    std::fs::write(&garbage, b"\x08\x07garbage that is not a protobuf").unwrap();
    let engines = [
        BackendKind::Tract,
        #[cfg(feature = "ort")]
        BackendKind::Ort,
    ];
    for engine in engines {
        let err = backend::load(engine, &garbage, [1, 3, 112, 112], 1).err().unwrap();
        assert!(matches!(err, VisionError::ModelLoad { .. }), "{engine:?}: {err}");
    }
}

#[test]
fn odd_frame_sizes_and_blank_frames_find_no_face_without_failing() {
    let mut pipeline = common::pipeline(BackendKind::Tract);
    for (w, h) in [(1, 1), (33, 17), (31, 900), (2000, 30), (640, 480)] {
        let frame = Frame::from_rgb(w, h, vec![90; (w * h * 3) as usize]).unwrap();
        let analysis = pipeline.analyze(&frame).unwrap();
        assert!(analysis.faces.is_empty(), "{w}x{h}");
        assert_eq!(analysis.outcome.err(), Some(facegate::vision::QualityIssue::NoFace));
    }
}

#[test]
fn corrupt_image_file_is_a_decode_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.jpg");
    std::fs::write(&path, b"\xff\xd8\xff\xe0 truncated jpeg").unwrap();
    assert!(matches!(Frame::open(&path), Err(VisionError::ImageDecode { .. })));
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn same_person_scores_above_the_threshold_and_different_people_below() {
    let dir = common::dev_faces_dir().expect(common::NEEDS_SHARED);
    let threshold = decision_threshold();
    let mut pipeline = common::pipeline(BackendKind::Tract);
    let mut embed = |rel: &str| {
        let frame = Frame::open(&dir.join(rel)).unwrap();
        let work = pipeline.working_frame(&frame).into_owned();
        pipeline.embed_largest(&work).unwrap().unwrap()
    };
    let (a1, a2) = (embed("deepface__c01/1.jpg"), embed("deepface__c01/2.jpg"));
    let b = embed("deepface__c02/1.jpg");
    assert!(a1.cosine(&a2) > threshold, "same person: {}", a1.cosine(&a2));
    assert!(a1.cosine(&b) < threshold, "different people: {}", a1.cosine(&b));
    assert!(a2.cosine(&b) < threshold, "different people: {}", a2.cosine(&b));
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn dev_set_fnmr_at_fmr_1e3_is_at_most_1_5_percent() {
    let dev = common::dev_faces_tract().expect(common::NEEDS_SHARED);
    let embeddings: Vec<_> = dev.embedded.iter().map(|e| e.embedding.clone()).collect();
    let (scores, _) = evaluation::score_pairs(&dev.images, &embeddings, PairingOptions::default());
    let at = scores.at_fmr(1e-3);
    eprintln!("dev set: FNMR {:.4} at FMR {:.5}, threshold {:.3}", at.fnmr, at.fmr, at.threshold);
    assert!(at.fmr <= 1e-3);
    assert!(at.fnmr <= 0.015, "FNMR at FMR 1e-3 is {:.4}", at.fnmr);
    assert!(at.threshold < decision_threshold() + 0.05, "the default threshold sits near FMR 1e-3");
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn residents_enrolled_from_three_photos_are_refused_less_often_than_photo_against_photo() {
    let dev = common::dev_faces_tract().expect(common::NEEDS_SHARED);
    let options = PairingOptions::default();
    let embeddings: Vec<_> = dev.embedded.iter().map(|e| e.embedding.clone()).collect();
    let (pairs, _) = evaluation::score_pairs(&dev.images, &embeddings, options);
    let (enrolled, _, enrolments) =
        score_enrolled(&dev.images, &dev.embedded, 3, GalleryKind::Averaged, options);
    assert_eq!(enrolments, 139, "identities with more than 3 photos, in groups of 3");
    for fmr in [1e-3, 1e-4] {
        let (photo, template) = (pairs.at_fmr(fmr), enrolled.at_fmr(fmr));
        eprintln!(
            "FMR {fmr}: FNMR {:.4} photo against photo, {:.4} enrolled",
            photo.fnmr, template.fnmr
        );
        assert!(template.fmr <= fmr);
        assert!(template.fnmr < photo.fnmr, "FMR {fmr}: {template:?} against {photo:?}");
    }
    assert!(enrolled.at_fmr(1e-4).fnmr <= 0.01, "FNMR at FMR 1e-4 {:?}", enrolled.at_fmr(1e-4));
}

#[cfg(feature = "ort")]
#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn tract_and_ort_embeddings_agree_on_every_dev_image() {
    let dev = common::dev_faces_tract().expect(common::NEEDS_SHARED);
    let ort = common::embed_dev_faces(BackendKind::Ort).expect("same dev set");
    let mut worst = 1.0f32;
    for ((image, t), o) in dev.images.iter().zip(&dev.embedded).zip(&ort.embedded) {
        match (&t.embedding, &o.embedding) {
            (Some(t), Some(o)) => worst = worst.min(t.cosine(o)),
            (None, None) => {}
            _ => panic!("{}: a face was found by one backend only", image.path.display()),
        }
    }
    eprintln!("lowest tract/ort cosine over the dev set: {worst:.6}");
    assert!(worst >= 0.999, "lowest cosine {worst}");
}
