// ONNX operators of the normalization family, each lowered onto the op catalogue's kinds (the table is OnnxImporter.Operators).
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>ReduceMean, ReduceSum.</summary>
        private void LowerReduce(OnnxNode node, string name)
        {
            if (node.OpType == "ReduceMean" && LayerNormPattern(_graph, _index, name, _skip)) return;
            // A sum is the mean times the count (one rounding more, well inside the tolerance).
            string x = Input(node, 0);
            int rank = RankOf(x);
            bool sum = node.OpType == "ReduceSum";
            long[] raw = Axes(node, sum ? 13 : 18);
            if (raw.Length != 1) throw Unsupported(node, $"only a {(sum ? "sum" : "mean")} over one axis is supported");
            int axis = SampleAxis(node, raw[0], rank);
            int result = Record(node, OpKind.Mean, new[] { Act(node, x) }, settings: new AxisSettings(axis - 1));
            if (sum) result = Record(node, OpKind.MulScalar, new[] { result }, scalar: SampleShape(node, x)[axis - 1]);
            bool keep = IntAttribute(node, "keepdims", 1) != 0;
            if (keep) result = Record(node, OpKind.Unsqueeze, new[] { result }, settings: new AxisSettings(axis - 1));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = keep ? rank : rank - 1;
        }

        /// <summary>LayerNormalization.</summary>
        private void LowerLayerNormalization(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            long axis = IntAttribute(node, "axis", -1);
            if (axis != -1 && axis + Lead != rank - 1) throw Unsupported(node, $"axis {axis}: only the last axis is supported");
            if (node.Outputs.Count > 1 && node.Outputs.Skip(1).Any(o => o.Length > 0)) throw Unsupported(node, "the mean and inverse deviation outputs are not supported");
            _weights.Add(new(name + ".weight", Const(node, Input(node, 1))));
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0) _weights.Add(new(name + ".bias", Const(node, Input(node, 2))));
            Activation(node, Output(node), OpKind.LayerNorm, new[] { Act(node, x) }, rank, name, FloatAttribute(node, "epsilon", 1e-5f));
        }

        /// <summary>Softmax, LogSoftmax.</summary>
        private void LowerSoftmax(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            OpKind kind = node.OpType == "Softmax" ? OpKind.Softmax : OpKind.LogSoftmax;
            bool coerced = _model.DefaultOpset < 13;
            int axis = SampleAxis(node, IntAttribute(node, "axis", coerced ? 1 : -1), rank);
            int a = Act(node, x);
            if (axis == rank - 1)
            {
                Activation(node, Output(node), kind, new[] { a }, rank);
                return;
            }
            int[] sample = SampleShape(node, x);
            int result;
            if (coerced)
            {
                // Before opset 13, the input is read as a matrix: the dimensions before the axis are rows, the rest one row.
                int outer = sample.Take(axis - 1).Aggregate(1, (p, d) => checked(p * d)), inner = sample.Skip(axis - 1).Aggregate(1, (p, d) => checked(p * d));
                result = Record(node, OpKind.Reshape, new[] { a }, settings: new ReshapeSettings(new EquatableArray<int>(new[] { outer, inner })));
                result = Record(node, kind, new[] { result });
                result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(sample)));
            }
            else
            {
                // Along another axis: that axis moved last, normalized, and moved back (two strided copies).
                int[] order = Enumerable.Range(0, sample.Length).Where(d => d != axis - 1).Append(axis - 1).ToArray();
                int[] back = new int[order.Length];
                for (int d = 0; d < order.Length; d++) back[order[d]] = d;
                result = Record(node, OpKind.Permute, new[] { a }, settings: new PermuteSettings(order.ToEquatableArray()));
                result = Record(node, kind, new[] { result });
                result = Record(node, OpKind.Permute, new[] { result }, settings: new PermuteSettings(back.ToEquatableArray()));
            }
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }
    }
}
