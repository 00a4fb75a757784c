"""Summarizes ONNX files with the onnx package, as the oracle for the generator's own ONNX reader (OnnxReaderTests).

Run from the repository root with Debian's Python:  /usr/bin/python3 tools/onnx_summary.py
Writes tests/ModelCompiler.Tests/Onnx/summaries.json: for each file, what onnx.load finds in it.
"""
import json
import os

import onnx

FILES = [
    "benchmarks/ModelCompiler.Benchmarks/Models/mlp784.onnx",
    "benchmarks/ModelCompiler.Benchmarks/Models/mlp784_int8.onnx",
    "benchmarks/ModelCompiler.Benchmarks/Models/lenet5.onnx",
    "benchmarks/ModelCompiler.Benchmarks/Models/encoder_block.onnx",
    "benchmarks/ModelCompiler.Benchmarks/Models/res_block64.onnx",
    "samples/DigitsCnn/digits_cnn.onnx",
    "samples/TextClassifier/text_classifier.onnx",
]


def value_info(v):
    t = v.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param if d.HasField("dim_param") else None) for d in t.shape.dim]
    return {"name": v.name, "elem_type": t.elem_type, "dims": dims if t.HasField("shape") else None}


summaries = {}
for path in FILES:
    m = onnx.load(path, load_external_data=False)
    g = m.graph
    summaries[path] = {
        "ir_version": m.ir_version,
        "producer_name": m.producer_name,
        "opsets": [[o.domain, o.version] for o in m.opset_import],
        "nodes": [{"op_type": n.op_type, "domain": n.domain, "name": n.name, "inputs": list(n.input), "outputs": list(n.output),
                   "attributes": [[a.name, a.type] for a in n.attribute]} for n in g.node],
        "initializers": [{"name": t.name, "dims": list(t.dims), "data_type": t.data_type, "raw_bytes": len(t.raw_data),
                          "float_data": len(t.float_data), "int64_data": len(t.int64_data)} for t in g.initializer],
        "inputs": [value_info(v) for v in g.input],
        "outputs": [value_info(v) for v in g.output],
    }
with open(os.path.join("tests", "ModelCompiler.Tests", "Onnx", "summaries.json"), "w") as f:
    json.dump(summaries, f, indent=1)
print("summarized", len(summaries), "files")
