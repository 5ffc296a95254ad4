//! ONNX Runtime through the `ort` crate, loading `libonnxruntime` at run time.
//!
//! The library is found through `ORT_DYLIB_PATH` (e.g. the `libonnxruntime.so.1.32.0` inside
//! PyPI's `onnxruntime` wheel; `models/fetch.sh --ort` unpacks it). `ort` panics on first use
//! when the library is missing, so the path is checked here first and a missing library is an
//! error that says how to fix it.
//!
//! Each session's intra-op workers block when they run out of work instead of spinning
//! (ONNX Runtime's default): spinning workers of every session (detector, recogniser, two
//! liveness models) took the cores from the threads doing the work, and 2 threads ran 3–5×
//! slower than 1 on a busy 2-core machine (README "Speed").

use std::path::Path;
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session as OrtInner;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

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
        let env = environment()?;
        let session = OrtInner::builder(env)
            .map_err(|e| fail(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| fail(e.to_string()))?
            .with_intra_threads(threads)
            .map_err(|e| fail(e.to_string()))?
            .with_intra_op_spinning(false)
            .map_err(|e| fail(e.to_string()))?
            .commit_from_file(model)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self { session, shape })
    }
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
