"""Write the packaged BERT encoder (all-MiniLM-L6-v2) to ONNX without torch.

Why by hand: `torch.onnx.export` needed torch (~1 GB installed) to run once at set-up. A BERT
encoder is a short, fixed list of operators, so we lay the graph out with `onnx.helper` and
fill it with the safetensors weights read by `safetensors.numpy` (numpy only). The graph is the
one transformers' BertModel computes. Checked against the torch export it replaces, on 20
padded texts: the same last hidden states to the bit, in fp32 and after quantize_onnx (int8).
tests/test_embedder_quality.py checks it against a plain-numpy BERT.

Contract with the rest of analytics/feedback/embedder.py, which must not change:
- inputs input_ids, attention_mask, token_type_ids (int64, [batch, tokens], both dynamic),
  output last_hidden_state (float32, [batch, tokens, hidden]), opset 17;
- every multiplication by a weight is a MatMul with an initializer as its second input, and
  Q.K^T and attention.V are MatMuls of two activations: quantize_onnx tells them apart that
  way, quantising the first kind per channel and leaving the second in fp32;
- every node has a unique name, since quantize_onnx excludes nodes by name.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

OPSET = 17
IR_VERSION = 8  # what opset 17 was released with; any onnxruntime >= 1.13 loads it
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"


class _Graph:
    """Collects nodes and initializers; names every node after its output."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []

    def const(self, name: str, value) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output

    def dense(self, x: str, weights: dict, prefix: str, out: str) -> str:
        # torch's Linear stores [out, in]; MatMul wants [in, out]. Bias added separately, so
        # the MatMul keeps an initializer input (the quantiser's mark of a weight product).
        w = self.const(f"{prefix}.weight_t", np.ascontiguousarray(weights[f"{prefix}.weight"].T))
        b = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("Add", [self.op("MatMul", [x, w], f"{out}/matmul"), b], out)

    def layer_norm(self, x: str, weights: dict, prefix: str, eps: float, out: str) -> str:
        return self.op("LayerNormalization",
                       [x, self.const(f"{prefix}.weight", weights[f"{prefix}.weight"]),
                        self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])],
                       out, axis=-1, epsilon=eps)


def _check_config(config: dict) -> None:
    # Only what this graph implements; anything else would export silently wrong vectors.
    expected = {"model_type": "bert", "hidden_act": "gelu",
                "position_embedding_type": "absolute"}
    for key, value in expected.items():
        if config.get(key, value) != value:
            raise ValueError(f"config.json: {key}={config[key]!r}, the exporter handles {value!r}")
    if config["hidden_size"] % config["num_attention_heads"]:
        raise ValueError("config.json: hidden_size is not a multiple of num_attention_heads")


