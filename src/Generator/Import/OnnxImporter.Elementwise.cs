// ONNX operators of the elementwise family, each lowered onto the op catalogue's kinds (the table is OnnxImporter.Operators).
using System;
using System.Linq;
using ModelCompiler.Generator.Model;
using ModelCompiler.Generator.Ops;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>The catalogue's functions of one value named alike in ONNX (<see cref="OpCatalogue.ByOnnxName"/>): Relu, Sigmoid, Tanh, ….</summary>
        private void LowerByName(OnnxNode node, string name)
        {
            OpKind kind = OpCatalogue.ByOnnxName(node.OpType) ?? throw Unsupported(node, "it is not one of the catalogue's functions of one value");
            Activation(node, Output(node), kind, new[] { Act(node, Input(node, 0)) }, RankOf(Input(node, 0)));
        }

        /// <summary>Neg.</summary>
        private void LowerNeg(OnnxNode node, string name)
        {
            Activation(node, Output(node), OpKind.MulScalar, new[] { Act(node, Input(node, 0)) }, RankOf(Input(node, 0)), scalar: -1f);
        }

        /// <summary>Pow.</summary>
        private void LowerPow(OnnxNode node, string name)
        {
            // A constant exponent, as PyTorch exports x ** 2 (and the decomposed LayerNorm's variance): 1, 2, 3, ±0.5, −1
            // and −2 as products, square roots and reciprocals fused into the producer; anything else (another constant,
            // or a value of the graph) the Power kernel.
            string x = Input(node, 0);
            if (!_constants.TryGetValue(Input(node, 1), out OnnxConstant? exponent) || !_activations.ContainsKey(x)
                || (exponent.Count != 1 ? null : exponent.Floats is { } ef ? ef[0] : exponent.PlainLongs is { } el ? el[0] : (float?)null)
                    is not (1f or 2f or 3f or 0.5f or -1f or -0.5f or -2f))
            {
                LowerBinary(node, name);
                return;
            }
            float? e = exponent.Count != 1 ? null : exponent.Floats is { } f ? f[0] : exponent.PlainLongs is { } l ? l[0] : null;
            int a = Act(node, x);
            int result = e switch
            {
                1f => a,
                2f => Record(node, OpKind.Mul, new[] { a, a }),
                3f => Record(node, OpKind.Mul, new[] { Record(node, OpKind.Mul, new[] { a, a }), a }),
                0.5f => Record(node, OpKind.Sqrt, new[] { a }),
                -1f => Record(node, OpKind.Reciprocal, new[] { a }),
                -0.5f => Record(node, OpKind.Reciprocal, new[] { Record(node, OpKind.Sqrt, new[] { a }) }),
                -2f => Record(node, OpKind.Reciprocal, new[] { Record(node, OpKind.Mul, new[] { a, a }) }),
                _ => throw Unsupported(node, $"exponent {exponent.Describe()}: only a constant 1, 2, 3, 0.5, -0.5, -1 or -2 is supported"),
            };
            _activations[Output(node)] = result;
            _ranks[Output(node)] = RankOf(x);
        }

        /// <summary>HardSigmoid, HardSwish.</summary>
        private void LowerHardSigmoid(OnnxNode node, string name)
        {
            // clamp(alpha·x + beta, 0, 1), four fused steps; HardSwish (x times that with alpha 1/6, beta 1/2) one step of its own.
            string x = Input(node, 0);
            bool swish = node.OpType == "HardSwish";
            if (swish)
            {
                // One function of one value: it fuses into the store of the kernel that computes x.
                Activation(node, Output(node), OpKind.HardSwish, new[] { Act(node, Input(node, 0)) }, RankOf(Input(node, 0)));
                return;
            }
            float alpha = swish ? 1f / 6f : FloatAttribute(node, "alpha", 0.2f), beta = swish ? 0.5f : FloatAttribute(node, "beta", 0.5f);
            int a = Act(node, x);
            int gate = Record(node, OpKind.MulScalar, new[] { a }, scalar: alpha);
            gate = Record(node, OpKind.AddScalar, new[] { gate }, scalar: beta);
            gate = Record(node, OpKind.ClampMin, new[] { gate }, scalar: 0f);
            gate = Record(node, OpKind.ClampMax, new[] { gate }, scalar: 1f);
            _activations[Output(node)] = swish ? Record(node, OpKind.Mul, new[] { a, gate }) : gate;
            _ranks[Output(node)] = RankOf(x);
        }

        /// <summary>LeakyRelu.</summary>
        private void LowerLeakyRelu(OnnxNode node, string name)
        {
            Activation(node, Output(node), OpKind.LeakyRelu, new[] { Act(node, Input(node, 0)) }, RankOf(Input(node, 0)), scalar: FloatAttribute(node, "alpha", 0.01f));
        }

        /// <summary>Clip.</summary>
        private void LowerClip(OnnxNode node, string name)
        {
            // Opset 11 and later take min and max as optional inputs; earlier opsets as attributes. A bound known at build
            // time is a clamp fused into the producer; a bound that is a value of the graph (a model input) a Maximum or
            // Minimum broadcast against x, min first, so that max wins where min > max, as ONNX Runtime has it.
            string x = Input(node, 0);
            int rank = RankOf(x);
            int result = Act(node, x);
            foreach ((int input, string attribute, bool lower) in new[] { (1, "min", true), (2, "max", false) })
            {
                float bound = lower ? float.NegativeInfinity : float.PositiveInfinity;
                if (_model.DefaultOpset < 11) bound = FloatAttribute(node, attribute, bound);
                else if (input < node.Inputs.Count && node.Inputs[input].Length > 0)
                {
                    string given = node.Inputs[input];
                    if (!_constants.TryGetValue(given, out OnnxConstant? c))
                    {
                        if (RankOf(given) > rank) throw Unsupported(node, $"'{given}' must be a scalar");
                        result = Record(node, lower ? OpKind.Maximum : OpKind.Minimum, new[] { result, Ranked(node, given, rank) });
                        continue;
                    }
                    bound = c.Floats is { Length: 1 } f ? f[0] : throw Unsupported(node, $"'{given}' must be a float32 scalar");
                }
                if (!float.IsInfinity(bound)) result = Record(node, lower ? OpKind.ClampMin : OpKind.ClampMax, new[] { result }, scalar: bound);
            }
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>Gelu.</summary>
        private void LowerGelu(OnnxNode node, string name)
        {
            string approximate = Text(node, "approximate", "none");
            if (approximate is not ("none" or "tanh")) throw Unsupported(node, $"approximate = '{approximate}'");
            Activation(node, Output(node), approximate == "tanh" ? OpKind.GeluTanh : OpKind.Gelu, new[] { Act(node, Input(node, 0)) }, RankOf(Input(node, 0)));
        }

        /// <summary>Add, Mul, Sub, Div (of integers: the quotient truncated toward zero, as ONNX Runtime's).</summary>
        private void LowerArithmetic(OnnxNode node, string name)
        {
            if (node.OpType == "Div" && GeluPattern(_graph, _index, _skip)) return;
            if (node.OpType == "Add" && HardSwishPattern(_graph, _index, _skip)) return;
            Binary(node, Output(node));
            if (node.OpType == "Div" && IsIntegral(Input(node, 0)) && IsIntegral(Input(node, 1)))
                _activations[Output(node)] = Truncated(node, _activations[Output(node)]);
        }

        /// <summary>Elu, Selu (Elu times gamma), Celu (Elu of x / alpha, times alpha), ThresholdedRelu, Shrink: fused steps with attributes.</summary>
        private void LowerElu(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int a = Act(node, x), result;
            switch (node.OpType)
            {
                case "Selu":
                    result = Record(node, OpKind.Elu, new[] { a }, scalar: FloatAttribute(node, "alpha", 1.67326319217681884765625f));
                    result = Record(node, OpKind.MulScalar, new[] { result }, scalar: FloatAttribute(node, "gamma", 1.05070102214813232421875f));
                    break;
                case "Celu":
                {
                    float alpha = FloatAttribute(node, "alpha", 1f);
                    if (!(alpha != 0f) || float.IsInfinity(alpha)) throw Unsupported(node, $"alpha {alpha} is not a finite, nonzero number");
                    result = Record(node, OpKind.MulScalar, new[] { a }, scalar: 1f / alpha);
                    result = Record(node, OpKind.Elu, new[] { result }, scalar: 1f);
                    result = Record(node, OpKind.MulScalar, new[] { result }, scalar: alpha);
                    break;
                }
                case "ThresholdedRelu":
                    result = Record(node, OpKind.ThresholdedRelu, new[] { a }, scalar: FloatAttribute(node, "alpha", 1f));
                    break;
                case "Shrink":
                    result = Record(node, OpKind.Shrink, new[] { a }, scalar: FloatAttribute(node, "lambd", 0.5f),
                        settings: new ShrinkSettings(FloatAttribute(node, "bias", 0f)));
                    break;
                default:
                    result = Record(node, OpKind.Elu, new[] { a }, scalar: FloatAttribute(node, "alpha", 1f));
                    break;
            }
            _activations[Output(node)] = result;
            _ranks[Output(node)] = RankOf(x);
        }

        /// <summary>PRelu: x where x ≥ 0, else slope · x, the slope (a constant or a value) broadcast over x: Relu(x) + min(x, 0) · slope.</summary>
        private void LowerPRelu(OnnxNode node, string name)
        {
            string x = Input(node, 0), slope = Input(node, 1);
            int rank = Math.Max(RankOf(x), RankOf(slope));
            int a = Ranked(node, x, rank);
            int positive = Record(node, OpKind.Relu, new[] { a });
            int negative = Record(node, OpKind.ClampMax, new[] { a }, scalar: 0f);
            // The slope is a weight when it is known at build time, else a value of the graph (a model input) broadcast alike.
            // Before opset 7 (PRelu-6, as PyTorch's early exports write nn.PReLU(C)) a slope of C values is one per channel,
            // dimension 1, not NumPy-aligned from the right: it becomes [C, 1, …, 1].
            int slopeOperand;
            if (_constants.TryGetValue(slope, out OnnxConstant? c) && _model.DefaultOpset < 7 && c.Dims.Length == 1 && c.Count > 1 && RankOf(x) - Lead >= 2)
                slopeOperand = ConstantOperand(node, slope, c.Reshaped(new[] { c.Dims[0] }.Concat(Enumerable.Repeat(1L, RankOf(x) - Lead - 2)).ToArray()), rank);
            else
                slopeOperand = _constants.ContainsKey(slope) ? ConstantOperand(node, slope, rank) : Ranked(node, slope, rank);
            int scaled = Record(node, OpKind.Mul, new[] { negative, slopeOperand });
            Activation(node, Output(node), OpKind.Add, new[] { positive, scaled }, rank);
        }

        /// <summary>
        /// Max, Min, Sum, Mean of any number of inputs, broadcasting: a chain of pairs (Mean: the sum, then × 1/n). A scalar
        /// constant becomes a limit (Max) or an added constant (Sum) fused into the producer; a tensor constant a weight.
        /// </summary>
        private void LowerVariadic(OnnxNode node, string name)
        {
            string[] inputs = node.Inputs.Where(i => i.Length > 0).ToArray();
            if (inputs.Length == 0) throw Unsupported(node, "it has no input");
            if (inputs.All(_constants.ContainsKey)) throw Unsupported(node, "every input is a constant");
            OpKind pair = node.OpType switch { "Max" => OpKind.Maximum, "Min" => OpKind.Minimum, _ => OpKind.Add };
            int rank = inputs.Max(RankOf);
            int start = Array.FindIndex(inputs, i => !_constants.ContainsKey(i));
            int result = Ranked(node, inputs[start], rank);
            for (int k = 0; k < inputs.Length; k++)
            {
                if (k == start) continue;
                string other = inputs[k];
                if (_constants.TryGetValue(other, out OnnxConstant? c) && c.Floats is { Length: 1 } scalar)
                {
                    result = Record(node, pair switch { OpKind.Maximum => OpKind.ClampMin, OpKind.Minimum => OpKind.ClampMax, _ => OpKind.AddScalar }, new[] { result }, scalar: scalar[0]);
                    continue;
                }
                int operand = _constants.ContainsKey(other) ? ConstantOperand(node, other, rank) : Ranked(node, other, rank);
                result = Record(node, pair, new[] { result, operand });
            }
            if (node.OpType == "Mean" && inputs.Length > 1) result = Record(node, OpKind.MulScalar, new[] { result }, scalar: 1f / inputs.Length);
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>A broadcasting op of two operands, each an activation (ranked alike) or a constant (a weight).</summary>
        private int Pair(OnnxNode node, OpKind kind, string a, string b, int rank, OpSettings? settings = null)
        {
            if (_constants.ContainsKey(a) && _constants.ContainsKey(b)) throw Unsupported(node, "both operands are constants");
            int Operand(string value) => _constants.ContainsKey(value) ? ConstantOperand(node, value, rank) : Ranked(node, value, rank);
            return Record(node, kind, new[] { Operand(a), Operand(b) }, settings: settings);
        }

        /// <summary>
        /// Greater, Less, GreaterOrEqual, LessOrEqual, Equal (1 where true, 0 where false: ONNX's bool as float32), Xor
        /// (not equal), And (a product of 0s and 1s), Or (the larger), Mod (fmod = 1: C's fmod; 0: Python's %, as ONNX
        /// has it for integers), and Pow of two values: one broadcasting kernel each.
        /// </summary>
        private void LowerBinary(OnnxNode node, string name)
        {
            string a = Input(node, 0), b = Input(node, 1);
            int rank = Math.Max(RankOf(a), RankOf(b));
            (OpKind kind, BinaryFunction function) = node.OpType switch
            {
                "Greater" => (OpKind.Binary, BinaryFunction.Greater),
                "Less" => (OpKind.Binary, BinaryFunction.Less),
                "GreaterOrEqual" => (OpKind.Binary, BinaryFunction.GreaterOrEqual),
                "LessOrEqual" => (OpKind.Binary, BinaryFunction.LessOrEqual),
                "Equal" => (OpKind.Binary, BinaryFunction.Equal),
                "Xor" => (OpKind.Binary, BinaryFunction.NotEqual),
                "And" => (OpKind.Mul, BinaryFunction.Power),
                "Or" => (OpKind.Maximum, BinaryFunction.Power),
                "Mod" => (OpKind.Binary, IntAttribute(node, "fmod", 0) != 0 ? BinaryFunction.Remainder : BinaryFunction.FloorRemainder),
                _ => (OpKind.Binary, BinaryFunction.Power),
            };
            if (node.OpType == "Mod" && IntAttribute(node, "fmod", 0) == 0 && !(IsIntegral(a) && IsIntegral(b)))
                throw Unsupported(node, "Mod of floats needs fmod = 1");
            _activations[Output(node)] = Pair(node, kind, a, b, rank, kind == OpKind.Binary ? new BinarySettings(function) : null);
            _ranks[Output(node)] = rank;
        }

        /// <summary>Not: 1 − x, fused steps.</summary>
        private void LowerNot(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int negated = Record(node, OpKind.MulScalar, new[] { Act(node, x) }, scalar: -1f);
            Activation(node, Output(node), OpKind.AddScalar, new[] { negated }, RankOf(x), scalar: 1f);
        }

        /// <summary>
        /// Where(c, x, y): (c ≠ 0 ? x : 0) + (c ≠ 0 ? 0 : y), two broadcasting kernels and their sum, which is exactly x or
        /// y (a product like c · x + (1 − c) · y would turn an infinite x or y into NaN, and Where(mask, x, −∞) is how
        /// attention masks are written).
        /// </summary>
        private void LowerWhere(OnnxNode node, string name)
        {
            string c = Input(node, 0), x = Input(node, 1), y = Input(node, 2);
            int rank = new[] { c, x, y }.Max(RankOf);
            int kept = Pair(node, OpKind.Binary, c, x, rank, new BinarySettings(BinaryFunction.Keep));
            int dropped = Pair(node, OpKind.Binary, c, y, rank, new BinarySettings(BinaryFunction.Drop));
            Activation(node, Output(node), OpKind.Add, new[] { kept, dropped }, rank);
        }

        /// <summary>A constant operand of a broadcasting op: a weight, its leading 1s (where a batch dimension would be) dropped.</summary>
        private int ConstantOperand(OnnxNode node, string value, int rank) => ConstantOperand(node, value, Const(node, value), rank);

        /// <summary>A constant operand made at build time (a transposed or scaled initializer), named after where it came from.</summary>
        private int ConstantOperand(OnnxNode node, string value, OnnxConstant c, int rank)
        {
            c = AsFloats(c);
            if (c.Floats is null) throw Unsupported(node, $"constant '{value}' must be float32");
            long[] dims = c.Dims.SkipWhile((d, i) => d == 1 && c.Dims.Length - i >= rank).ToArray();
            return Parameter(node, value, c.Reshaped(dims));
        }
    }
}
