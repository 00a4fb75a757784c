// ONNX operators of the linear family, each lowered onto the op catalogue's kinds (the table is OnnxImporter.Operators).
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>Gemm.</summary>
        private void LowerGemm(OnnxNode node, string name)
        {
            float alpha = FloatAttribute(node, "alpha", 1f), beta = FloatAttribute(node, "beta", 1f);
            if (IntAttribute(node, "transA", 0) != 0 || !_constants.TryGetValue(Input(node, 1), out OnnxConstant? b) || b.Floats is null || b.Dims.Length != 2)
            {
                GemmOfActivations(node, alpha, beta);
                return;
            }
            bool transB = IntAttribute(node, "transB", 0) != 0;
            OnnxConstant weight = transB ? b : TransposedMatrix(b);
            long outputs = weight.Dims[0], inputs = weight.Dims[1];
            if (alpha != 1f) weight = new OnnxConstant(weight.Dims, weight.Floats!.Select(v => v * alpha).ToArray(), null);
            OnnxConstant? bias = null;
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
            {
                OnnxConstant c = Const(node, Input(node, 2));
                if (c.Floats is null || c.Floats.Length != outputs) throw Unsupported(node, "C must be a float32 vector of one value per output");
                bias = beta == 1f ? c : new OnnxConstant(c.Dims, c.Floats.Select(v => v * beta).ToArray(), null);
            }
            Linear(node, Output(node), name, weight, bias);
        }

        /// <summary>
        /// Gemm whose B is not a matrix known at build time, or with A transposed (the conformance suite's graphs, compiled
        /// whole): the transposes as strided copies, a MatMul, alpha and beta as fused scalar steps, C added broadcasting.
        /// </summary>
        private void GemmOfActivations(OnnxNode node, float alpha, float beta)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            if (rank - Lead != 2) throw Unsupported(node, "A must be a matrix of the sample (the graph compiled whole)");
            int Transposed(int value) => Record(node, OpKind.Permute, new[] { value }, settings: new PermuteSettings(new EquatableArray<int>(new[] { 1, 0 })));
            int a = Act(node, x);
            if (IntAttribute(node, "transA", 0) != 0) a = Transposed(a);
            string bName = Input(node, 1);
            int b;
            if (_constants.TryGetValue(bName, out OnnxConstant? constant))
            {
                if (constant.Floats is null || constant.Dims.Length != 2) throw Unsupported(node, "B must be a float32 matrix");
                b = IntAttribute(node, "transB", 0) != 0
                    ? ConstantOperand(node, $"{bName}ᵀ", TransposedMatrix(constant), rank)
                    : ConstantOperand(node, bName, rank);
            }
            else
            {
                b = Act(node, bName);
                if (RankOf(bName) != rank) throw Unsupported(node, "B must be a matrix like A");
                if (IntAttribute(node, "transB", 0) != 0) b = Transposed(b);
            }
            int y = Record(node, OpKind.MatMul, new[] { a, b });
            if (alpha != 1f) y = Record(node, OpKind.MulScalar, new[] { y }, scalar: alpha);
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0 && beta != 0f)
            {
                string cName = node.Inputs[2];
                int c;
                if (_constants.TryGetValue(cName, out OnnxConstant? cc))
                {
                    if (cc.Floats is null) throw Unsupported(node, "C must be float32");
                    c = ConstantOperand(node, cName + (beta == 1f ? "" : "·β"), new OnnxConstant(cc.Dims, beta == 1f ? cc.Floats : cc.Floats.Select(v => v * beta).ToArray(), null), rank);
                }
                else
                {
                    // A bias given as an input ([N] or a scalar as [1]) broadcasts from the right, as ONNX aligns it.
                    c = Ranked(node, cName, rank);
                    if (beta != 1f) c = Record(node, OpKind.MulScalar, new[] { c }, scalar: beta);
                }
                y = Record(node, OpKind.Add, new[] { y, c });
            }
            _activations[Output(node)] = y;
            _ranks[Output(node)] = rank;
        }

        /// <summary>MatMul.</summary>
        private void LowerMatMul(OnnxNode node, string name)
        {
            string left = Input(node, 0), right = Input(node, 1);
            if (_constants.TryGetValue(right, out OnnxConstant? w) && w.Dims.Length == 2 && w.Floats is not null)
            {
                // x · W with W [in, out] is a Linear with weight Wᵀ; an Add of a bias right after (its only reader) joins it.
                OnnxConstant? bias = null;
                string output = Output(node);
                if (OnlyConsumer(_graph, output, out int next) is { OpType: "Add" } add && add.Inputs.Count == 2)
                {
                    string other = add.Inputs[0] == output ? add.Inputs[1] : add.Inputs[0];
                    if (_constants.TryGetValue(other, out OnnxConstant? b) && b.Floats is not null && b.Floats.Length == w.Dims[1]
                        && b.Dims.Take(b.Dims.Length - 1).All(d => d == 1))
                    {
                        bias = b;
                        output = add.Outputs[0];
                        _skip.Add(next);
                    }
                }
                Linear(node, output, name, TransposedMatrix(w), bias);
                return;
            }
            if (AttentionPattern(node, left, right)) return;
            Activation(node, Output(node), OpKind.MatMul, new[] { Act(node, left), Operand(node, right) }, RankOf(left));
        }

        /// <summary>
        /// CumSum along a constant axis (exclusive and reverse too): the running sums of a row of n are its product by a
        /// triangle of ones, [n, n] — a Linear on the packed GEMM kernel (n² multiply-adds a row instead of n, vectorized and
        /// fused, and no loop carried from one element to the next). Another axis than the last is permuted there and back.
        /// The triangle is a weight of n² floats, so n is at most 2,048.
        /// </summary>
        private void LowerCumSum(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            long[] axisValue = Const(node, Input(node, 1)).PlainLongs ?? throw Unsupported(node, "the axis must be an integer constant");
            if (axisValue.Length != 1) throw Unsupported(node, "the axis must be one integer");
            int axis = SampleAxis(node, axisValue[0], rank) - 1; // in the sample
            bool exclusive = IntAttribute(node, "exclusive", 0) != 0, reverse = IntAttribute(node, "reverse", 0) != 0;
            int[] sample = SampleShape(node, x);
            int n = sample[axis];
            if (n > 2048) throw Unsupported(node, $"a running sum over {n} values is not supported (at most 2,048: the sums are a product by an n × n triangle)");
            // Weight [out j, in i] = 1 where input i counts toward output j.
            var triangle = new float[n * n];
            for (int j = 0; j < n; j++)
                for (int i = 0; i < n; i++)
                    triangle[j * n + i] = (reverse ? (exclusive ? i > j : i >= j) : (exclusive ? i < j : i <= j)) ? 1f : 0f;
            int last = sample.Length - 1;
            int[] order = Enumerable.Range(0, sample.Length).Select(d => d == axis ? last : d == last ? axis : d).ToArray();
            int value = Act(node, x);
            if (axis != last) value = Record(node, OpKind.Permute, new[] { value }, settings: new PermuteSettings(order.ToEquatableArray()));
            _weights.Add(new(name + ".weight", new OnnxConstant(new long[] { n, n }, triangle, null)));
            value = Record(node, OpKind.Linear, new[] { value }, name);
            if (axis != last) value = Record(node, OpKind.Permute, new[] { value }, settings: new PermuteSettings(order.ToEquatableArray()));
            _activations[Output(node)] = value;
            _ranks[Output(node)] = rank;
        }

        /// <summary>QuantizeLinear.</summary>
        private void LowerQuantizeLinear(OnnxNode node, string name)
        {
            // On an activation (a QDQ model's activations, or the input of a MatMulInteger): the codes, as floats.
            string x = Input(node, 0);
            (float scale, long zero, OnnxDataType type) = QuantizationParameters(node, 1);
            if (node.Attributes.Any(a => a.Name == "output_dtype" && a.I != 0 && a.I != (long)type))
                throw Unsupported(node, "an output_dtype other than the zero point's type is not supported");
            (int low, int high) = type switch
            {
                OnnxDataType.UInt8 => (0, 255),
                OnnxDataType.Int8 => (-128, 127),
                OnnxDataType.UInt16 => (0, 65535),
                OnnxDataType.Int16 => (-32768, 32767),
                _ => throw Unsupported(node, $"codes of type {type} are not supported (uint8, int8, uint16, int16 are)"),
            };
            Activation(node, Output(node), OpKind.QuantizeLinear, new[] { Act(node, x) }, RankOf(x), scalar: scale, settings: new QuantizeCodes((int)zero, low, high));
        }

        /// <summary>DequantizeLinear.</summary>
        private void LowerDequantizeLinear(OnnxNode node, string name)
        {
            // Of an activation (of a constant it was folded above): (q − zero) · scale, as two fused steps.
            string x = Input(node, 0);
            (float scale, long zero, _) = QuantizationParameters(node, 1);
            int result = Act(node, x);
            if (zero != 0) result = Record(node, OpKind.AddScalar, new[] { result }, scalar: -zero);
            _activations[Output(node)] = Record(node, OpKind.MulScalar, new[] { result }, scalar: scale);
            _ranks[Output(node)] = RankOf(x);
        }

        /// <summary>MatMulInteger.</summary>
        private void LowerMatMulInteger(OnnxNode node, string name)
        {
            // Codes (an activation from QuantizeLinear) times integer weights, exactly: both shifted by their zero
            // points, the weights as floats; every product and sum is an integer below 2^24, so float is exact.
            string a = Input(node, 0);
            OnnxConstant b = Const(node, Input(node, 1));
            long[] codes = b.PlainLongs ?? throw Unsupported(node, "B must be an integer initializer");
            if (b.Dims.Length != 2) throw Unsupported(node, "B must be a matrix");
            int inputs = (int)b.Dims[0], outputs = (int)b.Dims[1];
            long zeroA = node.Inputs.Count > 2 && node.Inputs[2].Length > 0 ? Const(node, node.Inputs[2]).PlainLongs is { Length: 1 } za ? za[0] : throw Unsupported(node, "a_zero_point must be one integer") : 0;
            long[] zeroB = node.Inputs.Count > 3 && node.Inputs[3].Length > 0 ? Const(node, node.Inputs[3]).PlainLongs ?? throw Unsupported(node, "b_zero_point must be integers") : new long[] { 0 };
            if (zeroB.Length != 1 && zeroB.Length != outputs) throw Unsupported(node, "b_zero_point must be one value or one per output");
            var weight = new float[outputs * inputs];
            for (int o = 0; o < outputs; o++)
                for (int i = 0; i < inputs; i++) weight[o * inputs + i] = codes[(long)i * outputs + o] - zeroB[zeroB.Length == 1 ? 0 : o];
            int x = Act(node, a);
            if (zeroA != 0) x = Record(node, OpKind.AddScalar, new[] { x }, scalar: -zeroA);
            _weights.Add(new(name + ".weight", new OnnxConstant(new long[] { outputs, inputs }, weight, null)));
            Activation(node, Output(node), OpKind.Linear, new[] { x }, RankOf(a), name);
        }
    }
}
