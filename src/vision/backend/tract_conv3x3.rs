//! 3×3 convolutions (padding 1, stride 1 or 2) run by [`facegate_kernels::Conv3x3`] instead of
//! tract's own plans for them: its depthwise kernel, its stride-2 loop and its direct convolution
//! of the 3-channel input are the slowest nodes of both models (README "Speed").
//!
//! [`use_own_kernels`] swaps each such `Conv` of a decluttered typed model for a [`Conv3x3Op`]
//! with the same inputs; the rest of the graph, and tract's optimiser, see an ordinary operator.
//! A ReLU (`max(y, 0)`) or a PRelu (as the loader writes it, `y + (a−1)·min(y, 0)`) right after
//! the convolution is applied by the kernel to each row it has just computed, instead of in
//! further passes over the whole output.

use std::ops::Range;

use facegate_kernels::{Activation, Conv3x3};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// A chunk of an ungrouped layer holds up to this many output channels (the most that divide the
/// layer's): each chunk pads the whole input again, which must stay small next to its own work.
const UNGROUPED_CHANNELS_PER_CHUNK: usize = 8;

/// Replaces every `Conv` the kernel computes; returns how many.
pub fn use_own_kernels(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some((layer, output_shape)) = supported_layer(model, node)? else { continue };
        let kernel = model.outlet_fact(node.inputs[1])?.konst.clone().context("kernel")?;
        let bias = model.outlet_fact(node.inputs[2])?.konst.clone().context("bias")?;
        let bias: Vec<f32> = match bias.try_as_plain_ram()?.as_slice::<f32>()? {
            [one] => vec![*one; layer.out_channels],
            all if all.len() == layer.out_channels => all.to_vec(),
            _ => continue,
        };
        let (activation, slopes, replaced_outlet) = following_activation(model, node, &layer)?;
        let name = node.name.clone();
        let input = node.inputs[0];
        let mut patch = TypedModelPatch::default();
        let mut inputs = vec![patch.tap_model(model, input)?];
        inputs.push(patch.add_const(format!("{name}.kernel"), kernel)?);
        inputs.push(patch.add_const(format!("{name}.bias"), tensor1(&bias))?);
        if let Some(slopes) = slopes {
            inputs.push(patch.add_const(format!("{name}.slopes"), tensor1(&slopes))?);
        }
        let op = Conv3x3Op { layer, activation, output_shape };
        let wire = patch.wire_node(&name, op, &inputs)?[0];
        patch.shunt_outside(model, replaced_outlet, wire)?;
        patch.apply(model)?;
        replaced += 1;
    }
    Ok(replaced)
}

/// The layer of a `Conv` node the kernel computes as it is, and the node's output shape.
fn supported_layer(
    model: &TypedModel,
    node: &TypedNode,
) -> TractResult<Option<(Conv3x3, TVec<usize>)>> {
    let Some(conv) = node.op_as::<Conv>() else { return Ok(None) };
    let spec = &conv.pool_spec;
    let ones = |v: &[usize]| v.iter().all(|&x| x == 1);
    let padded_by_one = match &spec.padding {
        PaddingSpec::Explicit(before, after) => ones(before) && ones(after),
        _ => false,
    };
    let stride = spec.strides.as_ref().map_or(Some(1), |s| match s.as_slice() {
        [a, b] if a == b => Some(*a),
        _ => None,
    });
    let input = model.outlet_fact(node.inputs[0])?;
    let Some(shape) = input.shape.as_concrete() else { return Ok(None) };
    let outputs = spec.output_channels;
    // Channel-major planes, with or without the batch axis; a single channel is the same memory
    // whichever axis it is on.
    let planes = match (spec.data_format, shape) {
        (DataFormat::NCHW, &[1, c, h, w]) => Some((c, h, w, tvec![1, outputs])),
        (DataFormat::CHW, &[c, h, w]) => Some((c, h, w, tvec![outputs])),
        (DataFormat::NHWC, &[1, h, w, 1]) if outputs == 1 => Some((1, h, w, tvec![1])),
        (DataFormat::HWC, &[h, w, 1]) if outputs == 1 => Some((1, h, w, tvec![])),
        _ => None,
    };
    let (Some(stride), Some((channels, height, width, leading))) = (stride, planes) else {
        return Ok(None);
    };
    let constant = |i: usize| model.outlet_fact(node.inputs[i]).map(|f| f.konst.is_some());
    let plain = conv.q_params.is_none()
        && conv.kernel_fmt == KernelFormat::OIHW
        && spec.kernel_shape.as_slice() == [3, 3]
        && spec.dilations.as_ref().is_none_or(|d| ones(d))
        && padded_by_one
        && input.datum_type == f32::datum_type()
        && node.inputs.len() == 3
        && constant(1)?
        && constant(2)?;
    let layer = Conv3x3 {
        in_channels: channels,
        out_channels: outputs,
        groups: conv.group,
        height,
        width,
        stride,
    };
    if !(plain && channels == spec.input_channels && layer.is_supported()) {
        return Ok(None);
    }
    let mut output_shape = leading;
    output_shape.extend([layer.out_height(), layer.out_width()]);
    if spec.data_format.c_is_last() {
        output_shape.push(1);
    }
    Ok(Some((layer, output_shape)))
}

