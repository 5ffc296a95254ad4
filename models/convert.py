"""Turn the shipped int8 YuNet and SFace graphs into plain fp32 graphs both runtimes run well.

Deterministic: the same input file gives the same output bytes, so the result's SHA-256 is pinned
in manifest.toml. Every step is exact up to float32 rounding; the tests check tract against ONNX
Runtime (cosine >= 0.999 on every dev image) and the accuracy on the dev set.

Steps, and why:
1. Fold every DequantizeLinear of constants (per-tensor, per-axis and blocked) and every constant
   Reshape into float initializers: ONNX Runtime rejects YuNet's per-tensor scales that carry a
   block_size, and tract rejects blocked quantisation altogether.
2. Drop graph inputs that are really weights (SFace declares its weights as inputs).
3. Fold BatchNormalization into the preceding Conv.
4. Rewrite PRelu after a Conv as `a*x + (1-a)*relu(x)` with the per-channel factors moved into
   copies of the Conv: tract runs PRelu as compare/select/broadcast-multiply, which took 55 % of
   SFace's time; the rewrite halves tract's SFace time and also speeds up ONNX Runtime.
5. Make YuNet's input height and width symbolic and drop the 640x640 shape annotations, so both
   runtimes accept any multiple of 32.
"""

import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def attribute(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def dequantize(node, consts):
    x = consts[node.input[0]].astype(np.float32)
    scale = consts[node.input[1]].astype(np.float32)
    zero = consts[node.input[2]].astype(np.float32) if len(node.input) > 2 and node.input[2] else None
    if zero is None:
        zero = np.zeros_like(scale)
    if scale.size == 1:
        return (x - zero.reshape(())) * scale.reshape(())
    axis = attribute(node, "axis", 1) % x.ndim
    block = attribute(node, "block_size", 0)
    if block:
        scale = np.repeat(scale, block, axis=axis).take(range(x.shape[axis]), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(range(x.shape[axis]), axis=axis)
        return (x - zero) * scale
    shape = [1] * x.ndim
    shape[axis] = -1
    return (x - zero.reshape(shape)) * scale.reshape(shape)


def fold_constants(graph, consts):
    """Steps 1: constant DequantizeLinear and Reshape become initializers."""
    kept = []
    for node in graph.node:
        if all(i in consts for i in node.input if i):
            if node.op_type == "DequantizeLinear":
                consts[node.output[0]] = dequantize(node, consts).astype(np.float32)
                continue
            if node.op_type == "Reshape":
                consts[node.output[0]] = consts[node.input[0]].reshape(consts[node.input[1]])
                continue
        kept.append(node)
    return kept


def links(nodes):
    """Which node makes each tensor, and how many nodes read it."""
    producer = {o: n for n in nodes for o in n.output}
    uses = {}
    for n in nodes:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    return producer, uses


def fold_batch_norms(nodes, consts):
    """Step 3."""
    producer, uses = links(nodes)
    kept = []
    for node in nodes:
        conv = producer.get(node.input[0]) if node.input else None
        if node.op_type == "BatchNormalization" and conv is not None and conv.op_type == "Conv" \
                and uses[conv.output[0]] == 1:
            gamma, beta, mean, var = (consts[i] for i in node.input[1:5])
            scale = gamma / np.sqrt(var + np.float32(attribute(node, "epsilon", 1e-5)))
            weight = consts[conv.input[1]]
            bias = consts[conv.input[2]] if len(conv.input) > 2 and conv.input[2] else np.zeros(weight.shape[0], np.float32)
            consts[conv.name + "_w"] = (weight * scale.reshape(-1, 1, 1, 1)).astype(np.float32)
            consts[conv.name + "_b"] = ((bias - mean) * scale + beta).astype(np.float32)
            source = conv.input[0]
            del conv.input[:]
            conv.input.extend([source, conv.name + "_w", conv.name + "_b"])
            conv.output[0] = node.output[0]
            continue
        kept.append(node)
    return kept


def rewrite_prelus(nodes, consts):
    """Step 4: y = a*x + (1-a)*relu(x); where a > 1, (1-a)*relu(x) = -relu((a-1)*x)."""
    producer, uses = links(nodes)
    replacement, dropped = {}, set()
    for node in nodes:
        conv = producer.get(node.input[0]) if node.input else None
        if node.op_type != "PRelu" or conv is None or conv.op_type != "Conv" or uses[node.input[0]] != 1:
            continue
        slope = consts[node.input[1]].reshape(-1)
        weight, bias = consts[conv.input[1]], consts[conv.input[2]]

        def scaled_conv(factor, suffix):
            name = conv.name + suffix
            consts[name + "_w"] = (weight * factor.reshape(-1, 1, 1, 1)).astype(np.float32)
            consts[name + "_b"] = (bias * factor).astype(np.float32)
            copy = helper.make_node("Conv", [conv.input[0], name + "_w", name + "_b"], [name], name=name)
            copy.attribute.extend(conv.attribute)
            return copy

        out = node.output[0]
        positive, negative = np.maximum(1 - slope, 0), np.maximum(slope - 1, 0)
        partial = out + "_partial" if negative.any() else out
        new = [scaled_conv(slope, "_linear"), scaled_conv(positive, "_positive"),
               helper.make_node("Relu", [conv.name + "_positive"], [conv.name + "_positive_relu"]),
               helper.make_node("Add", [conv.name + "_linear", conv.name + "_positive_relu"], [partial])]
        if negative.any():
            new += [scaled_conv(negative, "_negative"),
                    helper.make_node("Relu", [conv.name + "_negative"], [conv.name + "_negative_relu"]),
                    helper.make_node("Sub", [partial, conv.name + "_negative_relu"], [out])]
        replacement[id(conv)] = new
        dropped.add(id(node))
    result = []
    for node in nodes:
        if id(node) not in dropped:
            result.extend(replacement.get(id(node), [node]))
    return result


def convert(source, target):
    model = onnx.load(source)
    graph = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes = rewrite_prelus(fold_batch_norms(fold_constants(graph, consts), consts), consts)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in nodes for i in n.input} | {o.name for o in graph.output}
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(consts[k], k) for k in sorted(consts) if k in used)
    inputs = [i for i in graph.input if i.name not in consts and i.name in used]
    del graph.input[:]
    graph.input.extend(inputs)
    del graph.value_info[:]
    if graph.output[0].name.startswith("cls_"):  # YuNet: any multiple-of-32 input size
        dims = graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        for output in graph.output:
            output.type.tensor_type.shape.dim[1].dim_param = "cells_" + output.name.split("_")[1]
    onnx.checker.check_model(model)
    onnx.save(model, target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: convert.py SOURCE.onnx TARGET.onnx")
    convert(sys.argv[1], sys.argv[2])
