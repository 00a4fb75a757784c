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
        /// <summary>Operators evaluated at build time when every input is known then (Shape only needs its input's shape).</summary>
        private static readonly HashSet<string> Foldable = new(StringComparer.Ordinal)
        {
            "Shape", "Size", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "Greater",
            "Sqrt", "Neg", "Reciprocal", "Exp", "Abs", "Relu", "Reshape", "Transpose", "Slice", "ConstantOfShape", "Range", "Where", "Flatten",
            "DequantizeLinear",
        };

        /// <summary>
        /// Evaluates a node on constants (shape arithmetic, weights an exporter did not fold) into a new constant; false
        /// when it has an activation input and must be compiled.
        /// </summary>
        private bool Fold(OnnxNode node, Func<string> output)
        {
            if (!Foldable.Contains(node.OpType)) return false;
            List<string> present = node.Inputs.Where(i => i.Length > 0).ToList();
            bool shapeOfActivation = node.OpType is "Shape" or "Size" && present.Count == 1 && _activations.ContainsKey(present[0]);
            if (!shapeOfActivation && (present.Count == 0 && node.OpType != "Range" || !present.All(_constants.ContainsKey))) return false;
            OnnxConstant In(int i) => Const(node, Input(node, i));
            OnnxConstant? Optional(int i) => i < node.Inputs.Count && node.Inputs[i].Length > 0 ? In(i) : null;
            long[] Ints(string name) => node.Attributes.FirstOrDefault(a => a.Name == name)?.Ints.ToArray() ?? Array.Empty<long>();
            try
            {
                OnnxConstant result;
                switch (node.OpType)
                {
                    case "Shape":
                    {
                        long start = IntAttribute(node, "start", 0);
                        long? end = node.Attributes.FirstOrDefault(a => a.Name == "end")?.I;
                        if (shapeOfActivation)
                        {
                            result = OnnxConstantFolding.Shape(SampleShape(node, present[0]), start, end);
                            break;
                        }
                        long[] dims = In(0).Dims;
                        var all = new OnnxConstant(new long[] { dims.Length }, null, dims);
                        result = OnnxConstantFolding.Slice(all, new[] { start }, new[] { end ?? long.MaxValue }, new[] { 0L }, new[] { 1L });
                        break;
                    }
                    case "Size":
                        result = shapeOfActivation
                            ? new OnnxConstant(Array.Empty<long>(), null, new[] { SizeMath.Product(SampleShape(node, present[0])) }, new[] { true })
                            : new OnnxConstant(Array.Empty<long>(), null, new[] { In(0).Count });
                        break;
                    case "Gather":
                        result = OnnxConstantFolding.Gather(In(0), In(1), IntAttribute(node, "axis", 0));
                        break;
                    case "Unsqueeze" or "Squeeze":
                    {
                        OnnxConstant x = In(0);
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
                        result = x.Reshaped(dims.ToArray());
                        break;
                    }
                    case "Concat":
                        result = OnnxConstantFolding.Concat(present.Select(i => Const(node, i)).ToList(), IntAttribute(node, "axis", 0));
                        break;
                    case "Cast":
                        result = OnnxConstantFolding.Cast(In(0), (OnnxDataType)IntAttribute(node, "to", 0));
                        break;
                    case "Add" or "Sub" or "Mul" or "Div" or "Pow" or "Equal" or "Less" or "Greater":
                    {
                        OnnxConstant a = In(0), b = In(1);
                        // Pow's exponent may be of another type than its base.
                        if (node.OpType == "Pow" && a.Floats is not null && b.Floats is null) b = OnnxConstantFolding.Cast(b, OnnxDataType.Float);
                        result = OnnxConstantFolding.Binary(node.OpType, a, b);
                        break;
                    }
                    case "Sqrt" or "Neg" or "Reciprocal" or "Exp" or "Abs" or "Relu":
                        result = OnnxConstantFolding.Unary(node.OpType, In(0));
                        break;
                    case "Reshape":
                        result = OnnxConstantFolding.Reshape(In(0), In(1).PlainLongs ?? throw new OnnxFoldException("the shape must be integers"), IntAttribute(node, "allowzero", 0) != 0);
                        break;
                    case "Flatten":
                    {
                        OnnxConstant x = In(0);
                        long axis = IntAttribute(node, "axis", 1);
                        if (axis < 0) axis += x.Dims.Length;
                        long outer = SizeMath.Product(x.Dims.Take((int)axis));
                        result = x.Reshaped(new[] { outer, outer == 0 ? 0 : x.Count / outer });
                        break;
                    }
                    case "Transpose":
                    {
                        OnnxConstant x = In(0);
                        long[] perm = Ints("perm");
                        result = OnnxConstantFolding.Transpose(x, perm.Length > 0 ? perm : Enumerable.Range(0, x.Dims.Length).Reverse().Select(i => (long)i).ToArray());
                        break;
                    }
                    case "Slice":
                    {
                        OnnxConstant x = In(0);
                        long[] starts, ends, axes, steps;
                        if (_model.DefaultOpset < 10)
                        {
                            starts = Ints("starts"); ends = Ints("ends"); axes = Ints("axes");
                            steps = Enumerable.Repeat(1L, starts.Length).ToArray();
                        }
                        else
                        {
                            starts = In(1).PlainLongs ?? throw new OnnxFoldException("starts must be integers");
                            ends = In(2).PlainLongs ?? throw new OnnxFoldException("ends must be integers");
                            axes = Optional(3)?.PlainLongs ?? Array.Empty<long>();
                            steps = Optional(4)?.PlainLongs ?? Array.Empty<long>();
                        }
                        if (axes.Length == 0) axes = Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
                        if (steps.Length == 0) steps = Enumerable.Repeat(1L, starts.Length).ToArray();
                        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length) throw new OnnxFoldException("starts, ends, axes and steps differ in length");
                        result = OnnxConstantFolding.Slice(x, starts, ends, axes, steps);
                        break;
                    }
                    case "ConstantOfShape":
                    {
                        OnnxAttribute? value = node.Attributes.FirstOrDefault(a => a.Name == "value");
                        result = OnnxConstantFolding.ConstantOfShape(In(0), value?.T is null ? null : Read(value.T, node));
                        break;
                    }
                    case "Range":
                        result = OnnxConstantFolding.Range(In(0), In(1), In(2));
                        break;
                    case "Where":
                        result = OnnxConstantFolding.Where(In(0), In(1), In(2));
                        break;
                    case "DequantizeLinear":
                        result = Dequantize(node, In(0), In(1), Optional(2));
                        break;
                    default:
                        return false;
                }
                if (result.Count > OnnxConstantFolding.MaxElements && result.Floats is null) throw new OnnxFoldException("the result is too large to fold");
                _constants[output()] = result;
                return true;
            }
            catch (OnnxFoldException e)
            {
                throw Unsupported(node, e.Message);
            }
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