/// The activation the kernel applies after the sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fused {
    Linear,
    Relu,
    /// Slopes in a fourth input.
    PRelu,
}

/// The activation that follows `conv` alone, its slopes for a PRelu, and the outlet whose value
/// the fused operator gives: the activation's output, or the convolution's if none is fused.
fn following_activation(
    model: &TypedModel,
    conv: &TypedNode,
    layer: &Conv3x3,
) -> TractResult<(Fused, Option<Vec<f32>>, OutletId)> {
    let output = OutletId::new(conv.id, 0);
    let linear = Ok((Fused::Linear, None, output));
    if model.output_outlets()?.contains(&output) {
        return linear;
    }
    let users = consumers(model, output);
    let same_shape = |node: &TypedNode| -> TractResult<bool> {
        Ok(model.outlet_fact(node.id.into())?.shape == model.outlet_fact(output)?.shape)
    };
    match users.as_slice() {
        [relu]
            if bin_op(relu) == Some("Max")
                && other_is_zero(model, relu, output)?
                && same_shape(relu)? =>
        {
            Ok((Fused::Relu, None, relu.id.into()))
        }
        [a, b] => match prelu_after(model, output, [a, b], layer)? {
            Some((slopes, sum)) if same_shape(model.node(sum.node))? => {
                Ok((Fused::PRelu, Some(slopes), sum))
            }
            _ => linear,
        },
        _ => linear,
    }
}

/// The slopes of `y + (a−1)·min(y, 0)` read by `users` of `y`, and the sum's outlet.
fn prelu_after(
    model: &TypedModel,
    y: OutletId,
    users: [&TypedNode; 2],
    layer: &Conv3x3,
) -> TractResult<Option<(Vec<f32>, OutletId)>> {
    let [min, sum] = if bin_op(users[0]) == Some("Min") { users } else { [users[1], users[0]] };
    // `min` feeds only `scale`, which feeds only `sum`, which adds `y`; neither is an output.
    let [scale] = consumers(model, min.id.into())[..] else { return Ok(None) };
    let outputs = model.output_outlets()?;
    let shape_holds = bin_op(min) == Some("Min")
        && !outputs.contains(&min.id.into())
        && !outputs.contains(&scale.id.into())
        && other_is_zero(model, min, y)?
        && bin_op(scale) == Some("Mul")
        && bin_op(sum) == Some("Add")
        && matches!(consumers(model, scale.id.into())[..], [next] if next.id == sum.id)
        && sum.inputs.contains(&y)
        && sum.inputs.contains(&scale.id.into())
        && per_channel(model, scale, min.id.into(), layer)?;
    let Some(factors) = other_input(model, scale, min.id.into())?.filter(|_| shape_holds) else {
        return Ok(None);
    };
    let slopes = factors.try_as_plain_ram()?.as_slice::<f32>()?.iter().map(|f| f + 1.0).collect();
    Ok(Some((slopes, sum.id.into())))
}

