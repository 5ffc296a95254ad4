//! Graph rewrites applied at load time (the model files stay as `models/fetch.sh` checked them):
//! each computes the same values as the graph it replaces, up to float rounding, with operators
//! the engine runs faster.
//!
//! - [`fold_prelu_copies`] undoes `models/convert.py`'s PRelu rewrite (`a·x + (1−a)·relu(x)`,
//!   with the factors moved into copies of the convolution) in the ONNX protobuf before the
//!   engine parses it: one convolution instead of two or three, then the PRelu in the form the
//!   engine runs fastest ([`PreluForm`]).
//! - [`max_pools_by_own_kernel`] runs each 2×2, stride-2 max pool of tract's typed model on our
//!   kernel ([`MaxPool2x2Op`]): tract's pooling kernel is a generic loop over each window.

use std::collections::HashMap;

use tract_onnx::data_resolver::MmapDataResolver;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, TensorProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::cnn::{MaxPool, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::tract_max_pool::MaxPool2x2Op;

/// Replaces each 2×2, stride-2, unpadded f32 max pool over even-sized NCHW planes by
/// [`MaxPool2x2Op`]; returns how many.
pub fn max_pools_by_own_kernel(model: &mut TypedModel) -> TractResult<usize> {
    let mut pools = Vec::new();
    for node in model.nodes() {
        if is_halving_max_pool(model, node)? {
            pools.push(node.id);
        }
    }
    for &id in &pools {
        let node = model.node(id);
        // Concrete and of rank 4, as `is_halving_max_pool` checked.
        let shape =
            model.outlet_fact(node.inputs[0])?.shape.as_concrete().unwrap_or(&[]).try_into()?;
        let mut patch = TypedModelPatch::default();
        let input = patch.tap_model(model, node.inputs[0])?;
        let wire = patch.wire_node(&node.name, MaxPool2x2Op { shape }, &[input])?[0];
        patch.shunt_outside(model, id.into(), wire)?;
        patch.apply(model)?;
    }
    Ok(pools.len())
}

fn is_halving_max_pool(model: &TypedModel, node: &TypedNode) -> TractResult<bool> {
    let Some(pool) = node.op_as::<MaxPool>() else { return Ok(false) };
    let spec = &pool.pool_spec;
    let unpadded = match &spec.padding {
        PaddingSpec::Valid => true,
        PaddingSpec::Explicit(before, after) | PaddingSpec::ExplicitOnnxPool(before, after, _) => {
            before.iter().chain(after).all(|&p| p == 0)
        }
        PaddingSpec::SameUpper | PaddingSpec::SameLower => false,
    };
    let input = model.outlet_fact(node.inputs[0])?;
    let shape = &input.shape;
    let even = |axis: usize| shape[axis].to_usize().is_ok_and(|n| n > 0 && n % 2 == 0);
    Ok(pool.with_index_outputs.is_none()
        && input.datum_type == f32::datum_type()
        && shape.as_concrete().is_some()
        && spec.data_format == DataFormat::NCHW
        && *spec.kernel_shape == [2, 2]
        && spec.strides.as_deref() == Some(&[2, 2])
        && spec.dilations.as_ref().is_none_or(|d| d.iter().all(|&d| d == 1))
        && unpadded
        && shape.len() == 4
        && even(2)
        && even(3))
}

/// One `Conv → PRelu` as `models/convert.py` rewrote it: the convolutions (linear, positive and
/// optionally negative part, all reading `input` with the same attributes) and the nodes after.
struct PreluCopies {
    input: String,
    output: String,
    convs: Vec<usize>,
    nodes: Vec<usize>,
}

/// How a folded PRelu `y ↦ max(y, 0) + a·min(y, 0)` (per-channel slope `a`) is written.
#[derive(Clone, Copy, Debug)]
pub enum PreluForm {
    /// `y + (a−1)·min(y, 0)`, for tract: it runs this as one pass of vectorised element-wise
    /// kernels (its PRelu is a compare, a select and a generic broadcast multiply).
    MinMulAdd,
    /// `relu(y) − a·relu(−y)`, both products as 1×1 depthwise convolutions, for ONNX Runtime:
    /// it keeps these in its blocked channel layout (its PRelu is a generic broadcast that took
    /// 15 of SFace's 29 ms; the converter's copies run every such convolution twice).
    #[cfg_attr(not(feature = "ort"), allow(dead_code))]
    DepthwiseProducts,
}

/// Folds each PRelu's convolution copies back into one convolution followed by the PRelu in
/// `form`; returns how many. A pattern whose weights are not the per-channel multiples the
/// converter writes is left as it is.
pub fn fold_prelu_copies(model: &mut ModelProto, form: PreluForm) -> TractResult<usize> {
    let Some(graph) = model.graph.as_mut() else { return Ok(0) };
    let weights: HashMap<String, TensorProto> =
        graph.initializer.iter().map(|t| (t.name.clone(), t.clone())).collect();
    let producer: HashMap<&str, usize> = (graph.node.iter().enumerate())
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        for input in &node.input {
            consumers.entry(input.as_str()).or_default().push(i);
        }
    }
    let links = Links { nodes: &graph.node, producer, consumers };
    let mut replaced: HashMap<usize, Vec<NodeProto>> = HashMap::new();
    let mut dropped = Vec::new();
    let mut added = Vec::new();
    for add in 0..graph.node.len() {
        let Some(found) = links.prelu_copies(add) else { continue };
        let Some((conv, tensors)) = folded(&graph.node, &found, &weights, form)? else {
            continue;
        };
        let last = *found.nodes.last().unwrap_or(&add);
        replaced.insert(last, conv);
        dropped.extend(found.nodes.iter().chain(&found.convs).filter(|&&i| i != last));
        added.extend(tensors);
    }
    let count = replaced.len();
    let nodes = std::mem::take(&mut graph.node);
    for (i, node) in nodes.into_iter().enumerate() {
        match replaced.remove(&i) {
            Some(new) => graph.node.extend(new),
            None if !dropped.contains(&i) => graph.node.push(node),
            None => {}
        }
    }
    graph.initializer.extend(added);
    // What the nodes read, and what the graph names as its inputs and outputs.
    let named = graph.input.iter().chain(&graph.output).map(|v| &v.name);
    let used: std::collections::HashSet<&str> =
        graph.node.iter().flat_map(|n| &n.input).chain(named).map(String::as_str).collect();
    let kept = graph.initializer.iter().filter(|t| used.contains(t.name.as_str())).cloned();
    graph.initializer = kept.collect();
    Ok(count)
}

