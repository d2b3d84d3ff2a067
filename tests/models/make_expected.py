#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes inputs and onnxruntime (CPU) outputs for the exported models, in the ONNX backend
test layout: tests/models/<model>/test_data_set_N/input_K.pb, output_K.pb (TensorProto).

  pip install onnx onnxruntime numpy
  python3 tests/models/make_expected.py

Inputs come from a fixed seed; each model gets two data sets with different dynamic dims.
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def bert_inputs(rng, batch, seq):
    ids = rng.integers(0, 1000, size=(batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    if batch > 1:
        mask[1, seq * 3 // 4:] = 0  # padding in the second sequence
    types = np.zeros((batch, seq), dtype=np.int64)
    types[:, seq // 2:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def resnet_inputs(rng, batch):
    return {"image": rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)}


def write(model_dir, data_sets):
    path = os.path.join(model_dir, "model.onnx")
    model = onnx.load(path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    in_names = [i.name for i in model.graph.input]
    out_names = [o.name for o in model.graph.output]
    for n, feeds in enumerate(data_sets):
        d = os.path.join(model_dir, f"test_data_set_{n}")
        os.makedirs(d, exist_ok=True)
        outs = sess.run(out_names, feeds)
        for k, name in enumerate(in_names):
            with open(os.path.join(d, f"input_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(feeds[name], name).SerializeToString())
        for k, (name, value) in enumerate(zip(out_names, outs)):
            with open(os.path.join(d, f"output_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(value, name).SerializeToString())
        print(d, [o.shape for o in outs])


def main():
    rng = np.random.default_rng(2024)
    bert_sets = [bert_inputs(rng, 2, 16), bert_inputs(rng, 1, 7)]
    write(os.path.join(HERE, "bert_tiny"), bert_sets)
    write(os.path.join(HERE, "bert_tiny_dynamo"), bert_sets)
    write(os.path.join(HERE, "resnet_tiny"), [resnet_inputs(rng, 2), resnet_inputs(rng, 1)])


if __name__ == "__main__":
    main()