/// The nodes reading `outlet`.
fn consumers(model: &TypedModel, outlet: OutletId) -> Vec<&TypedNode> {
    model.outlet_successors(outlet).iter().map(|inlet| model.node(inlet.node)).collect()
}

/// The element-wise binary operator's name ("Max", "Min", "Mul", "Add"), if `node` is one.
fn bin_op(node: &TypedNode) -> Option<&'static str> {
    node.op_as::<TypedBinOp>().map(|op| op.0.name())
}

/// The constant value of the binary `node`'s input other than `from`.
fn other_input(
    model: &TypedModel,
    node: &TypedNode,
    from: OutletId,
) -> TractResult<Option<Arc<Tensor>>> {
    let [a, b] = node.inputs[..] else { return Ok(None) };
    let other = match (a == from, b == from) {
        (true, false) => b,
        (false, true) => a,
        _ => return Ok(None),
    };
    Ok(model.outlet_fact(other)?.konst.clone())
}

fn other_is_zero(model: &TypedModel, node: &TypedNode, from: OutletId) -> TractResult<bool> {
    let Some(value) = other_input(model, node, from)? else { return Ok(false) };
    Ok(value.datum_type() == f32::datum_type()
        && value.try_as_plain_ram()?.as_slice::<f32>()?.iter().all(|&v| v == 0.0))
}

/// Whether the factors of `scale` hold one value per channel, on the channel axis.
fn per_channel(
    model: &TypedModel,
    scale: &TypedNode,
    from: OutletId,
    layer: &Conv3x3,
) -> TractResult<bool> {
    let Some(factors) = other_input(model, scale, from)? else { return Ok(false) };
    let output = model.outlet_fact(from)?.shape.to_tvec();
    let rank = output.len();
    // With several channels the output is NCHW or CHW: channels come right before the plane's
    // two axes. A single channel may sit on any axis.
    let channel_axis = rank.checked_sub(3);
    let shape = factors.shape();
    let aligned = rank >= shape.len()
        && shape.iter().enumerate().all(|(i, &dim)| {
            let axis = rank - shape.len() + i;
            dim == 1 || (Some(axis) == channel_axis && dim == layer.out_channels)
        });
    Ok(factors.datum_type() == f32::datum_type()
        && factors.len() == layer.out_channels
        && (aligned || layer.out_channels == 1))
}

/// One 3×3 convolution; inputs: the image's channel planes, the OIHW kernel, one bias per
/// output channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Conv3x3Op {
    layer: Conv3x3,
    activation: Fused,
    /// The replaced node's output shape (its axes as the rest of the graph expects them).
    output_shape: TVec<usize>,
}

impl Conv3x3Op {
    /// Output channels per parallel chunk: one plane for a grouped layer (each group pads only
    /// its own input), several for an ungrouped one. Chunks must divide the output evenly.
    fn channels_per_chunk(&self) -> usize {
        let layer = &self.layer;
        match layer.groups {
            1 => (1..=UNGROUPED_CHANNELS_PER_CHUNK)
                .rev()
                .find(|&n| layer.out_channels.is_multiple_of(n))
                .unwrap_or(1),
            _ => 1,
        }
    }
}

impl Op for Conv3x3Op {
    fn name(&self) -> StaticName {
        "FacegateConv3x3".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?} then {:?}", self.layer, self.activation)])
    }

    op_as_typed_op!();
}

