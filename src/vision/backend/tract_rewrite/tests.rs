//! Each rewrite on a small graph: the rewritten plan gives the values of the graph it replaces.

use tract_onnx::pb::type_proto::{Tensor as TensorType, Value};
use tract_onnx::pb::{GraphProto, OperatorSetIdProto, TypeProto, ValueInfoProto};

use super::*;

fn model(nodes: Vec<NodeProto>, initializer: Vec<TensorProto>) -> ModelProto {
    let floats = TensorType { elem_type: DataType::Float as i32, shape: None };
    let value = |name: &str| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(Value::TensorType(floats.clone())),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(GraphProto {
            node: nodes,
            initializer,
            input: vec![value("x")],
            output: vec![value("y")],
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    }
}

/// Deterministic values in −1..1 that differ from each other.
fn values(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32 + seed) * 12.9898).sin()).collect()
}

fn typed(proto: &ModelProto, shape: [usize; 4]) -> TractResult<TypedModel> {
    let mut model = tract_onnx::onnx().model_for_proto_model(proto)?;
    model.set_input_fact(0, f32::fact(shape).into())?;
    model.into_typed()
}

fn run(model: TypedModel, input: &[f32], shape: [usize; 4]) -> TractResult<(Vec<usize>, Vec<f32>)> {
    let plan = model.into_optimized()?.into_runnable()?;
    let output = plan.run(tvec!(Tensor::from_shape(&shape, input)?.into()))?.remove(0);
    let data = output.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
    Ok((output.shape().to_vec(), data))
}

#[test]
fn halving_max_pools_run_on_our_kernel_with_the_same_values() -> TractResult<()> {
    let shape = [1, 2, 6, 8];
    let input = values(2 * 6 * 8, 1.0);
    let pool = onnx_node(
        "MaxPool",
        &["x"],
        "y",
        vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
    );
    let mut model = typed(&model(vec![pool], vec![]), shape)?;
    assert_eq!(max_pools_by_own_kernel(&mut model)?, 1);
    let (out_shape, pooled) = run(model, &input, shape)?;
    assert_eq!(out_shape, [1, 2, 3, 4]);
    let at = |c: usize, y: usize, x: usize| input[(c * 6 + y) * 8 + x];
    let mut expected = Vec::new();
    for c in 0..2 {
        for y in 0..3 {
            for x in 0..4 {
                let corners =
                    [at(c, 2 * y, 2 * x), at(c, 2 * y, 2 * x + 1), at(c, 2 * y + 1, 2 * x)];
                expected.push(corners.into_iter().fold(at(c, 2 * y + 1, 2 * x + 1), f32::max));
            }
        }
    }
    assert_eq!(pooled, expected);
    Ok(())
}

#[test]
fn other_max_pools_are_left_to_tract() -> TractResult<()> {
    let strided_3 = onnx_node(
        "MaxPool",
        &["x"],
        "y",
        vec![ints("kernel_shape", &[3, 3]), ints("strides", &[2, 2])],
    );
    let mut three = typed(&model(vec![strided_3], vec![]), [1, 1, 7, 7])?;
    assert_eq!(max_pools_by_own_kernel(&mut three)?, 0);
    let odd = onnx_node(
        "MaxPool",
        &["x"],
        "y",
        vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
    );
    let mut odd = typed(&model(vec![odd], vec![]), [1, 1, 7, 8])?;
    assert_eq!(max_pools_by_own_kernel(&mut odd)?, 0);
    Ok(())
}

/// A depthwise 3×3/2 convolution followed by PRelu, written as `models/convert.py` writes it:
/// `a·W` and `max(1−a, 0)·W` copies, and a `max(a−1, 0)·W` copy where a slope exceeds 1;
/// `positive_error` is added to one weight of the positive copy.
fn converted_prelu(slopes: &[f32], positive_error: f32) -> ModelProto {
    let channels = slopes.len();
    let (weight, bias) = (values(channels * 9, 2.0), values(channels, 3.0));
    let scaled = |name: &str, factor: &dyn Fn(f32) -> f32| {
        let per_channel = |v: &[f32], k: usize| -> Vec<f32> {
            v.iter().enumerate().map(|(i, v)| v * factor(slopes[i / k])).collect()
        };
        let dims = vec![channels as i64, 1, 3, 3];
        [
            float_tensor(format!("{name}_w"), dims, per_channel(&weight, 9)),
            float_tensor(format!("{name}_b"), vec![channels as i64], per_channel(&bias, 1)),
        ]
    };
    let attributes = vec![
        int("group", channels as i64),
        ints("kernel_shape", &[3, 3]),
        ints("pads", &[1, 1, 1, 1]),
        ints("strides", &[2, 2]),
    ];
    let conv = |name: &str| {
        onnx_node(
            "Conv",
            &["x", &format!("{name}_w"), &format!("{name}_b")],
            name,
            attributes.clone(),
        )
    };
    let nodes = vec![
        conv("linear"),
        conv("positive"),
        onnx_node("Relu", &["positive"], "positive_relu", vec![]),
        onnx_node("Add", &["linear", "positive_relu"], "partial", vec![]),
        conv("negative"),
        onnx_node("Relu", &["negative"], "negative_relu", vec![]),
        onnx_node("Sub", &["partial", "negative_relu"], "y", vec![]),
    ];
    let tensors = [
        scaled("linear", &|a| a),
        scaled("positive", &|a| (1.0 - a).max(0.0)),
        scaled("negative", &|a| (a - 1.0).max(0.0)),
    ];
    let mut tensors: Vec<_> = tensors.into_iter().flatten().collect();
    tensors[2].float_data[4] += positive_error;
    model(nodes, tensors)
}

#[test]
fn prelu_copies_fold_into_one_convolution_with_the_same_values_in_each_form() -> TractResult<()> {
    let shape = [1, 4, 9, 9];
    let input = values(4 * 81, 4.0);
    // Slopes below 0, between 0 and 1, above 1 (the converter's negative copy) and 1.
    let converted = converted_prelu(&[0.25, -0.5, 1.5, 1.0], 0.0);
    let (reference_shape, reference) = run(typed(&converted, shape)?, &input, shape)?;
    // The form's convolutions: the folded one, plus the two depthwise products for ONNX Runtime.
    for (form, convolutions, tensors) in
        [(PreluForm::MinMulAdd, 1, 4), (PreluForm::DepthwiseProducts, 3, 5)]
    {
        let mut folded = converted.clone();
        assert_eq!(fold_prelu_copies(&mut folded, form)?, 1);
        let graph = folded.graph.as_ref().expect("graph");
        let convs = graph.node.iter().filter(|n| n.op_type == "Conv").count();
        assert_eq!(convs, convolutions, "{form:?}");
        assert_eq!(graph.initializer.len(), tensors, "{form:?}: the copies' weights are dropped");
        let (folded_shape, values) = run(typed(&folded, shape)?, &input, shape)?;
        assert_eq!(folded_shape, reference_shape);
        for (got, want) in values.iter().zip(&reference) {
            assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{form:?}: {got} != {want}");
        }
    }
    Ok(())
}

#[test]
fn copies_that_are_not_multiples_of_one_convolution_stay() -> TractResult<()> {
    let mut converted = converted_prelu(&[0.25, -0.5], 0.01);
    let unchanged = converted.clone();
    for form in [PreluForm::MinMulAdd, PreluForm::DepthwiseProducts] {
        assert_eq!(fold_prelu_copies(&mut converted, form)?, 0);
        assert_eq!(converted, unchanged);
    }
    Ok(())
}