struct Links<'a> {
    nodes: &'a [NodeProto],
    producer: HashMap<&'a str, usize>,
    consumers: HashMap<&'a str, Vec<usize>>,
}

impl Links<'_> {
    /// The node making `tensor`, when `tensor` is read by that one consumer only.
    fn sole_producer(&self, tensor: &str, op: &str) -> Option<usize> {
        let i = *self.producer.get(tensor)?;
        let single = self.consumers.get(tensor).is_some_and(|c| c.len() == 1);
        (single && self.nodes[i].op_type == op).then_some(i)
    }

    /// `relu(conv(x))` for a convolution reading `input` with `like`'s attributes.
    fn relu_of_conv(&self, tensor: &str, input: &str, like: &NodeProto) -> Option<[usize; 2]> {
        let relu = self.sole_producer(tensor, "Relu")?;
        let conv = self.sole_producer(self.nodes[relu].input.first()?, "Conv")?;
        let node = &self.nodes[conv];
        (node.input.len() == 3 && node.input[0] == input && node.attribute == like.attribute)
            .then_some([relu, conv])
    }

    /// `Add(conv_l(x), relu(conv_p(x)))`, optionally followed by `Sub(·, relu(conv_n(x)))`.
    fn prelu_copies(&self, add: usize) -> Option<PreluCopies> {
        let node = &self.nodes[add];
        if node.op_type != "Add" || node.input.len() != 2 {
            return None;
        }
        let linear = self.sole_producer(&node.input[0], "Conv")?;
        let conv = &self.nodes[linear];
        let input = conv.input.first()?;
        if conv.input.len() != 3 {
            return None;
        }
        let [relu, positive] = self.relu_of_conv(&node.input[1], input, conv)?;
        let mut found = PreluCopies {
            input: input.clone(),
            output: node.output.first()?.clone(),
            convs: vec![linear, positive],
            nodes: vec![relu, add],
        };
        let after = self.consumers.get(found.output.as_str()).filter(|c| c.len() == 1);
        if let Some(&sub) = after.and_then(|c| c.first())
            && let sub_node = &self.nodes[sub]
            && sub_node.op_type == "Sub"
            && sub_node.input.len() == 2
            && sub_node.input[0] == found.output
            && let Some([relu, negative]) = self.relu_of_conv(&sub_node.input[1], input, conv)
        {
            found.convs.push(negative);
            found.nodes.extend([relu, sub]);
            found.output = sub_node.output.first()?.clone();
        }
        Some(found)
    }
}

