//! ONNX Runtime through the `ort` crate, loading `libonnxruntime` at run time.
//!
//! The library is found through `ORT_DYLIB_PATH` (e.g. the `libonnxruntime.so.1.32.0` inside
//! PyPI's `onnxruntime` wheel; `models/fetch.sh --ort` unpacks it). `ort` panics on first use
//! when the library is missing, so the path is checked here first and a missing library is an
//! error that says how to fix it.
//!
//! Each session's intra-op workers spin between the operators of a run (ONNX Runtime's
//! default) and stop spinning when the run returns (`session.force_spinning_stop`). Left to spin
//! after a run, the idle workers of every session (detector, recogniser, two liveness models)
//! took the cores from the threads doing the work, and 2 threads ran 3–5× slower than 1 on a
//! busy 2-core machine; workers that never spin cost a wake-up per operator, about 10 % of a frame
//! at 2 threads (README "Speed").
//!
//! The converter's PRelu copies are folded at load time into the form ONNX Runtime runs fastest
//! ([`PreluForm::DepthwiseProducts`]): SFace's convolutions then run once instead of twice.

use std::path::Path;
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session as OrtInner;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::value::Tensor;
use prost::Message;
use tract_onnx::prelude::Framework;

use super::tract_rewrite::{PreluForm, fold_prelu_copies};
use super::{Output, Outputs, Session};
use crate::vision::VisionError;

/// The process-wide ONNX Runtime environment, created on first use.
pub(crate) fn environment() -> Result<&'static Environment, VisionError> {
    static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();
    let result = ENV.get_or_init(|| {
        let path = std::env::var_os("ORT_DYLIB_PATH").ok_or_else(|| {
            "ORT_DYLIB_PATH is not set: run `models/fetch.sh --ort` and export the path it prints"
                .to_owned()
        })?;
        if !Path::new(&path).is_file() {
            return Err(format!("ORT_DYLIB_PATH points to {path:?}, which is not a file"));
        }
        let builder = ort::init_from(&path).map_err(|e| format!("cannot load {path:?}: {e}"))?;
        builder.build().map_err(|e| format!("cannot start ONNX Runtime: {e}"))
    });
    result.as_ref().map_err(|reason| VisionError::BackendUnavailable(reason.clone()))
}

pub struct OrtSession {
    session: OrtInner,
    shape: [usize; 4],
}

impl OrtSession {
    pub fn load(model: &Path, shape: [usize; 4], threads: usize) -> Result<Self, VisionError> {
        let fail = |e: String| VisionError::ModelLoad { path: model.to_owned(), reason: e };
        let mut builder = session_builder(environment()?, threads).map_err(fail)?;
        let bytes = folded_model(model).map_err(|e| fail(format!("{e:#}")))?;
        let session = builder.commit_from_memory(&bytes).map_err(|e| fail(e.to_string()))?;
        Ok(Self { session, shape })
    }
}

/// The gate's session options: every optimisation, and `threads` intra-op workers that spin
/// only during a run.
fn session_builder(env: &Environment, threads: usize) -> Result<SessionBuilder, String> {
    let text = |e: ort::Error<SessionBuilder>| e.to_string();
    OrtInner::builder(env)
        .map_err(|e| e.to_string())?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(text)?
        .with_intra_threads(threads)
        .map_err(text)?
        .with_config_entry("session.force_spinning_stop", "1")
        .map_err(text)
}

/// The model file's bytes with the converter's PRelu copies folded for ONNX Runtime.
fn folded_model(model: &Path) -> anyhow::Result<Vec<u8>> {
    let mut proto = tract_onnx::onnx().proto_model_for_path(model)?;
    fold_prelu_copies(&mut proto, PreluForm::DepthwiseProducts)?;
    Ok(proto.encode_to_vec())
}

impl Session for OrtSession {
    fn run(&mut self, input: &[f32]) -> Result<Outputs, VisionError> {
        let fail = |e: ort::Error| VisionError::Inference(e.to_string());
        let tensor = Tensor::from_array((self.shape, input.to_vec())).map_err(fail)?;
        let input_name = self.session.inputs()[0].name().to_owned();
        let results = self.session.run(ort::inputs![input_name => tensor]).map_err(fail)?;
        let outputs = results
            .iter()
            .map(|(name, value)| {
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(fail)?;
                let shape = shape.iter().map(|&d| d.max(0) as usize).collect();
                Ok(Output { name: name.to_owned(), shape, data: data.to_vec() })
            })
            .collect::<Result<_, VisionError>>()?;
        Ok(Outputs(outputs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parity test compares tract with ONNX Runtime, and both run a fold of the same
    /// recovered weights: this compares ONNX Runtime's folded SFace with the file as converted.
    #[test]
    fn the_folded_recogniser_gives_the_embeddings_of_the_file_as_converted() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sface_fp32.onnx");
        let mut proto = tract_onnx::onnx().proto_model_for_path(&path).expect("models/fetch.sh");
        let folds = fold_prelu_copies(&mut proto, PreluForm::DepthwiseProducts).unwrap();
        assert_eq!(folds, 27, "SFace's 27 PRelus are folded");
        let shape = [1, 3, 112, 112];
        let mut folded = OrtSession::load(&path, shape, 1).unwrap();
        let env = environment().unwrap();
        let file = session_builder(env, 1).unwrap().commit_from_file(&path).unwrap();
        let mut file = OrtSession { session: file, shape };
        for seed in 0..3 {
            // A face-like range of pixel values (0..255), different per seed.
            let input: Vec<f32> = (0..3 * 112 * 112)
                .map(|i| (((i * 7 + seed * 131) as f32 * 0.618).sin() + 1.0) * 127.5)
                .collect();
            let a = folded.run(&input).unwrap().0.remove(0).data;
            let b = file.run(&input).unwrap().0.remove(0).data;
            let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let cosine = dot / (norm(&a) * norm(&b));
            assert!(cosine >= 0.99999, "seed {seed}: cosine {cosine}");
        }
    }
}
