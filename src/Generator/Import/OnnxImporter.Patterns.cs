// Subgraphs the importer lowers as one op: LayerNorm before opset 17, PyTorch's exact GELU, HardSwish written out, and attention.
using System;
using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>The one node that reads <paramref name="value"/> (and nothing else does, not even the graph's output); else null.</summary>
        private OnnxNode? OnlyConsumer(List<OnnxNode> nodes, string value, out int index)
        {
            index = -1;
            if (!_consumers.TryGetValue(value, out List<int>? list) || list.Count != 1 || _uses[value] != 1) return null;
            index = list[0];
            return nodes[index];
        }

        /// <summary>
        /// HardSwish as Paddle's and TensorFlow's exporters write it: x · clip(x + 3, 0, 6) / 6, the division by 6 (or a
        /// product by 1/6) after the product with x or on the clipped value, each node the only reader of the one before.
        /// One HardSwish step instead of a clamp chain and a product of two values: it fuses into the store of the kernel
        /// that computes x (a convolution's), where the written-out form took three more passes over the activation.
        /// </summary>
        private bool HardSwishPattern(List<OnnxNode> nodes, int index, HashSet<int> skip)
        {
            OnnxNode add = nodes[index];
            if (add.Inputs.Count != 2 || add.Outputs.Count != 1) return false;
            string x = _activations.ContainsKey(add.Inputs[0]) ? add.Inputs[0] : add.Inputs[1];
            if (!_activations.ContainsKey(x) || Scalar(x == add.Inputs[0] ? add.Inputs[1] : add.Inputs[0]) != 3f) return false;
            var used = new List<int>();
            if (OnlyConsumer(nodes, add.Outputs[0], out int i) is not { OpType: "Clip" } clip || ClipBounds(clip) != (0f, 6f)) return false;
            used.Add(i);
            bool Sixth(OnnxNode n, string value) =>
                n.Inputs.Count == 2 && (n.OpType == "Div" && n.Inputs[0] == value && Scalar(n.Inputs[1]) == 6f
                    || n.OpType == "Mul" && Scalar(n.Inputs[0] == value ? n.Inputs[1] : n.Inputs[0]) is float s && Math.Abs(s - 1f / 6f) < 1e-7f);
            bool ByX(OnnxNode n, string value) => n.OpType == "Mul" && n.Inputs.Count == 2 && (n.Inputs[0] == value ? n.Inputs[1] : n.Inputs[0]) == x;
            if (OnlyConsumer(nodes, clip.Outputs[0], out i) is not { } second) return false;
            used.Add(i);
            if (OnlyConsumer(nodes, second.Outputs[0], out i) is not { } third) return false;
            used.Add(i);
            if (!(ByX(second, clip.Outputs[0]) && Sixth(third, second.Outputs[0]) || Sixth(second, clip.Outputs[0]) && ByX(third, second.Outputs[0]))) return false;
            _activations[third.Outputs[0]] = Record(add, OpKind.HardSwish, new[] { Act(add, x) });
            _ranks[third.Outputs[0]] = RankOf(x);
            foreach (int u in used) skip.Add(u);
            return true;
        }

        /// <summary>A Clip's bounds when both are constants (attributes before opset 11, inputs after), else null.</summary>
        private (float, float)? ClipBounds(OnnxNode clip)
        {
            if (_model.DefaultOpset < 11)
                return clip.Attributes.Any(a => a.Name == "min") && clip.Attributes.Any(a => a.Name == "max") ? (FloatAttribute(clip, "min", 0f), FloatAttribute(clip, "max", 0f)) : null;
            return clip.Inputs.Count == 3 && Scalar(clip.Inputs[1]) is float low && Scalar(clip.Inputs[2]) is float high ? (low, high) : null;
        }

        /// <summary>
        /// Attention as exporters write it — nn.MultiheadAttention and nn.TransformerEncoderLayer (q / √e, then a MatMul by
        /// the transposed keys), F.scaled_dot_product_attention (√s on q and on kᵀ), BERT's and GPT-2's (the product
        /// divided by √e, then a mask added): MatMul(q, kᵀ), optionally times a scalar and plus an [L, S] mask, → Softmax
        /// over the last axis → MatMul(·, v), with q [h…, L, e], kᵀ [h…, e, S], v [h…, S, ev] — recognised at the second
        /// MatMul and lowered to one ScaledDotProductAttention, the flash-style kernel that MultiHeadAttention runs: no
        /// [L, S] score matrix is stored. Scalar factors (on q, on kᵀ, on their product; a division by a constant is
        /// recorded as one) are gathered; where their product is not the kernel's own 1/√e (to float rounding), q is scaled
        /// by the difference. A constant mask that is 0 on and below the diagonal and −∞ above is causal attention (those
        /// keys are skipped); another mask is added as the kernel's mask. The keys are kᵀ with its last two axes swapped (a
        /// permute, composed with the one that made kᵀ). The ops recorded for the scores and the softmax are left to
        /// dead-code elimination, so a graph that also reads them elsewhere stays correct. The probabilities must be read
        /// by this MatMul only (a model that returns the attention weights keeps its MatMul, Softmax, MatMul).
        /// </summary>
        private bool AttentionPattern(OnnxNode node, string probabilities, string values)
        {
            if (!_activations.TryGetValue(probabilities, out int p) || !_activations.TryGetValue(values, out int v)
                || !_uses.TryGetValue(probabilities, out int uses) || uses != 1)
                return false;
            RecordedOp softmax = _ops[p];
            if (softmax.Kind != OpKind.Softmax || softmax.Inputs.Count != 1) return false; // along the last axis (another records permutes around it)
            RecordedOp scores = _ops[softmax.Inputs[0]];
            int mask = -1;
            bool Product(int id) => _ops[id].Kind == OpKind.MatMul || _ops[id].Kind == OpKind.MulScalar && _ops[id].Inputs.Count == 1 && _ops[_ops[id].Inputs[0]].Kind == OpKind.MatMul;
            if (scores.Kind == OpKind.Add && scores.Inputs.Count == 2)
            {
                // q·kᵀ + mask, the mask [L, S]: a constant (a causal mask, a position bias) or a value of that shape.
                int left = scores.Inputs[0], right = scores.Inputs[1];
                (int product, mask) = Product(left) ? (left, right) : (right, left);
                scores = _ops[product];
            }
            double scale = 1;
            if (scores.Kind == OpKind.MulScalar && scores.Inputs.Count == 1 && _ops[scores.Inputs[0]].Kind == OpKind.MatMul && IsFinite(scores.Scalar) && scores.Scalar != 0f)
            {
                // (q·kᵀ) / √e, as BERT's and GPT-2's exports scale the product: the same as scaling q.
                scale = scores.Scalar;
                scores = _ops[scores.Inputs[0]];
            }
            if (scores.Kind != OpKind.MatMul || scores.Inputs.Count != 2) return false;
            int q = Unscaled(scores.Inputs[0], ref scale), keysT = Unscaled(scores.Inputs[1], ref scale);
            if (new[] { q, keysT, v }.Any(id => _ops[id].Kind == OpKind.Parameter)) return false;
            int[] qs = SampleShape(q), ks = SampleShape(keysT), vs = SampleShape(v);
            int r = qs.Length;
            if (r < 2 || ks.Length != r || vs.Length != r || ks[r - 2] != qs[r - 1] || vs[r - 2] != ks[r - 1]
                || !qs.Take(r - 2).SequenceEqual(ks.Take(r - 2)) || !qs.Take(r - 2).SequenceEqual(vs.Take(r - 2)) || qs[r - 1] == 0)
                return false;
            bool causal = false;
            if (mask >= 0)
            {
                if (!SampleShape(mask).SequenceEqual(new[] { qs[r - 2], ks[r - 1] })) return false;
                // A constant that is 0 on and below the diagonal and −∞ (or float's lowest, as Hugging Face writes it)
                // above is causal attention: the kernel skips those keys instead of adding the mask.
                if (_ops[mask].Kind == OpKind.Parameter && qs[r - 2] == ks[r - 1] && IsCausal(_weights.Last(w => w.Key == _ops[mask].Name).Value.Floats, qs[r - 2]))
                {
                    causal = true;
                    mask = -1;
                }
            }
            float factor = (float)(scale * Math.Sqrt(qs[r - 1]));
            if (float.IsNaN(factor) || float.IsInfinity(factor) || factor == 0f) return false;
            // √scale on each side rounds: a product within a few units in the last place of 1/√e is the kernel's own.
            if (Math.Abs(factor - 1f) > 4e-7f) q = Record(node, OpKind.MulScalar, new[] { q }, scalar: factor);
            int[] swap = Enumerable.Range(0, r).ToArray();
            (swap[r - 2], swap[r - 1]) = (r - 1, r - 2);
            int keys = Record(node, OpKind.Permute, new[] { keysT }, settings: new PermuteSettings(swap.ToEquatableArray()));
            Activation(node, Output(node), OpKind.Attention, mask < 0 ? new[] { q, keys, v } : new[] { q, keys, v, mask }, RankOf(values),
                settings: new AttentionSettings(0, causal));
            return true;
        }

        private static bool IsFinite(float value) => !float.IsNaN(value) && !float.IsInfinity(value);

        /// <summary>Whether an [n, n] mask is 0 on and below the diagonal and −∞ (or at most −1e9) above it.</summary>
        private static bool IsCausal(float[]? mask, int n)
        {
            if (mask is null || mask.Length != (long)n * n) return false;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    if (j <= i ? mask[i * n + j] != 0f : !(mask[i * n + j] <= -1e9f)) return false;
            return true;
        }

        /// <summary>An op's input without a scalar factor it was multiplied by (folded into <paramref name="scale"/>).</summary>
        private int Unscaled(int id, ref double scale)
        {
            RecordedOp op = _ops[id];
            if (op.Kind != OpKind.MulScalar || op.Inputs.Count != 1 || !IsFinite(op.Scalar) || op.Scalar == 0f) return id;
            scale *= op.Scalar;
            return op.Inputs[0];
        }

        private float? Scalar(string value) =>
            _constants.TryGetValue(value, out OnnxConstant? c) && c.Count == 1 ? c.Floats?[0] ?? (c.PlainLongs is { } l ? l[0] : null) : null;

        /// <summary>
        /// LayerNorm as exporters before opset 17 write it, one kernel instead of nine: m = ReduceMean(x); d = x − m;
        /// v = ReduceMean(d²); y = d / Sqrt(v + ε); then optionally y·γ + β, over the last axis.
        /// </summary>
        private bool LayerNormPattern(List<OnnxNode> nodes, int index, string name, HashSet<int> skip)
        {
            OnnxNode mean = nodes[index];
            if (mean.Inputs.Count == 0 || !_activations.ContainsKey(mean.Inputs[0]) || mean.Outputs.Count != 1) return false;
            string x = mean.Inputs[0];
            int rank = RankOf(x);
            bool LastAxis(OnnxNode n)
            {
                if (IntAttribute(n, "keepdims", 1) == 0) return false;
                long[] axes = _model.DefaultOpset < 18 ? n.Attributes.FirstOrDefault(a => a.Name == "axes")?.Ints.ToArray() ?? Array.Empty<long>()
                    : n.Inputs.Count > 1 && _constants.TryGetValue(n.Inputs[1], out OnnxConstant? c) ? c.PlainLongs ?? Array.Empty<long>() : Array.Empty<long>();
                return axes.Length == 1 && (axes[0] == -1 || axes[0] + Lead == rank - 1);
            }
            if (!LastAxis(mean) || rank < 2) return false;
            var used = new List<int>();
            OnnxNode? sub = OnlyConsumer(nodes, mean.Outputs[0], out int i);
            if (sub is not { OpType: "Sub" } || sub.Inputs[0] != x || sub.Inputs[1] != mean.Outputs[0]) return false;
            used.Add(i);
            string d = sub.Outputs[0];
            if (!_consumers.TryGetValue(d, out List<int>? readers) || readers.Count != 2 || _uses[d] != (readers.Sum(r => nodes[r].Inputs.Count(v => v == d)))) return false;
            OnnxNode square = nodes[readers[0]], divide = nodes[readers[1]];
            if (square.OpType == "Div") (square, divide) = (divide, square);
            bool squares = square.OpType == "Pow" && square.Inputs[0] == d && Scalar(square.Inputs[1]) == 2f
                || square.OpType == "Mul" && square.Inputs.Count == 2 && square.Inputs[0] == d && square.Inputs[1] == d;
            if (!squares || divide.OpType != "Div" || divide.Inputs[0] != d) return false;
            used.Add(readers[0]); used.Add(readers[1]);
            OnnxNode? variance = OnlyConsumer(nodes, square.Outputs[0], out i);
            if (variance is not { OpType: "ReduceMean" } || !LastAxis(variance)) return false;
            used.Add(i);
            OnnxNode? addEpsilon = OnlyConsumer(nodes, variance.Outputs[0], out i);
            if (addEpsilon is not { OpType: "Add" }) return false;
            used.Add(i);
            string epsilonName = addEpsilon.Inputs[0] == variance.Outputs[0] ? addEpsilon.Inputs[1] : addEpsilon.Inputs[0];
            if (Scalar(epsilonName) is not float epsilon || epsilon < 0) return false;
            OnnxNode? root = OnlyConsumer(nodes, addEpsilon.Outputs[0], out i);
            if (root is not { OpType: "Sqrt" } || divide.Inputs[1] != root.Outputs[0] || OnlyConsumer(nodes, root.Outputs[0], out _) != divide) return false;
            used.Add(i);

            // γ and β when they follow (as nn.LayerNorm exports them), else 1 and 0.
            int width = SampleShape(mean, x)[rank - 2];
            string output = divide.Outputs[0];
            OnnxConstant? Vector(OnnxNode n, string value, out string other)
            {
                other = n.Inputs[0] == value ? n.Inputs[1] : n.Inputs[0];
                return _constants.TryGetValue(other, out OnnxConstant? c) && c.Floats is { } f && f.Length == width && c.Dims.Take(c.Dims.Length - 1).All(v => v == 1) ? c.Reshaped(new long[] { width }) : null;
            }
            OnnxConstant gamma = new(new long[] { width }, Enumerable.Repeat(1f, width).ToArray(), null), beta = new(new long[] { width }, new float[width], null);
            if (OnlyConsumer(nodes, output, out i) is { OpType: "Mul" } scale && Vector(scale, output, out _) is { } g)
            {
                gamma = g; output = scale.Outputs[0]; used.Add(i);
                if (OnlyConsumer(nodes, output, out i) is { OpType: "Add" } shift && Vector(shift, output, out _) is { } b)
                {
                    beta = b; output = shift.Outputs[0]; used.Add(i);
                }
            }
            _weights.Add(new(name + ".weight", gamma));
            _weights.Add(new(name + ".bias", beta));
            _activations[output] = Record(mean, OpKind.LayerNorm, new[] { Act(mean, x) }, name, epsilon);
            _ranks[output] = rank;
            foreach (int u in used) skip.Add(u);
            return true;
        }

        /// <summary>Exact GELU as PyTorch exports it, one fused activation: x · (Erf(x / √2) + 1) · 0.5, in any order of the products.</summary>
        private bool GeluPattern(List<OnnxNode> nodes, int index, HashSet<int> skip)
        {
            OnnxNode divide = nodes[index];
            if (divide.Inputs.Count != 2 || !_activations.ContainsKey(divide.Inputs[0]) || Scalar(divide.Inputs[1]) is not float root
                || Math.Abs(root - 1.41421356f) > 1e-6f) return false;
            string x = divide.Inputs[0];
            var used = new List<int>();
            if (OnlyConsumer(nodes, divide.Outputs[0], out int i) is not { OpType: "Erf" } erf) return false;
            used.Add(i);
            if (OnlyConsumer(nodes, erf.Outputs[0], out i) is not { OpType: "Add" } plusOne
                || Scalar(plusOne.Inputs[0] == erf.Outputs[0] ? plusOne.Inputs[1] : plusOne.Inputs[0]) != 1f) return false;
            used.Add(i);
            // (x · t) · 0.5 or x · (t · 0.5) or (t · 0.5) · x
            string t = plusOne.Outputs[0];
            if (OnlyConsumer(nodes, t, out i) is not { OpType: "Mul" } first) return false;
            used.Add(i);
            string firstOther = first.Inputs[0] == t ? first.Inputs[1] : first.Inputs[0];
            if (OnlyConsumer(nodes, first.Outputs[0], out i) is not { OpType: "Mul" } second) return false;
            string secondOther = second.Inputs[0] == first.Outputs[0] ? second.Inputs[1] : second.Inputs[0];
            bool matches = firstOther == x && Scalar(secondOther) == 0.5f || Scalar(firstOther) == 0.5f && secondOther == x;
            if (!matches) return false;
            used.Add(i);
            _activations[second.Outputs[0]] = Record(divide, OpKind.Gelu, new[] { Act(divide, x) });
            _ranks[second.Outputs[0]] = RankOf(x);
            foreach (int u in used) skip.Add(u);
            return true;
        }
    }
}