/// The replacement nodes and their new initializers, when the copies' weights are `a·W`,
/// `max(1−a, 0)·W` and `max(a−1, 0)·W` of one convolution `W` (and the same of its bias).
fn folded(
    nodes: &[NodeProto],
    found: &PreluCopies,
    weights: &HashMap<String, TensorProto>,
    form: PreluForm,
) -> TractResult<Option<(Vec<NodeProto>, Vec<TensorProto>)>> {
    let mut copies = Vec::new();
    for &conv in &found.convs {
        let node = &nodes[conv];
        let (Some(w), Some(b)) = (weights.get(&node.input[1]), weights.get(&node.input[2])) else {
            return Ok(None);
        };
        // tract's tensor loader panics on some other types (strings in raw bytes).
        if [w, b].iter().any(|t| t.data_type != DataType::Float as i32) {
            return Ok(None);
        }
        copies.push((w, floats(w)?, floats(b)?));
    }
    let dims = copies[0].0.dims.clone();
    let channels = dims.first().map_or(0, |&c| c as usize);
    if channels == 0 || copies.iter().any(|(w, _, b)| w.dims != dims || b.len() != channels) {
        return Ok(None);
    }
    let per_channel = copies[0].1.len() / channels;
    let (mut weight, mut bias, mut slope) = (Vec::new(), Vec::new(), Vec::new());
    for c in 0..channels {
        let range = c * per_channel..(c + 1) * per_channel;
        let mut parts: Vec<Vec<f32>> =
            copies.iter().map(|(_, w, b)| [&w[range.clone()], &[b[c]]].concat()).collect();
        parts.resize(3, vec![0.0; per_channel + 1]);
        // W = a·W + (1−a)·W; the negative copy carries (a−1)·W where a > 1.
        let base: Vec<f32> =
            (0..=per_channel).map(|i| parts[0][i] + parts[1][i] - parts[2][i]).collect();
        let norm: f32 = base.iter().map(|v| v * v).sum();
        let dot: f32 = parts[0].iter().zip(&base).map(|(l, w)| l * w).sum();
        let a = if norm > 0.0 { dot / norm } else { 1.0 };
        let scale = base.iter().fold(0f32, |m, v| m.max(v.abs()));
        let factors = [a, (1.0 - a).max(0.0), (a - 1.0).max(0.0)];
        for (values, factor) in parts.iter().zip(factors) {
            if values.iter().zip(&base).any(|(v, w)| (v - factor * w).abs() > 1e-5 * scale) {
                return Ok(None);
            }
        }
        weight.extend_from_slice(&base[..per_channel]);
        bias.push(base[per_channel]);
        slope.push(a);
    }
    let name = &found.output;
    let y = format!("{name}_conv");
    let mut conv = nodes[found.convs[0]].clone();
    conv.name = y.clone();
    conv.input = vec![found.input.clone(), format!("{name}_conv_w"), format!("{name}_conv_b")];
    conv.output = vec![y.clone()];
    let mut tensors = vec![
        float_tensor(format!("{name}_conv_w"), dims.clone(), weight),
        float_tensor(format!("{name}_conv_b"), vec![channels as i64], bias),
    ];
    let spatial = vec![1; dims.len().saturating_sub(2)];
    let (after, constants) = prelu_nodes(form, &y, name, &slope, &spatial);
    tensors.extend(constants);
    Ok(Some(([vec![conv], after].concat(), tensors)))
}

