#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the seed corpus of fuzz_onnx_parser (tests/fuzz/onnx_corpus) and its dictionary.

  python3 tests/fuzz/make_onnx_corpus.py

Seeds: the smallest ONNX node test of each op (Debian's libonnx-testdata) plus handcrafted models
that reach the importer's rarer paths (model-local functions with attribute references, sparse
initializers, every attribute type, external data, old-opset forms). Each seed starts with the
option byte the fuzz target reads first (0: folding and fusion on).
"""
import os
import re

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx_corpus")
NODE_TESTS = "/usr/share/libonnx-testdata/data/node"


def save(name, model_bytes):
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(b"\x00" + model_bytes)


def node_test_seeds():
    best = {}
    for t in sorted(os.listdir(NODE_TESTS)):
        path = os.path.join(NODE_TESTS, t, "model.onnx")
        if not os.path.exists(path):
            continue
        m = onnx.load(path)
        key = tuple(sorted({n.op_type for n in m.graph.node}))
        size = os.path.getsize(path)
        if size <= 2048 and (key not in best or size < best[key][0]):
            best[key] = (size, t, path)
    for size, t, path in sorted(best.values(), key=lambda x: x[1]):
        with open(path, "rb") as f:
            save(t, f.read())


def handcrafted():
    f32 = TensorProto.FLOAT
    # A model-local function with an attribute reference, called twice.
    fn = helper.make_function(
        "com.example", "ScaledRelu", ["X"], ["Y"],
        [helper.make_node("Relu", ["X"], ["r"]),
         helper.make_node("Constant", [], ["a"], value_float=1.0),
         helper.make_node("Mul", ["r", "a"], ["Y"])],
        [helper.make_opsetid("", 17)], ["alpha"])
    fn.node[1].attribute[0].ref_attr_name = "alpha"
    g = helper.make_graph(
        [helper.make_node("ScaledRelu", ["x"], ["h"], domain="com.example", alpha=2.0),
         helper.make_node("ScaledRelu", ["h"], ["y"], domain="com.example", alpha=3.0)],
        "functions", [helper.make_tensor_value_info("x", f32, ["N", 4])], [helper.make_tensor_value_info("y", f32, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
                          functions=[fn])
    save("function", m.SerializeToString())
    # Sparse initializer + every attribute kind on one node (most are ignored by Identity).
    sparse = helper.make_sparse_tensor(helper.make_tensor("w", f32, [2], [1.0, 2.0]),
                                       helper.make_tensor("i", TensorProto.INT64, [2], [0, 3]), [2, 2])
    n = helper.make_node("Add", ["x", "w"], ["y"], i=1, f=0.5, s="str", ints=[1, 2], floats=[1.5], strings=["a"],
                         t=helper.make_tensor("t", TensorProto.INT8, [2], [1, -1]))
    g = helper.make_graph([n], "sparse", [helper.make_tensor_value_info("x", f32, [2, 2])],
                          [helper.make_tensor_value_info("y", f32, [2, 2])], sparse_initializer=[sparse])
    save("sparse_attrs", helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    # External data (the fuzz target has no model folder: this must fail cleanly).
    w = helper.make_tensor("w", f32, [4], [0.0] * 4)
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in [("location", "w.bin"), ("offset", "0"), ("length", "16")]:
        e = w.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["y"])], "external",
                          [helper.make_tensor_value_info("x", f32, [4])], [helper.make_tensor_value_info("y", f32, [4])], [w])
    save("external", helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    # Old-opset forms: Softmax-11 on rank 3, Slice-9, Pad-2, Upsample-7, Clip-6.
    g = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["s"], axis=1),
         helper.make_node("Slice", ["s"], ["sl"], starts=[0], ends=[2], axes=[2]),
         helper.make_node("Clip", ["sl"], ["y"], min=-1.0, max=1.0)],
        "old", [helper.make_tensor_value_info("x", f32, [2, 3, 4])], [helper.make_tensor_value_info("y", f32, None)])
    save("old_opsets", helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)]).SerializeToString())
    # A shape subgraph: Shape -> Gather -> Unsqueeze -> Concat -> Reshape with a dynamic batch.
    g = helper.make_graph(
        [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
         helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
         helper.make_node("Concat", ["n1", "m1"], ["shape"], axis=0),
         helper.make_node("Reshape", ["x", "shape"], ["y"])],
        "shape", [helper.make_tensor_value_info("x", f32, ["N", 3, 4])], [helper.make_tensor_value_info("y", f32, None)],
        [helper.make_tensor("zero", TensorProto.INT64, [], [0]), helper.make_tensor("axes", TensorProto.INT64, [1], [0]),
         helper.make_tensor("m1", TensorProto.INT64, [1], [-1])])
    save("shape_chain", helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    # Decomposed LayerNorm + GELU + SDPA for the fusion passes.
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1]),
        helper.make_node("Sub", ["x", "m"], ["d"]),
        helper.make_node("Pow", ["d", "two"], ["d2"]),
        helper.make_node("ReduceMean", ["d2"], ["v"], axes=[-1]),
        helper.make_node("Add", ["v", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["sd"]),
        helper.make_node("Div", ["d", "sd"], ["ln"]),
        helper.make_node("Div", ["ln", "sqrt2"], ["a"]),
        helper.make_node("Erf", ["a"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["e1"]),
        helper.make_node("Mul", ["ln", "e1"], ["g"]),
        helper.make_node("Mul", ["g", "half"], ["h"]),
        helper.make_node("Transpose", ["h"], ["ht"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["h", "ht"], ["sc"]),
        helper.make_node("Mul", ["sc", "scale"], ["ss"]),
        helper.make_node("Softmax", ["ss"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "h"], ["y"])]
    inits = [helper.make_tensor(n, f32, [], [v]) for n, v in
             [("two", 2.0), ("eps", 1e-5), ("sqrt2", 1.4142135), ("one", 1.0), ("half", 0.5), ("scale", 0.25)]]
    g = helper.make_graph(nodes, "fusions", [helper.make_tensor_value_info("x", f32, [1, 2, 3, 4])],
                          [helper.make_tensor_value_info("y", f32, None)], inits)
    save("fusions", helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())


def dictionary():
    words = set()
    for t in os.listdir(NODE_TESTS):
        path = os.path.join(NODE_TESTS, t, "model.onnx")
        if os.path.exists(path):
            m = onnx.load(path)
            for n in m.graph.node:
                words.add(n.op_type)
                words.update(a.name for a in n.attribute)
    words.update(["ai.onnx", "com.microsoft", "location", "offset", "length", "checksum", "value_float", "value_ints",
                  "half_pixel", "asymmetric", "nearest", "linear", "floor", "constant", "reflect", "edge", "tanh"])
    with open(os.path.join(HERE, "onnx.dict"), "w") as f:
        f.write("# ONNX op types, attribute names and strings the importer looks at (fuzz_onnx_parser)\n")
        for w in sorted(words):
            if re.fullmatch(r"[A-Za-z0-9_.]+", w):
                f.write(f'"{w}"\n')


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    node_test_seeds()
    handcrafted()
    dictionary()
    print(len(os.listdir(OUT)), "seeds")