impl EvalOp for Conv3x3Op {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let views = inputs.iter().map(|v| v.try_as_plain_ram()).collect::<TractResult<Vec<_>>>()?;
        let slices = views.iter().map(|v| v.as_slice::<f32>()).collect::<TractResult<Vec<_>>>()?;
        let (input, kernel, bias) = (slices[0], slices[1], slices[2]);
        // The kernel panics on slices that do not fit the layer: an error here keeps a wrong
        // input from taking the gate down.
        let layer = &self.layer;
        ensure!(input.len() == layer.in_channels * layer.height * layer.width, "input size");
        ensure!(kernel.len() == layer.out_channels * layer.in_channels / layer.groups * 9);
        ensure!(bias.len() == layer.out_channels, "bias size");
        let activation = match self.activation {
            Fused::Linear => Activation::Linear,
            Fused::Relu => Activation::Relu,
            Fused::PRelu => Activation::PRelu(slices.get(3).context("slopes")?),
        };
        if let Activation::PRelu(slopes) = activation {
            ensure!(slopes.len() == layer.out_channels, "slopes size");
        }
        let mut output = Tensor::zero::<f32>(&self.output_shape)?;
        let chunk = self.channels_per_chunk() * layer.out_plane();
        let channels = |first: usize, len: usize| -> Range<usize> {
            let first = first * self.channels_per_chunk();
            first..first + len / layer.out_plane()
        };
        {
            let mut view = output.try_as_plain_ram_mut()?;
            let out = view.as_slice_mut::<f32>()?;
            let total = out.len();
            tract_linalg::multithread::par_chunks_mut(out, chunk, total, |first, part| {
                layer.run(input, kernel, bias, activation, channels(first, part.len()), part);
                Ok(())
            })?;
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for Conv3x3Op {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::PoolSpec;
    use tract_onnx::tract_core::ops::math::{add, max, min, mul};

    const HEIGHT: usize = 9;
    const WIDTH: usize = 14;

    /// The input shape of `channels` planes in `format`.
    fn input_shape(format: DataFormat, channels: usize) -> TVec<usize> {
        match format {
            DataFormat::NCHW => tvec![1, channels, HEIGHT, WIDTH],
            DataFormat::CHW => tvec![channels, HEIGHT, WIDTH],
            DataFormat::NHWC => tvec![1, HEIGHT, WIDTH, channels],
            DataFormat::HWC => tvec![HEIGHT, WIDTH, channels],
        }
    }

    /// A one-convolution model, its weights and bias varied and non-trivial.
    fn conv_model(
        format: DataFormat,
        channels: usize,
        outputs: usize,
        group: usize,
        stride: usize,
    ) -> TypedModel {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact(input_shape(format, channels))).unwrap();
        let weights: Vec<f32> =
            (0..outputs * channels / group * 9).map(|i| ((i as f32) * 0.61).sin()).collect();
        let kernel = Tensor::from_shape(&[outputs, channels / group, 3, 3], &weights).unwrap();
        let kernel = model.add_const("kernel", kernel).unwrap();
        let bias: Vec<f32> = (0..outputs).map(|i| i as f32 * 0.1 - 0.3).collect();
        let bias = model.add_const("bias", tensor1(&bias)).unwrap();
        let spec = PoolSpec {
            data_format: format,
            kernel_shape: tvec![3, 3],
            padding: PaddingSpec::Explicit(tvec![1, 1], tvec![1, 1]),
            dilations: None,
            strides: Some(tvec![stride, stride]),
            input_channels: channels,
            output_channels: outputs,
        };
        let conv = Conv { pool_spec: spec, kernel_fmt: KernelFormat::OIHW, group, q_params: None };
        let y = model.wire_node("conv", conv, &[x, kernel, bias]).unwrap();
        model.select_output_outlets(&y).unwrap();
        model
    }

    /// `model` with `max(y, 0)` (`slopes` none) or `y + (a−1)·min(y, 0)` after its output `y`.
    fn with_activation(mut model: TypedModel, slopes: Option<&[f32]>) -> TypedModel {
        let y = model.output_outlets().unwrap()[0];
        let rank = model.outlet_fact(y).unwrap().rank();
        let mut ones = tvec![1; rank];
        let zero = model.add_const("zero", Tensor::zero::<f32>(&ones).unwrap()).unwrap();
        let out = match slopes {
            None => model.wire_node("relu", max(), &[y, zero]).unwrap()[0],
            Some(slopes) => {
                ones[rank - 3] = slopes.len();
                let factors: Vec<f32> = slopes.iter().map(|a| a - 1.0).collect();
                let factors = Tensor::from_shape(&ones, &factors).unwrap();
                let factors = model.add_const("factors", factors).unwrap();
                let negative = model.wire_node("min", min(), &[y, zero]).unwrap()[0];
                let scaled = model.wire_node("scaled", mul(), &[negative, factors]).unwrap()[0];
                model.wire_node("prelu", add(), &[y, scaled]).unwrap()[0]
            }
        };
        model.select_output_outlets(&[out]).unwrap();
        model
    }

    /// The one `Conv3x3Op` of `model`'s plan, and its outputs for `input`, next to tract's.
    fn ours_and_tracts(model: TypedModel, input: &Tensor) -> (Fused, Vec<f32>, Vec<f32>) {
        let (shape, expected) = run(model.clone().into_optimized().unwrap(), input);
        let mut ours = model;
        assert_eq!(use_own_kernels(&mut ours).unwrap(), 1);
        let ours = ours.into_optimized().unwrap();
        let op = ours.nodes().iter().find_map(|n| n.op_as::<Conv3x3Op>()).unwrap().clone();
        let (our_shape, got) = run(ours, input);
        assert_eq!(our_shape, shape);
        (op.activation, got, expected)
    }

    fn worst_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
    }

