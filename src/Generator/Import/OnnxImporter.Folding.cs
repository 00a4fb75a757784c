// Nodes on constants evaluated at build time (the dispatcher; the arithmetic is OnnxConstantFolding).
using System;
using System.Collections.Generic;
using System.Linq;

using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>Folds one node on constants into a new constant (throws <see cref="OnnxFoldException"/> to refuse it).</summary>
        private delegate OnnxConstant FoldRule(Lowering lowering, OnnxNode node, FoldInputs inputs);

        /// <summary>Operators evaluated at build time when every input is known then (Shape only needs its input's shape), by name.</summary>
        private static readonly Dictionary<string, FoldRule> Folds = new(StringComparer.Ordinal)
        {
            ["Abs"] = (l, n, f) => l.FoldUnary(n, f),
            ["Add"] = (l, n, f) => l.FoldBinary(n, f),
            ["And"] = (l, n, f) => l.FoldBinary(n, f),
            ["Or"] = (l, n, f) => l.FoldBinary(n, f),
            ["Xor"] = (l, n, f) => l.FoldBinary(n, f),
            ["Not"] = (l, n, f) => l.FoldUnary(n, f),
            ["GreaterOrEqual"] = (l, n, f) => l.FoldBinary(n, f),
            ["LessOrEqual"] = (l, n, f) => l.FoldBinary(n, f),
            ["Cast"] = (l, n, f) => l.FoldCast(n, f),
            ["Concat"] = (l, n, f) => l.FoldConcat(n, f),
            ["ConstantOfShape"] = (l, n, f) => l.FoldConstantOfShape(n, f),
            ["DequantizeLinear"] = (l, n, f) => l.FoldDequantizeLinear(n, f),
            ["Div"] = (l, n, f) => l.FoldBinary(n, f),
            ["Equal"] = (l, n, f) => l.FoldBinary(n, f),
            ["Exp"] = (l, n, f) => l.FoldUnary(n, f),
            ["Flatten"] = (l, n, f) => l.FoldFlatten(n, f),
            ["Gather"] = (l, n, f) => l.FoldGather(n, f),
            ["Greater"] = (l, n, f) => l.FoldBinary(n, f),
            ["Less"] = (l, n, f) => l.FoldBinary(n, f),
            ["Mul"] = (l, n, f) => l.FoldBinary(n, f),
            ["Neg"] = (l, n, f) => l.FoldUnary(n, f),
            ["Pow"] = (l, n, f) => l.FoldBinary(n, f),
            ["Range"] = (l, n, f) => l.FoldRange(n, f),
            ["Reciprocal"] = (l, n, f) => l.FoldUnary(n, f),
            ["Relu"] = (l, n, f) => l.FoldUnary(n, f),
            ["Reshape"] = (l, n, f) => l.FoldReshape(n, f),
            ["Shape"] = (l, n, f) => l.FoldShape(n, f),
            ["Size"] = (l, n, f) => l.FoldSize(n, f),
            ["Slice"] = (l, n, f) => l.FoldSlice(n, f),
            ["Sqrt"] = (l, n, f) => l.FoldUnary(n, f),
            ["Squeeze"] = (l, n, f) => l.FoldSqueeze(n, f),
            ["Sub"] = (l, n, f) => l.FoldBinary(n, f),
            ["Transpose"] = (l, n, f) => l.FoldTranspose(n, f),
            ["Unsqueeze"] = (l, n, f) => l.FoldSqueeze(n, f),
            ["Where"] = (l, n, f) => l.FoldWhere(n, f),
        };

        /// <summary>The names of <see cref="Folds"/>: what <see cref="Supported"/> lists beside the lowered operators.</summary>
        internal static IEnumerable<string> Foldable => Folds.Keys;

        /// <summary>A folded node's inputs, read as constants, and its attributes.</summary>
        private sealed class FoldInputs
        {
            private readonly Lowering _lowering;
            private readonly OnnxNode _node;

            public FoldInputs(Lowering lowering, OnnxNode node, List<string> present, bool ofActivation)
            {
                _lowering = lowering;
                _node = node;
                Present = present;
                OfActivation = ofActivation;
            }

            /// <summary>The inputs given (an omitted optional input is an empty name).</summary>
            public List<string> Present { get; }

            /// <summary>Shape or Size of an activation: its sample shape is known at build time, its values are not.</summary>
            public bool OfActivation { get; }

            public OnnxConstant In(int i) => _lowering.Const(_node, _lowering.Input(_node, i));

            public OnnxConstant? Optional(int i) => i < _node.Inputs.Count && _node.Inputs[i].Length > 0 ? In(i) : null;

            public long[] Ints(string name) => _node.Attributes.FirstOrDefault(a => a.Name == name)?.Ints.ToArray() ?? Array.Empty<long>();
        }

        /// <summary>
        /// Evaluates a node on constants (shape arithmetic, weights an exporter did not fold) into a new constant; false
        /// when it has an activation input and must be compiled.
        /// </summary>
        private bool Fold(OnnxNode node, Func<string> output)
        {
            if (!Folds.TryGetValue(node.OpType, out FoldRule? fold)) return false;
            List<string> present = node.Inputs.Where(i => i.Length > 0).ToList();
            bool shapeOfActivation = node.OpType is "Shape" or "Size" && present.Count == 1 && _activations.ContainsKey(present[0]);
            if (!shapeOfActivation && (present.Count == 0 && node.OpType != "Range" || !present.All(_constants.ContainsKey))) return false;
            try
            {
                OnnxConstant result = fold(this, node, new FoldInputs(this, node, present, shapeOfActivation));
                if (result.Count > OnnxConstantFolding.MaxElements && result.Floats is null) throw new OnnxFoldException("the result is too large to fold");
                _constants[output()] = result;
                return true;
            }
            catch (OnnxFoldException e)
            {
                throw Unsupported(node, e.Message);
            }
        }

        /// <summary>Shape on constants.</summary>
        private OnnxConstant FoldShape(OnnxNode node, FoldInputs f)
        {
            long start = IntAttribute(node, "start", 0);
            long? end = node.Attributes.FirstOrDefault(a => a.Name == "end")?.I;
            if (f.OfActivation)
            {
                return OnnxConstantFolding.Shape(SampleShape(node, f.Present[0]), start, end, _whole);
            }
            long[] dims = f.In(0).Dims;
            var all = new OnnxConstant(new long[] { dims.Length }, null, dims);
            return OnnxConstantFolding.Slice(all, new[] { start }, new[] { end ?? long.MaxValue }, new[] { 0L }, new[] { 1L });
        }

        /// <summary>Size on constants.</summary>
        private OnnxConstant FoldSize(OnnxNode node, FoldInputs f)
        {
            return f.OfActivation
                ? new OnnxConstant(Array.Empty<long>(), null, new[] { SizeMath.Product(SampleShape(node, f.Present[0])) }, new[] { !_whole })
                : new OnnxConstant(Array.Empty<long>(), null, new[] { f.In(0).Count });
        }

        /// <summary>Gather on constants.</summary>
        private OnnxConstant FoldGather(OnnxNode node, FoldInputs f)
        {
            return OnnxConstantFolding.Gather(f.In(0), f.In(1), IntAttribute(node, "axis", 0));
        }

        /// <summary>Unsqueeze, Squeeze on constants.</summary>
        private OnnxConstant FoldSqueeze(OnnxNode node, FoldInputs f)
        {
            OnnxConstant x = f.In(0);
            long[] axes = Axes(node, 13);
            List<long> dims = x.Dims.ToList();
            if (node.OpType == "Unsqueeze")
            {
                int rank = dims.Count + axes.Length;
                foreach (long a in axes.Select(a => a < 0 ? a + rank : a).OrderBy(a => a))
                {
                    if (a < 0 || a > dims.Count) throw new OnnxFoldException($"axes [{string.Join(", ", axes)}] do not fit");
                    dims.Insert((int)a, 1);
                }
            }
            else
            {
                var drop = axes.Length == 0 ? Enumerable.Range(0, dims.Count).Where(d => dims[d] == 1).Select(d => (long)d).ToList()
                    : axes.Select(a => a < 0 ? a + dims.Count : a).ToList();
                if (drop.Any(a => a < 0 || a >= dims.Count || dims[(int)a] != 1)) throw new OnnxFoldException($"axes [{string.Join(", ", axes)}] are not dimensions of 1");
                dims = dims.Where((_, d) => !drop.Contains(d)).ToList();
            }
            return x.Reshaped(dims.ToArray());
        }

        /// <summary>Concat on constants.</summary>
        private OnnxConstant FoldConcat(OnnxNode node, FoldInputs f)
        {
            return OnnxConstantFolding.Concat(f.Present.Select(i => Const(node, i)).ToList(), IntAttribute(node, "axis", 0));
        }

        /// <summary>Cast on constants.</summary>
        private OnnxConstant FoldCast(OnnxNode node, FoldInputs f)
        {
            return OnnxConstantFolding.Cast(f.In(0), (OnnxDataType)IntAttribute(node, "to", 0));
        }

        /// <summary>Add, Sub, Mul, Div, Pow, Equal, Less, Greater on constants.</summary>
        private OnnxConstant FoldBinary(OnnxNode node, FoldInputs f)
        {
            OnnxConstant a = f.In(0), b = f.In(1);
            // Pow's exponent may be of another type than its base.
            if (node.OpType == "Pow" && a.Floats is not null && b.Floats is null) b = OnnxConstantFolding.Cast(b, OnnxDataType.Float);
            return OnnxConstantFolding.Binary(node.OpType, a, b);
        }

        /// <summary>Sqrt, Neg, Reciprocal, Exp, Abs, Relu, Not on constants.</summary>
        private OnnxConstant FoldUnary(OnnxNode node, FoldInputs f)
        {
            return OnnxConstantFolding.Unary(node.OpType, f.In(0));
        }

        /// <summary>Reshape on constants.</summary>
        private OnnxConstant FoldReshape(OnnxNode node, FoldInputs f)
        {
            return OnnxConstantFolding.Reshape(f.In(0), f.In(1).PlainLongs ?? throw new OnnxFoldException("the shape must be integers"), IntAttribute(node, "allowzero", 0) != 0);
        }

        /// <summary>Flatten on constants.</summary>
        private OnnxConstant FoldFlatten(OnnxNode node, FoldInputs f)
        {
            OnnxConstant x = f.In(0);
            long axis = IntAttribute(node, "axis", 1);
            if (axis < 0) axis += x.Dims.Length;
            long outer = SizeMath.Product(x.Dims.Take((int)axis));
            return x.Reshaped(new[] { outer, outer == 0 ? 0 : x.Count / outer });
        }

        /// <summary>Transpose on constants.</summary>
        private OnnxConstant FoldTranspose(OnnxNode node, FoldInputs f)
        {
            OnnxConstant x = f.In(0);
            long[] perm = f.Ints("perm");
            return OnnxConstantFolding.Transpose(x, perm.Length > 0 ? perm : Enumerable.Range(0, x.Dims.Length).Reverse().Select(i => (long)i).ToArray());
        }

        /// <summary>Slice on constants.</summary>
        private OnnxConstant FoldSlice(OnnxNode node, FoldInputs f)
        {
            OnnxConstant x = f.In(0);
            long[] starts, ends, axes, steps;
            if (_model.DefaultOpset < 10)
            {
                starts = f.Ints("starts"); ends = f.Ints("ends"); axes = f.Ints("axes");
                steps = Enumerable.Repeat(1L, starts.Length).ToArray();
            }
            else
            {
                starts = f.In(1).PlainLongs ?? throw new OnnxFoldException("starts must be integers");
                ends = f.In(2).PlainLongs ?? throw new OnnxFoldException("ends must be integers");
                axes = f.Optional(3)?.PlainLongs ?? Array.Empty<long>();
                steps = f.Optional(4)?.PlainLongs ?? Array.Empty<long>();
            }
            if (axes.Length == 0) axes = Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            if (steps.Length == 0) steps = Enumerable.Repeat(1L, starts.Length).ToArray();
            if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length) throw new OnnxFoldException("starts, ends, axes and steps differ in length");
            return OnnxConstantFolding.Slice(x, starts, ends, axes, steps);
        }

        /// <summary>ConstantOfShape on constants.</summary>
        private OnnxConstant FoldConstantOfShape(OnnxNode node, FoldInputs f)
        {
            OnnxAttribute? value = node.Attributes.FirstOrDefault(a => a.Name == "value");
            return OnnxConstantFolding.ConstantOfShape(f.In(0), value?.T is null ? null : Read(value.T, node));
        }

        /// <summary>Range on constants.</summary>
        private OnnxConstant FoldRange(OnnxNode node, FoldInputs f)
        {
            return OnnxConstantFolding.Range(f.In(0), f.In(1), f.In(2));
        }

        /// <summary>Where on constants.</summary>
        private OnnxConstant FoldWhere(OnnxNode node, FoldInputs f)
        {
            return OnnxConstantFolding.Where(f.In(0), f.In(1), f.In(2));
        }

        /// <summary>DequantizeLinear on constants.</summary>
        private OnnxConstant FoldDequantizeLinear(OnnxNode node, FoldInputs f)
        {
            return Dequantize(node, f.In(0), f.In(1), f.Optional(2));
        }

        /// <summary>
        /// DequantizeLinear of a quantized weight: (q − zero point) × scale, per tensor or per axis, computed at build time.
        /// The model then runs in float32 (or is quantized again by <c>Quantize</c>); ONNX Runtime computes the same floats.
        /// </summary>
        private OnnxConstant Dequantize(OnnxNode node, OnnxConstant q, OnnxConstant scale, OnnxConstant? zero)
        {
            long[] values = q.PlainLongs ?? throw new OnnxFoldException("the quantized tensor must be integers");
            float[] scales = scale.Floats ?? throw new OnnxFoldException("the scale must be float");
            long[] zeros = zero?.PlainLongs ?? new long[scales.Length];
            if (zeros.Length != scales.Length) throw new OnnxFoldException("the scale and the zero point differ in length");
            if (IntAttribute(node, "block_size", 0) != 0) throw new OnnxFoldException("blocked quantization is not supported");
            var result = new float[values.Length];
            if (scales.Length == 1)
            {
                for (int i = 0; i < values.Length; i++) result[i] = (values[i] - zeros[0]) * scales[0];
                return new OnnxConstant(q.Dims, result, null);
            }
            long axis = IntAttribute(node, "axis", 1);
            if (axis < 0) axis += q.Dims.Length;
            if (axis < 0 || axis >= q.Dims.Length || q.Dims[axis] != scales.Length) throw new OnnxFoldException($"{scales.Length} scales do not fit axis {axis} of [{string.Join(", ", q.Dims)}]");
            long inner = SizeMath.Product(q.Dims.Skip((int)axis + 1));
            for (int i = 0; i < values.Length; i++)
            {
                int c = (int)(i / inner % scales.Length);
                result[i] = (values[i] - zeros[c]) * scales[c];
            }
            return new OnnxConstant(q.Dims, result, null);
        }
    }
}
