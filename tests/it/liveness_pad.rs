//! Passive presentation-attack detection: parity with the reference tensors, and the attack
//! samples rejected while live faces pass.

use crate::common;

use facegate::vision::liveness::passive::{MODELS, PassiveLiveness, face_scores};
use facegate::vision::{BackendKind, Frame};

fn pad(backend: BackendKind) -> PassiveLiveness {
    PassiveLiveness::load(&common::models_dir(), backend, 1).unwrap_or_else(|e| panic!("{e}"))
}

/// Every reference input present in `../shared/models/pad/reference` gives the expected logits.
fn check_parity(backend: BackendKind) {
    let shared = common::shared_dir().expect(common::NEEDS_SHARED);
    let reference = shared.join("models/pad/reference");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reference.join("expected.json")).unwrap())
            .unwrap();
    let mut pad = pad(backend);
    let mut checked = 0;
    for (file, entry) in expected.as_object().unwrap() {
        let Ok(bytes) = std::fs::read(reference.join(file)) else { continue };
        let input: Vec<f32> =
            bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        let model = entry["model"].as_str().unwrap();
        let index = MODELS.iter().position(|(name, _)| *name == model).unwrap();
        let logits = pad.logits(index, &input).unwrap();
        let want: Vec<f32> = entry["expected_logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let diff = logits.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff <= 1e-4, "{file} on {backend}: max abs diff {diff}");
        checked += 1;
    }
    assert!(checked >= 6, "the reference tensors were found");
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn tract_matches_the_reference_logits() {
    check_parity(BackendKind::Tract);
}

#[cfg(feature = "ort")]
#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn onnx_runtime_matches_the_reference_logits() {
    check_parity(BackendKind::Ort);
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn printed_photo_and_phone_screen_are_rejected_and_live_faces_pass() {
    let shared = common::shared_dir().expect(common::NEEDS_SHARED);
    let samples = shared.join("testdata/pad");
    let mut faces = common::pipeline(BackendKind::Tract);
    let mut pad = pad(BackendKind::Tract);
    let threshold = 0.8;
    let mut score_all = |path: &std::path::Path| {
        face_scores(&mut faces, &mut pad, &Frame::open(path).unwrap(), 80.0).unwrap()
    };
    for attack in ["pad_silentface__image_F1.jpg", "pad_silentface__image_F2.jpg"] {
        let scores = score_all(&samples.join("attack").join(attack));
        eprintln!("{attack}: {scores:?}");
        assert!(
            !scores.is_empty() && scores.iter().all(|&s| s < threshold),
            "{attack}: {scores:?}"
        );
    }
    let mut live = Vec::new();
    for entry in std::fs::read_dir(samples.join("bona_fide")).unwrap() {
        live.extend(score_all(&entry.unwrap().path()));
    }
    let rejected = live.iter().filter(|&&s| s < threshold).count();
    eprintln!("bona fide faces >= 80 px: {}, rejected {rejected}: {live:?}", live.len());
    assert!(!live.is_empty());
    assert!(rejected as f32 / live.len() as f32 <= 0.05);
}