/// The nodes that write `output` as the PRelu of `y` with per-channel slopes `slope` in `form`,
/// and their constants (`spatial`: the convolution's kernel dimensions, each 1).
fn prelu_nodes(
    form: PreluForm,
    y: &str,
    output: &str,
    slope: &[f32],
    spatial: &[i64],
) -> (Vec<NodeProto>, Vec<TensorProto>) {
    let channels = slope.len() as i64;
    let part = |name: &str| format!("{output}_{name}");
    match form {
        PreluForm::MinMulAdd => {
            let shape = [&[channels], spatial].concat();
            let constants = vec![
                float_tensor(part("zero"), vec![], vec![0.0]),
                float_tensor(part("slope"), shape, slope.iter().map(|a| a - 1.0).collect()),
            ];
            let nodes = vec![
                onnx_node("Min", &[y, &part("zero")], &part("min"), vec![]),
                onnx_node("Mul", &[&part("min"), &part("slope")], &part("scaled"), vec![]),
                onnx_node("Add", &[y, &part("scaled")], output, vec![]),
            ];
            (nodes, constants)
        }
        PreluForm::DepthwiseProducts => {
            let shape = [&[channels, 1], spatial].concat();
            let constants = vec![
                float_tensor(part("minus_one"), shape.clone(), vec![-1.0; slope.len()]),
                float_tensor(part("minus_slope"), shape, slope.iter().map(|a| -a).collect()),
                float_tensor(part("no_bias"), vec![channels], vec![0.0; slope.len()]),
            ];
            let depthwise = || vec![ints("kernel_shape", spatial), int("group", channels)];
            let nodes = vec![
                onnx_node("Relu", &[y], &part("positive"), vec![]),
                onnx_node(
                    "Conv",
                    &[y, &part("minus_one"), &part("no_bias")],
                    &part("flipped"),
                    depthwise(),
                ),
                onnx_node("Relu", &[&part("flipped")], &part("negative"), vec![]),
                onnx_node(
                    "Conv",
                    &[&part("negative"), &part("minus_slope"), &part("no_bias")],
                    &part("scaled"),
                    depthwise(),
                ),
                onnx_node("Add", &[&part("scaled"), &part("positive")], output, vec![]),
            ];
            (nodes, constants)
        }
    }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..AttributeProto::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..AttributeProto::default()
    }
}

fn onnx_node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|i| (*i).to_owned()).collect(),
        output: vec![output.into()],
        attribute,
        ..NodeProto::default()
    }
}

fn floats(tensor: &TensorProto) -> TractResult<Vec<f32>> {
    let loaded = tract_onnx::tensor::load_tensor(&MmapDataResolver, tensor, None)?;
    let floats = loaded.cast_to::<f32>()?;
    Ok(floats.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())
}

fn float_tensor(name: String, dims: Vec<i64>, values: Vec<f32>) -> TensorProto {
    TensorProto {
        name,
        dims,
        data_type: DataType::Float as i32,
        float_data: values,
        ..TensorProto::default()
    }
}

#[cfg(test)]
mod tests;
