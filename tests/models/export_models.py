#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Exports the small real models the ONNX importer tests use, with PyTorch's ONNX exporter.

  python3 tests/models/export_models.py OUT_DIR

* bert_tiny.onnx: a 2-layer BERT-style encoder (vocab 1000, hidden 64, 4 heads, FFN 128, GELU),
  written the way Hugging Face writes BERT: word + position + token-type embeddings, LayerNorm,
  Q/K/V Linears reshaped into heads, scores / sqrt(d) + extended mask, softmax, context, output
  dense + residual + LayerNorm, FFN + residual + LayerNorm. Layer 0 spells attention out by hand,
  layer 1 calls F.scaled_dot_product_attention. Exported at opset 14 so LayerNorm and GELU
  appear decomposed, the way older exports ship them; batch and sequence are dynamic.
* bert_tiny_dynamo.onnx: the same encoder through torch.export + onnxscript (PyTorch's default
  exporter since 2.9), opset 18.
* resnet_tiny.onnx: a ResNet-18-style CNN (7x7 stem + BN + ReLU + max pool, four stages of two
  BasicBlocks with 8/16/32/64 channels, global average pool, 10-way Linear) on 3x32x32 images,
  exported at opset 17 with a dynamic batch.

Weights are random with a fixed seed; the files stay well under 2 MB. Expected outputs are made
separately by make_expected.py with onnxruntime (CPU).
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1234)


class Embeddings(nn.Module):
    def __init__(self, vocab, hidden, max_pos, types):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_pos, hidden)
        self.token_type = nn.Embedding(types, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, ids, token_type):
        seq = ids.shape[1]
        pos = torch.arange(seq, dtype=torch.long, device=ids.device).unsqueeze(0)
        return self.norm(self.word(ids) + self.pos(pos) + self.token_type(token_type))


class Layer(nn.Module):
    def __init__(self, hidden, heads, ffn, use_sdpa):
        super().__init__()
        self.heads, self.head = heads, hidden // heads
        self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.o = nn.Linear(hidden, hidden)
        self.norm1 = nn.LayerNorm(hidden, eps=1e-12)
        self.up, self.down = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)
        self.norm2 = nn.LayerNorm(hidden, eps=1e-12)
        self.use_sdpa = use_sdpa

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head).permute(0, 2, 1, 3)

    def forward(self, x, bias):
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        if self.use_sdpa:
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head)
            ctx = torch.matmul(torch.softmax(scores + bias, dim=-1), v)
        b, h, s, d = ctx.shape
        ctx = ctx.permute(0, 2, 1, 3).reshape(b, s, h * d)
        x = self.norm1(x + self.o(ctx))
        return self.norm2(x + self.down(F.gelu(self.up(x))))


class TinyBert(nn.Module):
    def __init__(self, vocab=1000, hidden=64, heads=4, ffn=128, layers=2, max_pos=64):
        super().__init__()
        self.emb = Embeddings(vocab, hidden, max_pos, 2)
        self.layers = nn.ModuleList([Layer(hidden, heads, ffn, use_sdpa=(i == 1)) for i in range(layers)])
        self.pool = nn.Linear(hidden, hidden)

    def forward(self, input_ids, attention_mask, token_type_ids):
        # (B, 1, 1, S) additive mask, as BertModel.get_extended_attention_mask makes it
        bias = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        x = self.emb(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, bias)
        return x, torch.tanh(self.pool(x[:, 0]))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class TinyResNet(nn.Module):
    def __init__(self, widths=(8, 16, 32, 64), classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks += [BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w, 1)]
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def randomize_bn(model):
    # Fresh BatchNorm has mean 0 / var 1, which would hide mistakes: give it real statistics.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def export(model, args, path, names_in, names_out, dynamic, opset):
    kwargs = dict(input_names=names_in, output_names=names_out, dynamic_axes=dynamic, opset_version=opset,
                  do_constant_folding=True)
    try:
        torch.onnx.export(model, args, path, dynamo=False, **kwargs)
    except TypeError as e:  # older PyTorch without the dynamo switch
        print("retrying without dynamo=False:", e)
        torch.onnx.export(model, args, path, **kwargs)
    print(path, os.path.getsize(path), "bytes")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    print("torch", torch.__version__)
    bert = TinyBert().eval()
    ids = torch.randint(0, 1000, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 12:] = 0
    types = torch.zeros(2, 16, dtype=torch.long)
    export(bert, (ids, mask, types), os.path.join(out, "bert_tiny.onnx"),
           ["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "pooler_output"],
           {n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "token_type_ids"]} |
           {"last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": {0: "batch"}}, 14)
    # The same encoder through PyTorch's current default exporter (torch.export + onnxscript).
    try:
        torch.onnx.export(bert, (ids, mask, types), os.path.join(out, "bert_tiny_dynamo.onnx"), dynamo=True,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state", "pooler_output"], opset_version=18,
                          dynamic_shapes={"input_ids": {0: "batch", 1: "sequence"},
                                          "attention_mask": {0: "batch", 1: "sequence"},
                                          "token_type_ids": {0: "batch", 1: "sequence"}}, external_data=False)
        print(os.path.join(out, "bert_tiny_dynamo.onnx"), os.path.getsize(os.path.join(out, "bert_tiny_dynamo.onnx")), "bytes")
    except Exception as e:  # the dynamo exporter needs onnxscript; the TorchScript exports suffice
        print("dynamo export skipped:", type(e).__name__, e)
    resnet = TinyResNet()
    randomize_bn(resnet)
    resnet.eval()
    export(resnet, (torch.randn(2, 3, 32, 32),), os.path.join(out, "resnet_tiny.onnx"), ["image"], ["logits"],
           {"image": {0: "batch"}, "logits": {0: "batch"}}, 17)


if __name__ == "__main__":
    with torch.no_grad():
        main()
