"""Makes the recurrent test models: ONNX LSTM, GRU and RNN nodes with weights as initializers, written with onnx.helper.

Run from this folder with Debian's Python:  /usr/bin/python3 make_recurrent.py
Two files hold the same graph and weights (OnnxModels.cs, OnnxModelTests.cs):
- Models/onnx_recurrent.onnx: layout 1 (batch first, ONNX opset 14), the first dimension a batch, compiled batched;
- Models/onnx_recurrent_seq.onnx: layout 0 (sequence first, as PyTorch exports nn.LSTM), the batch a symbolic
  dimension 'N' that the test model fixes with Dims, so it is compiled whole; ONNX Runtime runs this one (its CPU
  kernels refuse layout 1), and its outputs, transposed, are the reference for the first file too.
The graph: a bidirectional LSTM with peepholes and initial states given as model inputs; a reverse GRU with
linear_before_reset; a forward GRU with a cell clip; a forward RNN with Relu.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(2026)
STEPS, INPUT, HIDDEN = 7, 5, 4


def weight(name, *shape):
    return helper.make_tensor(name, TensorProto.FLOAT, shape, (rng.standard_normal(shape) * 0.5).astype(np.float32).flatten().tolist())


initializers = [
    weight("lstm.W", 2, 4 * HIDDEN, INPUT), weight("lstm.R", 2, 4 * HIDDEN, HIDDEN), weight("lstm.B", 2, 8 * HIDDEN), weight("lstm.P", 2, 3 * HIDDEN),
    weight("gru_back.W", 1, 9, INPUT), weight("gru_back.R", 1, 9, 3), weight("gru_back.B", 1, 18),
    weight("gru_fwd.W", 1, 9, INPUT), weight("gru_fwd.R", 1, 9, 3), weight("gru_fwd.B", 1, 18),
    weight("rnn.W", 1, 6, INPUT), weight("rnn.R", 1, 6, 6),
]


def graph(layout):
    def shape(seq_first, batch_first):
        return seq_first if layout == 0 else batch_first
    n = "N"
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, shape([STEPS, n, INPUT], [n, STEPS, INPUT])),
        helper.make_tensor_value_info("h0", TensorProto.FLOAT, shape([2, n, HIDDEN], [n, 2, HIDDEN])),
        helper.make_tensor_value_info("c0", TensorProto.FLOAT, shape([2, n, HIDDEN], [n, 2, HIDDEN])),
    ]
    outputs = [
        helper.make_tensor_value_info("lstm_y", TensorProto.FLOAT, shape([STEPS, 2, n, HIDDEN], [n, STEPS, 2, HIDDEN])),
        helper.make_tensor_value_info("lstm_h", TensorProto.FLOAT, shape([2, n, HIDDEN], [n, 2, HIDDEN])),
        helper.make_tensor_value_info("lstm_c", TensorProto.FLOAT, shape([2, n, HIDDEN], [n, 2, HIDDEN])),
        helper.make_tensor_value_info("gru_h", TensorProto.FLOAT, shape([1, n, 3], [n, 1, 3])),
        helper.make_tensor_value_info("gru_y", TensorProto.FLOAT, shape([STEPS, 1, n, 3], [n, STEPS, 1, 3])),
        helper.make_tensor_value_info("rnn_h", TensorProto.FLOAT, shape([1, n, 6], [n, 1, 6])),
    ]
    extra = {"layout": layout} if layout else {}
    nodes = [
        helper.make_node("LSTM", ["x", "lstm.W", "lstm.R", "lstm.B", "", "h0", "c0", "lstm.P"], ["lstm_y", "lstm_h", "lstm_c"], name="lstm",
                         direction="bidirectional", hidden_size=HIDDEN, **extra),
        helper.make_node("GRU", ["x", "gru_back.W", "gru_back.R", "gru_back.B"], ["", "gru_h"], name="gru_back",
                         direction="reverse", hidden_size=3, linear_before_reset=1, **extra),
        helper.make_node("GRU", ["x", "gru_fwd.W", "gru_fwd.R", "gru_fwd.B"], ["gru_y"], name="gru_fwd",
                         hidden_size=3, clip=0.75, **extra),
        helper.make_node("RNN", ["x", "rnn.W", "rnn.R"], ["", "rnn_h"], name="rnn", hidden_size=6, activations=["Relu"], **extra),
    ]
    model = helper.make_model(helper.make_graph(nodes, "recurrent", inputs, outputs, initializers),
                              opset_imports=[helper.make_opsetid("", 14)], producer_name="make_recurrent.py")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


onnx.save(graph(1), os.path.join(here, "Models", "onnx_recurrent.onnx"))
onnx.save(graph(0), os.path.join(here, "Models", "onnx_recurrent_seq.onnx"))
print("onnx_recurrent, onnx_recurrent_seq: written (opset 14)")