def build_graph(weights: dict[str, np.ndarray], config: dict):
    """The BERT encoder as an onnx.ModelProto (weights as float32 initializers)."""
    from onnx import TensorProto, helper

    _check_config(config)
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = hidden // heads
    eps = float(config["layer_norm_eps"])
    weights = {k: v.astype(np.float32) for k, v in weights.items() if v.dtype.kind == "f"}
    g = _Graph()

    # Embeddings: word + token type + position, then LayerNorm. Positions are 0..tokens-1,
    # so the position table is sliced to the sequence length (no position_ids input).
    words = g.op("Gather", [g.const("embeddings.word_embeddings.weight",
                                    weights["embeddings.word_embeddings.weight"]), "input_ids"],
                 "embeddings/words")
    types = g.op("Gather", [g.const("embeddings.token_type_embeddings.weight",
                                    weights["embeddings.token_type_embeddings.weight"]),
                            "token_type_ids"], "embeddings/types")
    tokens = g.op("Shape", ["input_ids"], "embeddings/tokens", start=1, end=2)
    zero = g.const("const.zero_1d", np.array([0], dtype=np.int64))
    positions = g.op("Slice", [g.const("embeddings.position_embeddings.weight",
                                       weights["embeddings.position_embeddings.weight"]),
                               zero, tokens, zero], "embeddings/positions")
    summed = g.op("Add", [g.op("Add", [words, types], "embeddings/words_types"), positions],
                  "embeddings/sum")
    x = g.layer_norm(summed, weights, "embeddings.LayerNorm", eps, "embeddings/out")

    # Additive mask, as transformers' eager BERT attention builds it: 0 where attention_mask
    # is 1, the most negative float32 where it is 0, shaped [batch, 1, 1, tokens] to broadcast
    # over heads and queries. (Its SDPA path, which the torch export traced, uses -inf plus a
    # NaN guard; after softmax both give exactly 0 to padding for any row with a real token.)
    mask = g.op("Cast", ["attention_mask"], "mask/float", to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.const("const.one", np.float32(1.0)), mask], "mask/inverted")
    additive = g.op("Mul", [inverted, g.const("const.min_float",
                                              np.float32(np.finfo(np.float32).min))],
                    "mask/additive")
    additive = g.op("Unsqueeze", [additive, g.const("const.axes_1_2",
                                                    np.array([1, 2], dtype=np.int64))],
                    "mask/bias")

    split = g.const("const.split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    # Heads are merged back with a shape computed at run time ([batch, tokens, -1]), as in the
    # torch export, not a constant [0, 0, hidden]: with the constant, onnxruntime can prove the
    # residual shapes equal and fuses 6 more SkipLayerNormalizations into the int8 model, which
    # measured ~10% slower (that kernel is slow on CPU) and changed int8 vectors by rounding.
    merge = g.op("Concat", [g.op("Shape", ["input_ids"], "shape/batch_tokens"),
                            g.const("const.minus_one", np.array([-1], dtype=np.int64))],
                 "shape/merge_heads", axis=0)
    # Scores are Q.K^T / sqrt(head_dim). As torch's scaled_dot_product_attention does, Q and
    # K^T are each multiplied by head_dim**-0.25 before the product, rather than the scores
    # after it: this made the fp32 model bit-identical to the torch export it replaces.
    scale = g.const("const.attention_scale", np.float32(1.0 / math.sqrt(math.sqrt(head_dim))))
    sqrt2 = g.const("const.sqrt2", np.float32(math.sqrt(2.0)))
    half = g.const("const.half", np.float32(0.5))
    one = "const.one"

    for i in range(config["num_hidden_layers"]):
        p, n = f"encoder.layer.{i}", f"layer{i}"

        def heads_of(name: str, perm: list[int], x: str = x, p: str = p, n: str = n) -> str:
            projected = g.dense(x, weights, f"{p}.attention.self.{name}", f"{n}/{name}")
            return g.op("Transpose", [g.op("Reshape", [projected, split], f"{n}/{name}/split")],
                        f"{n}/{name}/heads", perm=perm)

        q = g.op("Mul", [heads_of("query", [0, 2, 1, 3]), scale], f"{n}/query/scaled")
        # K goes straight to [batch, heads, head_dim, tokens], i.e. already transposed.
        k_t = g.op("Mul", [heads_of("key", [0, 2, 3, 1]), scale], f"{n}/key/scaled")
        v = heads_of("value", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("MatMul", [q, k_t], f"{n}/scores/raw"), additive],
                      f"{n}/scores")
        probs = g.op("Softmax", [scores], f"{n}/probs", axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v], f"{n}/context/heads")],
                       f"{n}/context/tokens", perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge], f"{n}/context")
        attended = g.op("Add", [g.dense(context, weights, f"{p}.attention.output.dense",
                                        f"{n}/attention_out"), x], f"{n}/attention_residual")
        x = g.layer_norm(attended, weights, f"{p}.attention.output.LayerNorm", eps,
                         f"{n}/attention_norm")

        # GELU, exact (erf) form as transformers' "gelu": 0.5 * h * (1 + erf(h / sqrt(2))).
        # Opset 17 has no Gelu operator; onnxruntime fuses this pattern into one.
        h = g.dense(x, weights, f"{p}.intermediate.dense", f"{n}/intermediate")
        erf = g.op("Erf", [g.op("Div", [h, sqrt2], f"{n}/gelu/div")], f"{n}/gelu/erf")
        gelu = g.op("Mul", [g.op("Mul", [h, g.op("Add", [erf, one], f"{n}/gelu/add")],
                                 f"{n}/gelu/mul"), half], f"{n}/gelu")
        out = g.op("Add", [g.dense(gelu, weights, f"{p}.output.dense", f"{n}/output"), x],
                   f"{n}/output_residual")
        last = i == config["num_hidden_layers"] - 1
        x = g.layer_norm(out, weights, f"{p}.output.LayerNorm", eps,
                         OUTPUT if last else f"{n}/output_norm")

    int_input = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
                 for name in INPUTS]
    output = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT,
                                           ["batch", "tokens", hidden])
    graph = helper.make_graph(g.nodes, "bert_encoder", int_input, [output], g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="journey-agent onnx_export")
    model.ir_version = IR_VERSION
    return model


def export_bert(source: Path, target: Path) -> Path:
    """Read model.safetensors + config.json from `source`; write the fp32 model to `target`."""
    import onnx
    from safetensors.numpy import load_file

    config = json.loads((source / "config.json").read_text())
    model = build_graph(load_file(str(source / "model.safetensors")), config)
    onnx.checker.check_model(model)  # a malformed graph fails here, not in the app
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".onnx.partial")
    onnx.save(model, str(partial))
    partial.replace(target)  # never leave a half-written model behind
    return target
