// ONNX's recurrent operators (RNN, GRU, LSTM), unrolled over a sequence length known at build time onto the op
// catalogue's kinds (the table is OnnxImporter.Operators).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>The most time steps × directions a recurrent node is unrolled into: each step is a few dozen ops.</summary>
        private const int MaxRecurrentSteps = 4096;

        /// <summary>
        /// RNN, GRU and LSTM as the ONNX spec writes their equations (forward, reverse or bidirectional; layout 0 or 1;
        /// initial states; LSTM peepholes; GRU's linear_before_reset; cell clip), unrolled over the sequence, whose length
        /// is fixed at build time. The input projection of every step is one GEMM up front (a Linear over the whole
        /// sequence, both biases folded into it); each step is one packed GEMM of the hidden state by all gates' recurrent
        /// weights (R, [gates·hidden, hidden]: the gates side by side), then the gates' slices, activations and products.
        /// Weights given as model inputs (the conformance suite's) become MatMuls of values instead of Linear layers.
        /// The same structure as ONNX Runtime's DeepCpuLstm and DeepCpuGru kernels (onnxruntime/core/providers/cpu/rnn),
        /// which also compute the input projection for the whole sequence first.
        /// </summary>
        private void LowerRecurrent(OnnxNode node, string name)
        {
            string op = node.OpType;
            int gates = op switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
            string x = Input(node, 0);
            int rank = RankOf(x);
            long layout = IntAttribute(node, "layout", 0);
            if (layout is not (0 or 1)) throw Unsupported(node, $"layout {layout}");
            // The sequence's axis (of the compiler's value, batch included): with layout 0 it is the file's first, which
            // only a graph compiled whole has inside a sample.
            int seqAxis = (int)layout + Lead;
            if (rank - Lead != 3) throw Unsupported(node, $"X must be [sequence, batch, input] (layout 0) or [batch, sequence, input] (layout 1), not of rank {rank - Lead}");
            if (seqAxis < 1)
                throw Unsupported(node, "with layout 0, X's first dimension is the sequence, not a batch: fix every dimension of the inputs at build time (Dims in [CompileModel]) so that the graph is compiled whole");
            int[] xShape = SampleShape(node, x);
            int steps = xShape[seqAxis - 1], inputs = xShape[xShape.Length - 1];
            string direction = Text(node, "direction", "forward");
            int directions = direction switch { "forward" or "reverse" => 1, "bidirectional" => 2, _ => throw Unsupported(node, $"direction '{direction}'") };
            if (checked(steps * directions) > MaxRecurrentSteps)
                throw Unsupported(node, $"{steps} steps × {directions} directions: a recurrent node is unrolled at build time, into at most {MaxRecurrentSteps} steps");
            if (IntAttribute(node, "input_forget", 0) != 0) throw Unsupported(node, "input_forget (coupled input and forget gates) is not supported");
            if (node.Inputs.Count > 4 && node.Inputs[4].Length > 0)
            {
                // sequence_lens: only one that covers the whole sequence in every batch entry, which changes nothing.
                OnnxConstant lengths = Const(node, node.Inputs[4]);
                if (lengths.PlainLongs is not { } l || l.Any(v => v != steps))
                    throw Unsupported(node, $"sequence_lens {lengths.Describe()}: only the full length ({steps}) in every entry is supported");
            }

            string wName = Input(node, 1), rName = Input(node, 2);
            long hidden = IntAttribute(node, "hidden_size", -1);
            if (hidden <= 0 && _constants.TryGetValue(rName, out OnnxConstant? rc) && rc.Dims.Length == 3) hidden = rc.Dims[2];
            if (hidden <= 0 && !_constants.ContainsKey(rName) && _ranks.ContainsKey(rName)) { int[] rs = SampleShape(node, rName); hidden = rs[rs.Length - 1]; }
            if (hidden is <= 0 or > int.MaxValue) throw Unsupported(node, "hidden_size must be a positive number");
            int h = (int)hidden, gh = checked(gates * h);
            float clip = FloatAttribute(node, "clip", float.PositiveInfinity);
            if (!(clip > 0f)) throw Unsupported(node, $"clip {clip} must be positive");
            string[] activations = Activations(node, op, directions);
            bool linearBeforeReset = op == "GRU" && IntAttribute(node, "linear_before_reset", 0) != 0;

            var weights = new RecurrentWeights(this, node, name, x, seqAxis, gates, h, inputs, directions, linearBeforeReset);
            int stateRank = rank - 1;
            // One state per direction and the hidden state of every step, in time order, for Y.
            var finalH = new int[directions];
            var finalC = new int[directions];
            var outputs = new List<int>[directions];
            for (int d = 0; d < directions; d++)
            {
                bool reverse = direction == "reverse" || d == 1;
                int? hState = InitialState(node, 5, d, seqAxis), cState = op == "LSTM" ? InitialState(node, 6, d, seqAxis) : null;
                string f = activations[d * ActivationCount(op)];
                outputs[d] = new List<int>(new int[steps]);
                for (int s = 0; s < steps; s++)
                {
                    int t = reverse ? steps - 1 - s : s;
                    int projected = weights.Input(d, t);
                    int? recurrent = hState is { } hv ? weights.Hidden(d, hv) : null;
                    // The gate (columns [g·h, (g+1)·h)) of a value holding every gate side by side.
                    int Gate(int value, int g) => Record(node, OpKind.Slice, new[] { value }, settings: new SliceSettings(stateRank - 2, g * h, (g + 1) * h, SliceOrigin.Exact));
                    int Sum(int a, int? b) => b is { } bv ? Record(node, OpKind.Add, new[] { a, bv }) : a;
                    int Activate(string function, int value)
                    {
                        if (!float.IsPositiveInfinity(clip))
                        {
                            value = Record(node, OpKind.ClampMin, new[] { value }, scalar: -clip);
                            value = Record(node, OpKind.ClampMax, new[] { value }, scalar: clip);
                        }
                        return Record(node, Function(function), new[] { value });
                    }
                    switch (op)
                    {
                        case "RNN":
                            hState = Activate(f, Sum(projected, recurrent));
                            break;
                        case "GRU":
                        {
                            string g = activations[d * 2 + 1];
                            int z = Activate(f, Sum(Gate(projected, 0), recurrent is { } r0 ? Gate(r0, 0) : null));
                            int r = Activate(f, Sum(Gate(projected, 1), recurrent is { } r1 ? Gate(r1, 1) : null));
                            int? candidateRecurrent;
                            if (linearBeforeReset)
                                // r ⊙ (H·Rhᵀ + Rbh): with no state yet, r ⊙ Rbh.
                                candidateRecurrent = recurrent is { } r2 ? Record(node, OpKind.Mul, new[] { r, weights.WithResetBias(d, Gate(r2, 2)) }) : weights.ResetBias(d, r);
                            else
                                // (r ⊙ H)·Rhᵀ (Rbh is in the input projection): nothing with no state yet.
                                candidateRecurrent = hState is { } hv2 ? weights.Candidate(d, Record(node, OpKind.Mul, new[] { r, hv2 })) : null;
                            int candidate = Activate(g, Sum(Gate(projected, 2), candidateRecurrent));
                            // H = (1 − z) ⊙ candidate + z ⊙ H.
                            int keep = Record(node, OpKind.MulScalar, new[] { z }, scalar: -1f);
                            keep = Record(node, OpKind.AddScalar, new[] { keep }, scalar: 1f);
                            int next = Record(node, OpKind.Mul, new[] { keep, candidate });
                            hState = hState is { } previous ? Record(node, OpKind.Add, new[] { next, Record(node, OpKind.Mul, new[] { z, previous }) }) : next;
                            break;
                        }
                        default:
                        {
                            // LSTM: gates i, o, f, c in W, R and B; peepholes i, o, f in P.
                            string g = activations[d * 3 + 1], hf = activations[d * 3 + 2];
                            int Pre(int gate) => Sum(Gate(projected, gate), recurrent is { } rv ? Gate(rv, gate) : null);
                            int ig = Pre(0), fg = Pre(2);
                            if (cState is { } c0)
                            {
                                ig = weights.Peephole(d, 0, ig, c0);
                                fg = weights.Peephole(d, 2, fg, c0);
                            }
                            int i = Activate(f, ig), candidate = Activate(g, Pre(3));
                            int cell = Record(node, OpKind.Mul, new[] { i, candidate });
                            if (cState is { } c1) cell = Record(node, OpKind.Add, new[] { Record(node, OpKind.Mul, new[] { Activate(f, fg), c1 }), cell });
                            int o = Activate(f, weights.Peephole(d, 1, Pre(1), cell));
                            hState = Record(node, OpKind.Mul, new[] { o, Record(node, Function(hf), new[] { cell }) });
                            cState = cell;
                            break;
                        }
                    }
                    outputs[d][t] = hState!.Value;
                }
                finalH[d] = hState!.Value;
                finalC[d] = cState ?? -1;
            }

            // Y [sequence, directions, batch, hidden] (layout 1: [batch, sequence, directions, hidden]); Y_h and Y_c
            // [directions, batch, hidden] (layout 1: [batch, directions, hidden]).
            int Unsqueezed(int value, int axis) => Record(node, OpKind.Unsqueeze, new[] { value }, settings: new AxisSettings(axis - 1));
            int Joined(IReadOnlyList<int> parts, int axis) => ConcatTree(node, parts, axis - 1);
            if (node.Outputs.Count > 0 && node.Outputs[0].Length > 0)
            {
                int y = Joined(Enumerable.Range(0, directions).Select(d =>
                    Joined(outputs[d].Select(v => Unsqueezed(Unsqueezed(v, seqAxis), seqAxis + 1)).ToList(), seqAxis)).ToList(), seqAxis + 1);
                _activations[node.Outputs[0]] = y;
                _ranks[node.Outputs[0]] = rank + 1;
            }
            if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0)
            {
                _activations[node.Outputs[1]] = Joined(finalH.Select(v => Unsqueezed(v, seqAxis)).ToList(), seqAxis);
                _ranks[node.Outputs[1]] = rank;
            }
            if (op == "LSTM" && node.Outputs.Count > 2 && node.Outputs[2].Length > 0)
            {
                _activations[node.Outputs[2]] = Joined(finalC.Select(v => Unsqueezed(v, seqAxis)).ToList(), seqAxis);
                _ranks[node.Outputs[2]] = rank;
            }
        }

        /// <summary>A recurrent activation's op (the names <see cref="Activations"/> accepts).</summary>
        private static OpKind Function(string name) => name switch
        {
            "Sigmoid" => OpKind.Sigmoid,
            "Relu" => OpKind.Relu,
            "Softsign" => OpKind.Softsign,
            "Softplus" => OpKind.Softplus,
            _ => OpKind.Tanh,
        };

        private static int ActivationCount(string op) => op switch { "LSTM" => 3, "GRU" => 2, _ => 1 };

        /// <summary>The activations per direction (f, then g, then h), as the catalogue's kinds; the spec's defaults when none are given.</summary>
        private string[] Activations(OnnxNode node, string op, int directions)
        {
            int count = ActivationCount(op);
            string[] defaults = op switch { "LSTM" => new[] { "Sigmoid", "Tanh", "Tanh" }, "GRU" => new[] { "Sigmoid", "Tanh" }, _ => new[] { "Tanh" } };
            OnnxAttribute? given = node.Attributes.FirstOrDefault(a => a.Name == "activations");
            string[] names = given is null || given.Strings.Count == 0
                ? Enumerable.Range(0, directions).SelectMany(_ => defaults).ToArray()
                : given.Strings.Select(s => Encoding.UTF8.GetString(s)).ToArray();
            if (names.Length == count && directions == 2) names = names.Concat(names).ToArray();
            if (names.Length != count * directions) throw Unsupported(node, $"{names.Length} activations where {count * directions} are expected");
            if (node.Attributes.Any(a => a.Name is "activation_alpha" or "activation_beta"))
                throw Unsupported(node, "activation_alpha and activation_beta (activations with parameters) are not supported");
            foreach (string n in names)
                if (n is not ("Sigmoid" or "Tanh" or "Relu" or "Softsign" or "Softplus"))
                    throw Unsupported(node, $"activation '{n}': Sigmoid, Tanh, Relu, Softsign and Softplus are supported");
            return names;
        }

        /// <summary>
        /// An initial state (input <paramref name="input"/>: initial_h or initial_c) for direction <paramref name="d"/>,
        /// shaped as a state ([batch, hidden] of the value); null when absent or all zeros, which the first step skips.
        /// </summary>
        private int? InitialState(OnnxNode node, int input, int d, int seqAxis)
        {
            if (input >= node.Inputs.Count || node.Inputs[input].Length == 0) return null;
            string value = node.Inputs[input];
            if (_constants.TryGetValue(value, out OnnxConstant? c))
            {
                if (c.Floats is null || c.Dims.Length != 3) throw Unsupported(node, $"'{value}' must be a float32 [directions, batch, hidden] tensor");
                if (c.Floats.All(v => v == 0f)) return null;
                throw Unsupported(node, $"'{value}': an initial state known at build time must be zeros (or given as a model input)");
            }
            int slice = Record(node, OpKind.Slice, new[] { Act(node, value) }, settings: new SliceSettings(seqAxis - 1, d, d + 1, SliceOrigin.Exact));
            return Record(node, OpKind.Squeeze, new[] { slice }, settings: new AxisSettings(seqAxis - 1));
        }

        /// <summary>
        /// A recurrent node's weights, per direction: W, R, B and P as Linear layers and weights where they are known at
        /// build time, else as values of the graph sliced once per direction.
        /// </summary>
        private sealed class RecurrentWeights
        {
            private readonly Lowering _l;
            private readonly OnnxNode _node;
            private readonly string _name, _x;
            private readonly int _seqAxis, _gates, _h, _inputs;
            private readonly bool _linearBeforeReset;
            private readonly OnnxConstant? _w, _r, _b, _p;
            private readonly int[] _projection; // constant W: the input projection of the whole sequence, per direction
            private readonly int[] _wT, _rT, _rCandidateT, _bias, _resetBias; // weights or values of the graph, per direction (−1: none)
            private readonly int[,] _peepholes; // per direction and gate (input, output, forget)
            private readonly bool[] _resetBiasInGemm;
            private readonly Dictionary<(int, int), int> _steps = new();

            public RecurrentWeights(Lowering l, OnnxNode node, string name, string x, int seqAxis, int gates, int h, int inputs, int directions, bool linearBeforeReset)
            {
                _l = l; _node = node; _name = name; _x = x; _seqAxis = seqAxis; _gates = gates; _h = h; _inputs = inputs; _linearBeforeReset = linearBeforeReset;
                int gh = gates * h;
                _w = Known(1, new long[] { directions, gh, inputs });
                _r = Known(2, new long[] { directions, gh, h });
                _b = node.Inputs.Count > 3 && node.Inputs[3].Length > 0 ? Known(3, new long[] { directions, 2L * gh }) : null;
                _p = gates == 4 && node.Inputs.Count > 7 && node.Inputs[7].Length > 0 ? Known(7, new long[] { directions, 3L * h }) : null;
                bool runtime = _w is null || _r is null || _b is null && Present(3) || _p is null && Present(7) && gates == 4;
                if (runtime && l.Lead == 0)
                    throw l.Unsupported(node, "weights given as model inputs are supported only where the graph is compiled whole (every dimension of its inputs fixed)");
                _projection = Enumerable.Repeat(-1, directions).ToArray();
                _wT = Enumerable.Repeat(-1, directions).ToArray();
                _rT = Enumerable.Repeat(-1, directions).ToArray();
                _rCandidateT = Enumerable.Repeat(-1, directions).ToArray();
                _bias = Enumerable.Repeat(-1, directions).ToArray();
                _resetBias = Enumerable.Repeat(-1, directions).ToArray();
                _peepholes = new int[directions, 3];
                for (int d = 0; d < directions; d++) for (int g = 0; g < 3; g++) _peepholes[d, g] = -1;
                _resetBiasInGemm = new bool[directions];
                for (int d = 0; d < directions; d++) Prepare(d);
            }

            private bool Present(int input) => input < _node.Inputs.Count && _node.Inputs[input].Length > 0;

            /// <summary>Input <paramref name="input"/> when known at build time (checked against its expected dims), else null (a value of the graph).</summary>
            private OnnxConstant? Known(int input, long[] dims)
            {
                string value = _node.Inputs[input];
                if (!_l._constants.TryGetValue(value, out OnnxConstant? c))
                {
                    int[] shape = _l.SampleShape(_node, value);
                    if (_l.RankOf(value) - _l.Lead != dims.Length || !shape.Skip(shape.Length - dims.Length).Select(v => (long)v).SequenceEqual(dims))
                        throw _l.Unsupported(_node, $"'{value}' must be [{string.Join(", ", dims)}]");
                    return null;
                }
                if (c.Floats is null || !c.Dims.SequenceEqual(dims)) throw _l.Unsupported(_node, $"'{value}' must be float32 [{string.Join(", ", dims)}], not {(c.Floats is null ? "integers" : "[" + string.Join(", ", c.Dims) + "]")}");
                return c;
            }

            /// <summary><see cref="Rows"/> as a weight of <paramref name="dims"/>, still lying where the file keeps it.</summary>
            private OnnxConstant Weight(long[] dims, OnnxConstant c, int d, long offset, long count) =>
                new(dims, Rows(c, d, offset, count), null) { Origin = c.Origin?.Slice(checked(d * (c.Count / c.Dims[0]) + offset), count) };

            private float[] Rows(OnnxConstant c, int d, long offset, long count)
            {
                long per = c.Count / c.Dims[0];
                var rows = new float[count];
                Array.Copy(c.Floats!, checked(d * per + offset), rows, 0, count);
                return rows;
            }

            /// <summary>A value of the graph's direction <paramref name="d"/> (its first file dimension), the direction dropped.</summary>
            private int Direction(int input, int d)
            {
                int slice = _l.Record(_node, OpKind.Slice, new[] { _l.Act(_node, _node.Inputs[input]) }, settings: new SliceSettings(0, d, d + 1, SliceOrigin.Exact));
                return _l.Record(_node, OpKind.Squeeze, new[] { slice }, settings: new AxisSettings(0));
            }

            private int Transposed(int value) => _l.Record(_node, OpKind.Permute, new[] { value }, settings: new PermuteSettings(new EquatableArray<int>(new[] { 1, 0 })));

            private int Columns(int value, int axis, int start, int end) => _l.Record(_node, OpKind.Slice, new[] { value }, settings: new SliceSettings(axis, start, end, SliceOrigin.Exact));

            private string Layer(string part, int d) => $"{_name}.{part}{d.ToString(CultureInfo.InvariantCulture)}";

            private void Prepare(int d)
            {
                int gh = _gates * _h;
                bool gru = _gates == 3;
                if (_w is not null && (_b is not null || !Present(3)))
                {
                    // One Linear over the whole sequence: x·Wᵀ + Wb + Rb (GRU: Rb of the candidate stays out, inside the reset
                    // gate's product, when linear_before_reset).
                    var bias = new float[gh];
                    if (_b is not null)
                    {
                        float[] wb = Rows(_b, d, 0, gh), rb = Rows(_b, d, gh, gh);
                        for (int k = 0; k < gh; k++) bias[k] = wb[k] + (gru && _linearBeforeReset && k >= 2 * _h ? 0f : rb[k]);
                    }
                    string layer = Layer("W", d);
                    _l._weights.Add(new(layer + ".weight", Weight(new long[] { gh, _inputs }, _w, d, 0, (long)gh * _inputs)));
                    _l._weights.Add(new(layer + ".bias", new OnnxConstant(new long[] { gh }, bias, null)));
                    _projection[d] = _l.Record(_node, OpKind.Linear, new[] { _l.Act(_node, _x) }, layer);
                }
                else
                {
                    _wT[d] = _w is not null
                        ? _l.Parameter(_node, Layer("Wᵀ", d), new OnnxConstant(new long[] { _inputs, gh }, Transpose(Rows(_w, d, 0, (long)gh * _inputs), gh, _inputs), null))
                        : Transposed(Direction(1, d));
                    if (_b is not null)
                    {
                        float[] wb = Rows(_b, d, 0, gh), rb = Rows(_b, d, gh, gh);
                        _bias[d] = _l.Parameter(_node, Layer("B", d), new OnnxConstant(new long[] { gh },
                            wb.Select((v, k) => v + (gru && _linearBeforeReset && k >= 2 * _h ? 0f : rb[k])).ToArray(), null));
                    }
                    else if (Present(3))
                    {
                        // Wb + Rb as one value (GRU with linear_before_reset: Rb of the candidate apart).
                        int b = Direction(3, d);
                        int wb = Columns(b, 0, 0, gh), rb = Columns(b, 0, gh, 2 * gh);
                        if (gru && _linearBeforeReset)
                        {
                            int zr = _l.Record(_node, OpKind.Add, new[] { Columns(wb, 0, 0, 2 * _h), Columns(rb, 0, 0, 2 * _h) });
                            _bias[d] = _l.Record(_node, OpKind.Concat, new[] { zr, Columns(wb, 0, 2 * _h, gh) }, settings: new AxisSettings(0));
                        }
                        else _bias[d] = _l.Record(_node, OpKind.Add, new[] { wb, rb });
                    }
                }
                if (gru && _linearBeforeReset && Present(3))
                    _resetBias[d] = _b is not null
                        ? _l.Parameter(_node, Layer("Rbh", d), new OnnxConstant(new long[] { _h }, Rows(_b, d, gh + 2L * _h, _h), null))
                        : Columns(Direction(3, d), 0, gh + 2 * _h, 2 * gh);
                _resetBiasInGemm[d] = _r is not null && _b is not null;

                // R: all gates packed in one GEMM per step, except GRU's candidate without linear_before_reset, whose
                // product is (r ⊙ H)·Rhᵀ, after the reset gate.
                int packed = gru && !_linearBeforeReset ? 2 * _h : gh;
                if (_r is not null)
                {
                    string layer = Layer("R", d);
                    _l._weights.Add(new(layer + ".weight", Weight(new long[] { packed, _h }, _r, d, 0, (long)packed * _h)));
                    if (gru && _linearBeforeReset && _b is not null)
                    {
                        var bias = new float[gh];
                        Array.Copy(Rows(_b, d, gh + 2L * _h, _h), 0, bias, 2 * _h, _h);
                        _l._weights.Add(new(layer + ".bias", new OnnxConstant(new long[] { gh }, bias, null)));
                    }
                    if (packed != gh)
                        _l._weights.Add(new(Layer("Rh", d) + ".weight", Weight(new long[] { _h, _h }, _r, d, (long)packed * _h, (long)_h * _h)));
                }
                else
                {
                    int rT = Transposed(Direction(2, d));
                    _rT[d] = packed == gh ? rT : Columns(rT, 1, 0, packed);
                    if (packed != gh) _rCandidateT[d] = Columns(rT, 1, packed, gh);
                }
                for (int g = 0; g < 3 && _gates == 4 && Present(7); g++)
                    _peepholes[d, g] = _p is not null
                        ? _l.Parameter(_node, Layer("P", d) + "." + "iof"[g], new OnnxConstant(new long[] { _h }, Rows(_p, d, (long)g * _h, _h), null))
                        : Columns(Direction(7, d), 0, g * _h, (g + 1) * _h);
            }

            /// <summary>x_t·Wᵀ plus the biases, for direction <paramref name="d"/> at step <paramref name="t"/>: every gate side by side.</summary>
            public int Input(int d, int t)
            {
                if (_projection[d] >= 0)
                {
                    int slice = _l.Record(_node, OpKind.Slice, new[] { _projection[d] }, settings: new SliceSettings(_seqAxis - 1, t, t + 1, SliceOrigin.Exact));
                    return _l.Record(_node, OpKind.Squeeze, new[] { slice }, settings: new AxisSettings(_seqAxis - 1));
                }
                if (!_steps.TryGetValue((-1, t), out int xt))
                {
                    int slice = _l.Record(_node, OpKind.Slice, new[] { _l.Act(_node, _x) }, settings: new SliceSettings(_seqAxis - 1, t, t + 1, SliceOrigin.Exact));
                    _steps[(-1, t)] = xt = _l.Record(_node, OpKind.Squeeze, new[] { slice }, settings: new AxisSettings(_seqAxis - 1));
                }
                int projected = _l.Record(_node, OpKind.MatMul, new[] { xt, _wT[d] });
                return _bias[d] >= 0 ? _l.Record(_node, OpKind.Add, new[] { projected, Broadcast(_bias[d]) }) : projected;
            }

            /// <summary>H·Rᵀ, every packed gate side by side (with GRU's candidate bias when linear_before_reset).</summary>
            public int Hidden(int d, int state)
            {
                if (_r is not null) return _l.Record(_node, OpKind.Linear, new[] { state }, Layer("R", d));
                return _l.Record(_node, OpKind.MatMul, new[] { state, _rT[d] });
            }

            /// <summary>GRU without linear_before_reset: (r ⊙ H)·Rhᵀ.</summary>
            public int Candidate(int d, int gated)
            {
                if (_r is not null) return _l.Record(_node, OpKind.Linear, new[] { gated }, Layer("Rh", d));
                return _l.Record(_node, OpKind.MatMul, new[] { gated, _rCandidateT[d] });
            }

            /// <summary>GRU with linear_before_reset and no state yet: r ⊙ Rbh (null without B).</summary>
            public int? ResetBias(int d, int reset) => _resetBias[d] >= 0 ? _l.Record(_node, OpKind.Mul, new[] { reset, Broadcast(_resetBias[d]) }) : null;

            /// <summary>An LSTM gate's pre-activation plus its peephole P ⊙ c (gate 0: input, 1: output, 2: forget).</summary>
            public int Peephole(int d, int gate, int pre, int cell)
            {
                if (_peepholes[d, gate] < 0) return pre;
                return _l.Record(_node, OpKind.Add, new[] { pre, _l.Record(_node, OpKind.Mul, new[] { Broadcast(_peepholes[d, gate]), cell }) });
            }

            /// <summary>GRU with linear_before_reset: the candidate's H·Rhᵀ plus Rbh, where the GEMM's bias did not add it.</summary>
            public int WithResetBias(int d, int candidate) =>
                _resetBiasInGemm[d] || _resetBias[d] < 0 ? candidate : _l.Record(_node, OpKind.Add, new[] { candidate, Broadcast(_resetBias[d]) });

            /// <summary>
            /// A per-direction vector ready to broadcast over a state [batch, …]: a weight as it is; a value of the graph
            /// ([vector] in a sample) gets a leading 1 for each dimension the state has beyond it.
            /// </summary>
            private int Broadcast(int vector)
            {
                if (_l._ops[vector].Kind == OpKind.Parameter) return vector;
                int result = vector;
                for (int r = 2; r < _l.RankOf(_x) - 1; r++) result = _l.Record(_node, OpKind.Unsqueeze, new[] { result }, settings: new AxisSettings(0));
                return result;
            }
        }
    }
}
