// ONNX operators of the normalization family, each lowered onto the op catalogue's kinds (the table is OnnxImporter.Operators).
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp.</summary>
        private void LowerReduce(OnnxNode node, string name)
        {
            if (node.OpType == "ReduceMean" && LayerNormPattern(_graph, _index, name, _skip)) return;
            string x = Input(node, 0);
            int rank = RankOf(x);
            ReduceKind kind = node.OpType switch
            {
                "ReduceMean" => ReduceKind.Mean, "ReduceSum" => ReduceKind.Sum, "ReduceMax" => ReduceKind.Max, "ReduceMin" => ReduceKind.Min,
                "ReduceProd" => ReduceKind.Prod, "ReduceSumSquare" => ReduceKind.SumSquare, "ReduceL1" => ReduceKind.L1, "ReduceL2" => ReduceKind.L2,
                "ReduceLogSum" => ReduceKind.LogSum, _ => ReduceKind.LogSumExp,
            };
            // Axes became an input at opset 13 for ReduceSum and at 18 for the others.
            long[] raw = Axes(node, kind == ReduceKind.Sum ? 13 : 18);
            bool keep = IntAttribute(node, "keepdims", 1) != 0;
            int result = Act(node, x);
            if (raw.Length == 0 && IntAttribute(node, "noop_with_empty_axes", 0) != 0)
            {
                Alias(node, x, Output(node));
                return;
            }
            // No axes: all of them (with the batch first, that would mix samples: SampleAxis refuses axis 0).
            if (raw.Length == 0) raw = Enumerable.Range(0, rank - Lead).Select(a => (long)a).ToArray();
            int[] axes = raw.Select(a => SampleAxis(node, a, rank)).Distinct().OrderByDescending(a => a).ToArray();
            if (axes.Length != raw.Length) throw Unsupported(node, $"axes [{string.Join(", ", raw)}] name an axis twice");
            // Several axes, one at a time from the last (so the others keep their places): the first step maps the values
            // (squares, magnitudes), the rest add; the log of LogSum and the root of L2 come last.
            for (int k = 0; k < axes.Length; k++)
            {
                bool first = k == 0, last = k == axes.Length - 1;
                ReduceKind step = kind switch
                {
                    ReduceKind.SumSquare or ReduceKind.L1 => first ? kind : ReduceKind.Sum,
                    ReduceKind.L2 => axes.Length == 1 ? kind : first ? ReduceKind.SumSquare : ReduceKind.Sum,
                    ReduceKind.LogSum => last ? kind : ReduceKind.Sum,
                    _ => kind,
                };
                result = Record(node, OpKind.Reduce, new[] { result }, settings: new ReduceSettings(axes[k] - 1, step));
            }
            if (kind == ReduceKind.L2 && axes.Length > 1) result = Record(node, OpKind.Sqrt, new[] { result });
            if (keep)
                foreach (int a in axes.OrderBy(a => a)) result = Record(node, OpKind.Unsqueeze, new[] { result }, settings: new AxisSettings(a - 1));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = keep ? rank : rank - axes.Length;
        }

        /// <summary>
        /// LRN (AlexNet's local response normalization across channels): <c>x / (bias + alpha/size · Σ x²)^beta</c>, the sum
        /// over the <c>size</c> channels around each one (⌊(size−1)/2⌋ before, ⌈(size−1)/2⌉ after, none past the ends). The
        /// squares' window mean is the AxisPool kernel's average along the channels counting the padding (so it is the sum
        /// divided by size); the power is <c>exp(−beta · log(·))</c>, fused into the product's epilogue chain.
        /// </summary>
        private void LowerLrn(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            if (rank - Lead < 2) throw Unsupported(node, "the input must be [N, C, …]");
            long size = IntAttribute(node, "size", 0);
            if (size < 1 || size > 1 << 20) throw Unsupported(node, $"size {size} must be a positive window of channels");
            float alpha = FloatAttribute(node, "alpha", 1e-4f), beta = FloatAttribute(node, "beta", 0.75f), bias = FloatAttribute(node, "bias", 1f);
            int a = Act(node, x);
            int before = (int)((size - 1) / 2), after = (int)(size - 1 - before);
            int window = Record(node, OpKind.AxisPool, new[] { Record(node, OpKind.Mul, new[] { a, a }) },
                settings: new AxisPoolSettings(Lead, (int)size, 1, before, after, 1, Max: false, CountPadding: true, Ceil: false));
            int denominator = Record(node, OpKind.AddScalar, new[] { Record(node, OpKind.MulScalar, new[] { window }, scalar: alpha) }, scalar: bias);
            int scale = Record(node, OpKind.Exp, new[] { Record(node, OpKind.MulScalar, new[] { Record(node, OpKind.Log, new[] { denominator }) }, scalar: -beta) });
            Activation(node, Output(node), OpKind.Mul, new[] { a, scale }, rank);
        }

        /// <summary>
        /// MeanVarianceNormalization: <c>(x − E[x]) / (√E[(x − E[x])²] + 1e-9)</c> over <c>axes</c> (default [0, 2, 3], the batch
        /// included: compiled whole), each mean a chain of one-axis Reduce steps kept as dimensions of 1 that broadcast back.
        /// (ONNX's function body forms the variance as E[x²] − E[x]²; the centred form is the same value, without the cancellation.)
        /// </summary>
        private void LowerMeanVarianceNormalization(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            long[] raw = node.Attributes.FirstOrDefault(a => a.Name == "axes")?.Ints.ToArray() ?? new long[] { 0, 2, 3 };
            int[] axes = raw.Select(a => SampleAxis(node, a, rank)).Distinct().OrderByDescending(a => a).ToArray();
            if (axes.Length != raw.Length || axes.Length == 0) throw Unsupported(node, $"axes [{string.Join(", ", raw)}] must name distinct axes");
            int Mean(int value)
            {
                foreach (int axis in axes) value = Record(node, OpKind.Reduce, new[] { value }, settings: new ReduceSettings(axis - 1, ReduceKind.Mean));
                foreach (int axis in axes.OrderBy(a => a)) value = Record(node, OpKind.Unsqueeze, new[] { value }, settings: new AxisSettings(axis - 1));
                return value;
            }
            int a = Act(node, x);
            int centred = Record(node, OpKind.Add, new[] { a, Record(node, OpKind.MulScalar, new[] { Mean(a) }, scalar: -1f) });
            int deviation = Record(node, OpKind.Sqrt, new[] { Mean(Record(node, OpKind.Mul, new[] { centred, centred })) });
            int inverse = Record(node, OpKind.Reciprocal, new[] { Record(node, OpKind.AddScalar, new[] { deviation }, scalar: 1e-9f) });
            Activation(node, Output(node), OpKind.Mul, new[] { centred, inverse }, rank);
        }

        /// <summary>LayerNormalization.</summary>
        private void LowerLayerNormalization(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            int axis = SampleAxis(node, IntAttribute(node, "axis", -1), rank);
            float epsilon = FloatAttribute(node, "epsilon", 1e-5f);
            if (node.Outputs.Count > 1 && node.Outputs.Skip(1).Any(o => o.Length > 0)) Statistics(node, x, axis, epsilon);
            // A scale or shift that is a value of the graph (a model input), not a constant: the row is normalized with a
            // unit scale and no shift, then multiplied and shifted by those values, broadcast as ONNX broadcasts them.
            string scale = Input(node, 1), shift = node.Inputs.Count > 2 ? node.Inputs[2] : "";
            bool scaleIsValue = !_constants.ContainsKey(scale), shiftIsValue = shift.Length > 0 && !_constants.ContainsKey(shift);
            if (scaleIsValue || shiftIsValue)
            {
                int[] shape = SampleShape(node, x);
                int rowWidth = shape.Skip(axis - 1).Aggregate(1, (p, d) => checked(p * d));
                int[] rowShape = shape.Take(axis - 1).Append(rowWidth).ToArray();
                _weights.Add(new(name + ".weight", new OnnxConstant(new long[] { rowWidth }, Enumerable.Repeat(1f, rowWidth).ToArray(), null)));
                int normalized = Record(node, OpKind.Reshape, new[] { Act(node, x) }, settings: new ReshapeSettings(new EquatableArray<int>(rowShape)));
                normalized = Record(node, OpKind.LayerNorm, new[] { normalized }, name, epsilon);
                normalized = Record(node, OpKind.Reshape, new[] { normalized }, settings: new ReshapeSettings(new EquatableArray<int>(shape)));
                int scaled = Record(node, OpKind.Mul, new[] { normalized, scaleIsValue ? Ranked(node, scale, rank) : ConstantOperand(node, scale, rank) });
                if (shift.Length > 0)
                    scaled = Record(node, OpKind.Add, new[] { scaled, shiftIsValue ? Ranked(node, shift, rank) : ConstantOperand(node, shift, rank) });
                _activations[Output(node)] = scaled;
                _ranks[Output(node)] = rank;
                return;
            }
            if (axis == rank - 1)
            {
                _weights.Add(new(name + ".weight", Const(node, Input(node, 1))));
                if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0) _weights.Add(new(name + ".bias", Const(node, Input(node, 2))));
                Activation(node, Output(node), OpKind.LayerNorm, new[] { Act(node, x) }, rank, name, epsilon);
                return;
            }
            // Over several trailing axes: they become one row (a view), normalized with the scale and shift flattened alike.
            int[] sample = SampleShape(node, x);
            int width = sample.Skip(axis - 1).Aggregate(1, (p, d) => checked(p * d));
            int[] rows = sample.Take(axis - 1).Append(width).ToArray();
            OnnxConstant Flat(string value)
            {
                OnnxConstant c = Const(node, value);
                // The scale and shift broadcast over the normalized axes: spelled out to one value per element of a row.
                if (c.Floats is null || c.Count != width && c.Count != 1) throw Unsupported(node, $"'{value}' must hold one value per normalized element ({width}) or one in all");
                return c.Count == width ? c.Reshaped(new long[] { width }) : new OnnxConstant(new long[] { width }, Enumerable.Repeat(c.Floats[0], width).ToArray(), null);
            }
            _weights.Add(new(name + ".weight", Flat(Input(node, 1))));
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0) _weights.Add(new(name + ".bias", Flat(Input(node, 2))));
            int result = Record(node, OpKind.Reshape, new[] { Act(node, x) }, settings: new ReshapeSettings(new EquatableArray<int>(rows)));
            result = Record(node, OpKind.LayerNorm, new[] { result }, name, epsilon);
            result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(sample)));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>
        /// LayerNormalization's optional Mean and InvStdDev outputs: over the normalized axes (one row of them, a view), kept
        /// as dimensions of 1 — the mean, and 1 / √(mean of squared deviations + ε), by reductions and fused steps.
        /// </summary>
        private void Statistics(OnnxNode node, string x, int axis, float epsilon)
        {
            int rank = RankOf(x);
            int[] sample = SampleShape(node, x);
            int width = sample.Skip(axis - 1).Aggregate(1, (p, d) => checked(p * d));
            int[] rows = sample.Take(axis - 1).Append(width).ToArray();
            int[] kept = sample.Select((d, i) => i < axis - 1 ? d : 1).ToArray();
            int row = Record(node, OpKind.Reshape, new[] { Act(node, x) }, settings: new ReshapeSettings(new EquatableArray<int>(rows)));
            int mean = Record(node, OpKind.Reduce, new[] { row }, settings: new ReduceSettings(axis - 1, ReduceKind.Mean));
            int meanKept = Record(node, OpKind.Unsqueeze, new[] { mean }, settings: new AxisSettings(axis - 1));
            int centered = Record(node, OpKind.Add, new[] { row, Record(node, OpKind.MulScalar, new[] { meanKept }, scalar: -1f) });
            int variance = Record(node, OpKind.Reduce, new[] { Record(node, OpKind.Mul, new[] { centered, centered }) }, settings: new ReduceSettings(axis - 1, ReduceKind.Mean));
            int inverse = Record(node, OpKind.Reciprocal, new[] { Record(node, OpKind.Sqrt, new[] { Record(node, OpKind.AddScalar, new[] { variance }, scalar: epsilon) }) });
            void Output(int index, int value)
            {
                if (node.Outputs.Count <= index || node.Outputs[index].Length == 0) return;
                _activations[node.Outputs[index]] = Record(node, OpKind.Reshape, new[] { value }, settings: new ReshapeSettings(new EquatableArray<int>(kept)));
                _ranks[node.Outputs[index]] = rank;
            }
            Output(1, mean);
            Output(2, inverse);
        }

        /// <summary>
        /// InstanceNormalization and GroupNormalization: each channel (each group of channels) with its spatial values as one
        /// row (a view), normalized by the LayerNorm kernel (unit scale, zero shift), then the per-channel scale and bias (opset
        /// 18's GroupNormalization gives them per group: repeated over the group's channels) as a broadcast product and sum,
        /// and the view back.
        /// </summary>
        private void LowerChannelNormalization(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            int[] sample = SampleShape(node, x);
            if (sample.Length < Lead + 2) throw Unsupported(node, "the input must be [N, C, …] with at least one spatial axis");
            int channels = sample[Lead], spatial = sample.Skip(Lead + 1).Aggregate(1, (p, d) => checked(p * d));
            bool grouped = node.OpType == "GroupNormalization";
            int groups = grouped ? (int)IntAttribute(node, "num_groups", 0) : channels;
            if (groups <= 0 || channels % groups != 0) throw Unsupported(node, $"{channels} channels do not split into {groups} groups");
            int width = checked(channels / groups * spatial);
            float[] PerChannel(OnnxConstant c, string what)
            {
                // Opset 18's GroupNormalization gives one value per group; the others, one per channel.
                if (c.Floats is null || c.Count != channels && c.Count != groups) throw Unsupported(node, $"{what} must hold one float per channel or per group");
                return c.Count == channels ? c.Floats : Enumerable.Range(0, channels).Select(ch => c.Floats[ch / (channels / groups)]).ToArray();
            }
            _weights.Add(new(name + ".weight", new OnnxConstant(new long[] { width }, Enumerable.Repeat(1f, width).ToArray(), null)));
            _weights.Add(new(name + ".bias", new OnnxConstant(new long[] { width }, new float[width], null)));
            int[] lead = sample.Take(Lead).ToArray();
            int result = Record(node, OpKind.Reshape, new[] { Act(node, x) }, settings: new ReshapeSettings(new EquatableArray<int>(lead.Concat(new[] { groups, width }).ToArray())));
            result = Record(node, OpKind.LayerNorm, new[] { result }, name, FloatAttribute(node, "epsilon", 1e-5f));
            result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(lead.Concat(new[] { channels, spatial }).ToArray())));
            // The scale and bias: weights [channels, 1] when known at build time, else values of the graph (one per channel) as columns.
            int Column(int input, string suffix, string what) => _constants.TryGetValue(Input(node, input), out OnnxConstant? c)
                ? Parameter(node, name + suffix, new OnnxConstant(new long[] { channels, 1 }, PerChannel(c, what), null))
                : ChannelColumn(node, Input(node, input), channels, 1, rank - 1);
            result = Record(node, OpKind.Mul, new[] { result, Column(1, ".scale", "the scale") });
            result = Record(node, OpKind.Add, new[] { result, Column(2, ".shift", "the bias") });
            result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(sample)));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>
        /// A per-channel vector that is a value of the graph (a model input, compiled whole), as a column that broadcasts over
        /// a value of <paramref name="rank"/>: [channels, 1 × <paramref name="trailing"/>], leading 1s before it.
        /// </summary>
        private int ChannelColumn(OnnxNode node, string value, int channels, int trailing, int rank)
        {
            if (!_whole) throw Unsupported(node, $"'{value}' must be known at build time (a value of the graph is supported where the graph is compiled whole)");
            int[] shape = SampleShape(node, value);
            if (shape.Aggregate(1, (p, d) => checked(p * d)) != channels) throw Unsupported(node, $"'{value}' must hold one value per channel ({channels})");
            int[] column = new[] { channels }.Concat(Enumerable.Repeat(1, trailing)).ToArray();
            int result = Record(node, OpKind.Reshape, new[] { Act(node, value) }, settings: new ReshapeSettings(new EquatableArray<int>(column)));
            for (int r = column.Length + 1; r < rank; r++) result = Record(node, OpKind.Unsqueeze, new[] { result }, settings: new AxisSettings(0));
            return result;
        }

        /// <summary>
        /// ArgMax, ArgMin: the index of the first largest (smallest) value along an axis, as Hardmax's one-hot row (NaN
        /// counts as the largest, as numpy's argmax) times the indices 0 … n−1, summed along the axis; ArgMin is ArgMax of
        /// −x. The index is a whole number in float32 (an int64 output converts at the edge). With select_last_index the
        /// axis is read backwards first (a table pass, as Pad's) and the index counted from the end: the first maximum of
        /// the reversed row is the last of the row.
        /// </summary>
        private void LowerArgMax(OnnxNode node, string name)
        {
            bool last = IntAttribute(node, "select_last_index", 0) != 0;
            string x = Input(node, 0);
            int rank = RankOf(x);
            int axis = SampleAxis(node, IntAttribute(node, "axis", 0), rank);
            int[] sample = SampleShape(node, x);
            int width = sample[axis - 1], trailing = sample.Length - axis;
            int a = Act(node, x);
            if (node.OpType == "ArgMin") a = Record(node, OpKind.MulScalar, new[] { a }, scalar: -1f);
            if (last) a = Remap(node, name + ".reversed", a, axis - 1, width, j => width - 1 - j);
            int onehot = AlongAxis(node, OpKind.Hardmax, a, axis, rank, sample);
            var indices = new OnnxConstant(new long[] { width }.Concat(Enumerable.Repeat(1L, trailing)).ToArray(), Enumerable.Range(0, width).Select(i => (float)i).ToArray(), null);
            int result = Record(node, OpKind.Mul, new[] { onehot, Parameter(node, name + ".indices", indices) });
            result = Record(node, OpKind.Reduce, new[] { result }, settings: new ReduceSettings(axis - 1, ReduceKind.Sum));
            if (last) result = Record(node, OpKind.AddScalar, new[] { Record(node, OpKind.MulScalar, new[] { result }, scalar: -1f) }, scalar: width - 1);
            bool keep = IntAttribute(node, "keepdims", 1) != 0;
            if (keep) result = Record(node, OpKind.Unsqueeze, new[] { result }, settings: new AxisSettings(axis - 1));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = keep ? rank : rank - 1;
        }

        /// <summary>Softmax, LogSoftmax.</summary>
        private void LowerSoftmax(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            OpKind kind = node.OpType switch { "Softmax" => OpKind.Softmax, "Hardmax" => OpKind.Hardmax, _ => OpKind.LogSoftmax };
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
            else result = AlongAxis(node, kind, a, axis, rank, sample);
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>
        /// A row op (Softmax, LogSoftmax, Hardmax) along <paramref name="axis"/> of a value: directly on the last axis; along
        /// another, that axis moved last, the op, and moved back (two strided copies).
        /// </summary>
        private int AlongAxis(OnnxNode node, OpKind kind, int value, int axis, int rank, int[] sample)
        {
            if (axis == rank - 1) return Record(node, kind, new[] { value });
            int[] order = Enumerable.Range(0, sample.Length).Where(d => d != axis - 1).Append(axis - 1).ToArray();
            int[] back = new int[order.Length];
            for (int d = 0; d < order.Length; d++) back[order[d]] = d;
            int result = Record(node, OpKind.Permute, new[] { value }, settings: new PermuteSettings(order.ToEquatableArray()));
            result = Record(node, kind, new[] { result });
            return Record(node, OpKind.Permute, new[] { result }, settings: new PermuteSettings(back.ToEquatableArray()));
        }
    }
}
