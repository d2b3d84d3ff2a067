#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes tests/models/qdq_mlp: an MLP with explicit int8 quantization as quantization toolkits
export it (opset 21): x (batch, 64) f32 -> QuantizeLinear/DequantizeLinear per tensor -> MatMul
with an int8 (64, 128) weight dequantized per output column -> + bias -> Relu -> Q/DQ -> MatMul
with an int8 (128, 16) weight -> + bias -> y. Two input data sets (batch 4 and 6) from a fixed
seed; no expected outputs (the tests compare with rtx's reference evaluator, which the ONNX
QuantizeLinear/DequantizeLinear node tests check).

  python3 tests/models/make_qdq_mlp.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    rng = np.random.default_rng(7)
    nodes, inits = [], []

    def layer(x, name, k, n, x_scale):
        inits.append(numpy_helper.from_array(np.array(x_scale, dtype=np.float32), name + ".x_scale"))
        inits.append(numpy_helper.from_array(np.array(0, dtype=np.int8), name + ".x_zero"))
        inits.append(numpy_helper.from_array(rng.integers(-127, 128, size=(k, n), dtype=np.int8), name + ".weight"))
        w_scale = (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32) / (127.0 * np.sqrt(k))
        inits.append(numpy_helper.from_array(np.abs(w_scale).astype(np.float32), name + ".weight_scale"))
        inits.append(numpy_helper.from_array((0.1 * rng.standard_normal(n)).astype(np.float32), name + ".bias"))
        nodes.append(helper.make_node("QuantizeLinear", [x, name + ".x_scale", name + ".x_zero"], [name + ".xq"]))
        nodes.append(helper.make_node("DequantizeLinear", [name + ".xq", name + ".x_scale", name + ".x_zero"],
                                      [name + ".xd"]))
        nodes.append(helper.make_node("DequantizeLinear", [name + ".weight", name + ".weight_scale"], [name + ".wd"],
                                      axis=1))
        nodes.append(helper.make_node("MatMul", [name + ".xd", name + ".wd"], [name + ".mm"]))
        nodes.append(helper.make_node("Add", [name + ".mm", name + ".bias"], [name + ".out"]))
        return name + ".out"

    h = layer("x", "fc1", 64, 128, 4.0 / 127)
    nodes.append(helper.make_node("Relu", [h], ["fc1.relu"]))
    y = layer("fc1.relu", "fc2", 128, 16, 2.0 / 127)
    nodes.append(helper.make_node("Identity", [y], ["y"]))
    graph = helper.make_graph(nodes, "qdq_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], producer_name="rtx-tests")
    model.ir_version = 10
    onnx.checker.check_model(model)
    out = os.path.join(HERE, "qdq_mlp")
    os.makedirs(out, exist_ok=True)
    onnx.save(model, os.path.join(out, "model.onnx"))
    for i, batch in enumerate([4, 6]):
        d = os.path.join(out, f"test_data_set_{i}")
        os.makedirs(d, exist_ok=True)
        x = rng.standard_normal((batch, 64)).astype(np.float32)
        with open(os.path.join(d, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, "x").SerializeToString())


if __name__ == "__main__":
    main()
