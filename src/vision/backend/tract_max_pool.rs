//! 2×2, stride-2 max pooling run by [`facegate_kernels::max_pool_2x2`]: tract's pooling kernel
//! is a generic loop over each window (README "Speed").

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// A 2×2, stride-2, unpadded max pool over the even-sized planes of an NCHW input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaxPool2x2Op {
    /// The input's shape.
    pub shape: [usize; 4],
}

impl MaxPool2x2Op {
    fn output_shape(&self) -> [usize; 4] {
        let [n, c, h, w] = self.shape;
        [n, c, h / 2, w / 2]
    }
}

impl Op for MaxPool2x2Op {
    fn name(&self) -> StaticName {
        "FacegateMaxPool2x2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2Op {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let input = input.try_as_plain_ram()?;
        let input = input.as_slice::<f32>()?;
        let [_, _, height, width] = self.shape;
        // The kernel panics on a size that does not fit: an error keeps the gate running.
        ensure!(input.len() == self.shape.iter().product::<usize>(), "pool input size");
        let mut output = Tensor::zero::<f32>(&self.output_shape())?;
        {
            let mut view = output.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            let plane = height * width / 4;
            // Whole output planes per chunk; each reads its four-times-larger input planes.
            tract_linalg::multithread::par_chunks_mut(out, plane, input.len(), |first, part| {
                let source = &input[first * plane * 4..][..part.len() * 4];
                facegate_kernels::max_pool_2x2(source, height, width, part);
                Ok(())
            })?;
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for MaxPool2x2Op {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type());
        ensure!(inputs[0].shape.as_concrete() == Some(&self.shape[..]));
        Ok(tvec!(f32::fact(self.output_shape())))
    }

    as_op!();
}
