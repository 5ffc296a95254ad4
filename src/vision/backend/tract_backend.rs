//! tract-onnx: loads a model for one fixed input shape and optimises it for that shape.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::{Output, Outputs, Session};
use crate::vision::VisionError;

type Plan = Arc<TypedRunnableModel>;

pub struct TractSession {
    plan: Plan,
    shape: [usize; 4],
    names: Vec<String>,
}

impl TractSession {
    /// tract runs single-threaded here; `threads` is accepted for symmetry (see README, Speed).
    pub fn load(model: &Path, shape: [usize; 4], _threads: usize) -> Result<Self, VisionError> {
        let fail = |source: TractError| VisionError::ModelLoad {
            path: model.to_owned(),
            reason: format!("{source:#}"),
        };
        // The files' value_info is written for one input size; ignoring it lets YuNet take any
        // multiple of 32 (BUILD-NOTES).
        let mut inference =
            tract_onnx::onnx().with_ignore_value_info(true).model_for_path(model).map_err(fail)?;
        let names = inference
            .output_outlets()
            .map_err(fail)?
            .iter()
            .map(|o| inference.outlet_label(*o).unwrap_or_default().to_owned())
            .collect();
        inference.set_input_fact(0, f32::fact(shape).into()).map_err(fail)?;
        let plan = inference.into_optimized().and_then(|m| m.into_runnable()).map_err(fail)?;
        Ok(Self { plan, shape, names })
    }
}

impl Session for TractSession {
    fn run(&mut self, input: &[f32]) -> Result<Outputs, VisionError> {
        let fail = |e: TractError| VisionError::Inference(format!("{e:#}"));
        let tensor = Tensor::from_shape(&self.shape, input).map_err(fail)?;
        let results = self.plan.run(tvec!(tensor.into())).map_err(fail)?;
        let outputs = results
            .iter()
            .zip(&self.names)
            .map(|(value, name)| {
                let data = value.try_as_plain_ram().and_then(|v| v.as_slice::<f32>().map(<[f32]>::to_vec)).map_err(fail)?;
                Ok(Output { name: name.clone(), shape: value.shape().to_vec(), data })
            })
            .collect::<Result<_, VisionError>>()?;
        Ok(Outputs(outputs))
    }
}