    fn run(model: TypedModel, input: &Tensor) -> (Vec<usize>, Vec<f32>) {
        let out = model.into_runnable().unwrap().run(tvec!(input.clone().into())).unwrap();
        let values = out[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
        (out[0].shape().to_vec(), values)
    }

    fn varied_input(format: DataFormat, channels: usize) -> Tensor {
        let values: Vec<f32> =
            (0..channels * HEIGHT * WIDTH).map(|i| ((i as f32) * 0.23).cos()).collect();
        Tensor::from_shape(&input_shape(format, channels), &values).unwrap()
    }

    #[test]
    fn each_supported_convolution_is_replaced_and_computes_what_tract_computes() {
        let layers = [
            (DataFormat::NCHW, 3, 16, 1),
            (DataFormat::NCHW, 3, 12, 1),
            (DataFormat::CHW, 8, 8, 8),
            (DataFormat::NHWC, 1, 1, 1),
            (DataFormat::HWC, 1, 1, 1),
        ];
        for (format, channels, outputs, group) in layers {
            for stride in [1, 2] {
                let model = conv_model(format, channels, outputs, group, stride);
                let input = varied_input(format, channels);
                let (fused, got, expected) = ours_and_tracts(model, &input);
                assert_eq!(fused, Fused::Linear);
                let worst = worst_difference(&got, &expected);
                assert!(worst < 1e-4, "{format:?} {channels}→{outputs}/{group} /{stride}: {worst}");
            }
        }
    }

    #[test]
    fn a_relu_or_prelu_after_the_convolution_is_applied_by_the_kernel() {
        let slopes: Vec<f32> = (0..8).map(|c| 0.1 + 0.05 * c as f32).collect();
        for format in [DataFormat::NCHW, DataFormat::CHW] {
            for (activation, expected_fusion) in
                [(None, Fused::Relu), (Some(&slopes[..]), Fused::PRelu)]
            {
                let model = with_activation(conv_model(format, 8, 8, 8, 2), activation);
                let input = varied_input(format, 8);
                let (fused, got, expected) = ours_and_tracts(model, &input);
                assert_eq!(fused, expected_fusion, "{format:?}");
                assert!(expected.iter().any(|&v| v < 0.0) == activation.is_some());
                let worst = worst_difference(&got, &expected);
                assert!(worst < 1e-4, "{format:?} {expected_fusion:?}: {worst}");
            }
        }
    }

    #[test]
    fn other_convolutions_are_left_to_tract() {
        // Several channels, channel-last: not the kernel's layout.
        let mut model = conv_model(DataFormat::NHWC, 4, 4, 4, 1);
        assert_eq!(use_own_kernels(&mut model).unwrap(), 0);
        // Not padded by one.
        let mut model = conv_model(DataFormat::NCHW, 4, 4, 4, 1);
        let conv = model.node_mut(model.node_by_name("conv").unwrap().id);
        conv.op_as_mut::<Conv>().unwrap().pool_spec.padding = PaddingSpec::Valid;
        assert_eq!(use_own_kernels(&mut model).unwrap(), 0);
    }
}
