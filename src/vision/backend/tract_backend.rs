//! tract-onnx: loads a model for one fixed input shape and optimises it for that shape.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::{Output, Outputs, Session, tract_conv3x3, tract_rewrite};
use crate::vision::VisionError;

type Plan = Arc<TypedRunnableModel>;

pub struct TractSession {
    plan: Plan,
    shape: [usize; 4],
    names: Vec<String>,
}

impl TractSession {
    pub fn load(model: &Path, shape: [usize; 4], threads: usize) -> Result<Self, VisionError> {
        use_threads(threads);
        let fail = |source: TractError| VisionError::ModelLoad {
            path: model.to_owned(),
            reason: format!("{source:#}"),
        };
        let model = optimised_model(model, shape).map_err(fail)?;
        let names = model
            .output_outlets()
            .map_err(fail)?
            .iter()
            .map(|o| model.outlet_label(*o).unwrap_or_default().to_owned())
            .collect();
        let plan = model.into_runnable().map_err(fail)?;
        Ok(Self { plan, shape, names })
    }
}

/// The model as the gate runs it: parsed for one input shape, with the tract-only rewrites of
/// [`tract_rewrite`] and [`tract_conv3x3`], and optimised.
pub fn optimised_model(model: &Path, shape: [usize; 4]) -> TractResult<TypedModel> {
    // The files' value_info is written for one input size; ignoring it lets YuNet take any
    // multiple of 32 (BUILD-NOTES).
    let onnx = tract_onnx::onnx().with_ignore_value_info(true);
    let mut proto = onnx.proto_model_for_path(model)?;
    tract_rewrite::fold_prelu_copies(&mut proto, tract_rewrite::PreluForm::MinMulAdd)?;
    let mut inference = onnx.model_for_proto_model(&proto)?;
    inference.set_input_fact(0, f32::fact(shape).into())?;
    // Decluttered first, so that batch norms are folded into the convolutions' constants.
    let mut typed = inference.into_typed()?.into_decluttered()?;
    tract_rewrite::max_pools_by_own_kernel(&mut typed)?;
    tract_conv3x3::use_own_kernels(&mut typed)?;
    typed.into_optimized()
}

/// tract's matrix products run on one process-wide executor, set by each model load to its
/// thread count: all models of a gate share one `[vision] threads`, and `bench` loads gates of
/// other counts in turn.
fn use_threads(threads: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tract_linalg::multithread::{Executor, set_default_executor};
    static CURRENT: AtomicUsize = AtomicUsize::new(1);
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    if CURRENT.swap(threads, Ordering::Relaxed) != threads {
        let executor =
            if threads > 1 { Executor::multithread(threads) } else { Executor::SingleThread };
        set_default_executor(executor);
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
                let data = value
                    .try_as_plain_ram()
                    .and_then(|v| v.as_slice::<f32>().map(<[f32]>::to_vec))
                    .map_err(fail)?;
                Ok(Output { name: name.clone(), shape: value.shape().to_vec(), data })
            })
            .collect::<Result<_, VisionError>>()?;
        Ok(Outputs(outputs))
    }
}
