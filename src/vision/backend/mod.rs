//! The inference seam: one trait, two engines.
//!
//! [`tract`](tract_backend) (pure Rust) is the default; ONNX Runtime (`ort`) is a cargo feature,
//! loaded dynamically from the library named by `ORT_DYLIB_PATH`. Both take one NCHW f32 input
//! and return every output by its name in the model, so decoders never read outputs by position.

mod tract_backend;
mod tract_conv3x3;
mod tract_max_pool;
mod tract_rewrite;

pub use tract_backend::optimised_model as optimised_tract_model;

#[cfg(feature = "ort")]
mod ort_backend;

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::VisionError;

/// Which inference engine runs the models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// tract-onnx: pure Rust, always available.
    #[default]
    Tract,
    /// ONNX Runtime, with the `ort` cargo feature and `ORT_DYLIB_PATH` set.
    Ort,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tract => "tract",
            Self::Ort => "ort",
        })
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;

    /// `tract` or `ort`, as in the config file.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "tract" => Ok(Self::Tract),
            "ort" => Ok(Self::Ort),
            _ => Err(format!("unknown inference engine `{text}` (tract or ort)")),
        }
    }
}

/// One output tensor of a model run.
pub struct Output {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// All outputs of one run, looked up by name.
pub struct Outputs(pub Vec<Output>);

impl Outputs {
    /// The output called `name`, or an error naming the model's outputs.
    pub fn get(&self, name: &str) -> Result<&Output, VisionError> {
        self.0.iter().find(|o| o.name == name).ok_or_else(|| VisionError::ModelOutput {
            expected: name.to_owned(),
            found: self.0.iter().map(|o| o.name.clone()).collect(),
        })
    }
}

/// A loaded model, ready to run on inputs of the shape it was loaded for.
pub trait Session: Send {
    /// Runs the model on one NCHW f32 tensor of the loaded shape.
    fn run(&mut self, input: &[f32]) -> Result<Outputs, VisionError>;
}

/// Loads a model file for one input shape `[1, C, H, W]`, running on up to `threads` threads
/// (0: the engine's choice).
pub fn load(
    kind: BackendKind,
    model: &Path,
    shape: [usize; 4],
    threads: usize,
) -> Result<Box<dyn Session>, VisionError> {
    match kind {
        BackendKind::Tract => {
            Ok(Box::new(tract_backend::TractSession::load(model, shape, threads)?))
        }
        #[cfg(feature = "ort")]
        BackendKind::Ort => Ok(Box::new(ort_backend::OrtSession::load(model, shape, threads)?)),
        #[cfg(not(feature = "ort"))]
        BackendKind::Ort => Err(VisionError::BackendUnavailable(
            "this build has no ONNX Runtime support: rebuild with `--features ort`".into(),
        )),
    }
}

/// Whether a backend can load models in this build and environment (for a clear start-up error).
pub(crate) fn check_available(kind: BackendKind) -> Result<(), VisionError> {
    match kind {
        BackendKind::Tract => Ok(()),
        #[cfg(feature = "ort")]
        BackendKind::Ort => ort_backend::environment().map(|_| ()),
        #[cfg(not(feature = "ort"))]
        BackendKind::Ort => load(kind, Path::new(""), [1, 1, 1, 1], 0).map(|_| ()),
    }
}
