// ONNX Conv and ConvTranspose in general, as sliding windows (im2col) and one matrix product: what the direct,
// Winograd and im2col kernels of Convolution (1-D and 2-D, filters known at build time, the batch first) do not take.
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
        /// <summary>
        /// Conv or ConvTranspose of 1 to 3 spatial dimensions, with strides, dilations and pads per axis (asymmetric,
        /// auto_pad, ConvTranspose's output_padding and output_shape), groups, filters known at build time or given as a
        /// value of the graph, compiled whole or batch first. The input is padded (a transposed convolution's also spread
        /// out by its strides: each output position reads one input value or a zero, one table-driven pass per axis), then
        /// viewed as windows — <c>[positions, channels × taps]</c>, one strided copy (<see cref="OpKind.Windows"/>) — and
        /// multiplied by the filters: a packed Linear for one group of known filters, a MatMul per group otherwise. A
        /// transposed convolution is the convolution of the spread input by the filters flipped in space (the windows read
        /// their taps backwards) with in and out channels swapped. PyTorch's <c>conv_transpose</c> and ONNX's reference
        /// compute the same; a dedicated kernel would skip the spread zeros (docs/onnx.md says what this costs).
        /// </summary>
        private void ConvolutionByWindows(OnnxNode node, string name, bool transposed)
        {
            string x = Input(node, 0), filtersName = Input(node, 1);
            int rank = RankOf(x), spatial = rank - 2 - Lead;
            if (spatial < 1 || spatial > 3) throw Unsupported(node, "the input must be [N, C, …] with 1 to 3 spatial dimensions");
            int[] sample = SampleShape(node, x);
            int channels = sample[Lead];
            bool known = _constants.TryGetValue(filtersName, out OnnxConstant? w);
            if (!known && !_whole)
                throw Unsupported(node, $"'{filtersName}' must be known at build time where the batch is the first dimension (filters given as a value of the graph are supported where it is compiled whole: every dimension fixed, by the file or by Dims)");
            if (known)
            {
                w = AsFloats(w!);
                if (w.Floats is null) throw Unsupported(node, $"the filters '{filtersName}' must be float32");
            }
            long[] dims = known ? w!.Dims : SampleShape(node, filtersName).Select(d => (long)d).ToArray();
            if (dims.Length != spatial + 2 || dims.Any(d => d < 1 || d > 1 << 24))
                throw Unsupported(node, $"the filters [{string.Join(", ", dims)}] do not fit a {spatial}-D convolution");
            long group = IntAttribute(node, "group", 1);
            if (group < 1 || group > channels || channels % group != 0) throw Unsupported(node, $"group {group} does not divide {channels} input channels");
            int groups = (int)group, perGroup = channels / groups;
            if (transposed ? dims[0] != channels : dims[1] != perGroup || dims[0] % groups != 0)
                throw Unsupported(node, $"the filters [{string.Join(", ", dims)}] do not fit {channels} input channels in {groups} groups");
            int outPerGroup = (int)(transposed ? dims[1] : dims[0] / groups), outChannels = checked(outPerGroup * groups);
            int[] kernel = dims.Skip(2).Select(k => (int)k).ToArray();
            List<long>? kernelShape = node.Attributes.FirstOrDefault(a => a.Name == "kernel_shape")?.Ints;
            if (kernelShape is { Count: > 0 } && !kernelShape.SequenceEqual(kernel.Select(k => (long)k)))
                throw Unsupported(node, $"kernel_shape [{string.Join(", ", kernelShape)}] is not the filters' [{string.Join(", ", kernel)}]");
            long tapsLong = kernel.Aggregate(1L, (p, k) => p * k);
            if (tapsLong * channels > 1 << 24) throw Unsupported(node, $"filters of {tapsLong} taps over {channels} channels are too large");
            int taps = (int)tapsLong, rowLength = perGroup * taps;
            int[] strides = SpatialInts(node, "strides", spatial, 1), dilations = SpatialInts(node, "dilations", spatial, 1);

            int result = Act(node, x);
            var padded = new long[spatial];
            if (!transposed)
            {
                (int[] begin, int[] end) = Pads(node, x, kernel, strides, dilations);
                for (int i = 0; i < spatial; i++)
                {
                    long n = sample[Lead + 1 + i], start = begin[i];
                    padded[i] = n + begin[i] + end[i];
                    if (begin[i] != 0 || end[i] != 0)
                        result = Remap(node, name + ".remap", result, Lead + 1 + i, padded[i], j => j - start >= 0 && j - start < n ? j - start : -1);
                }
            }
            else
            {
                (long[] begin, long[] end) = TransposedPads(node, sample, kernel, strides, dilations);
                for (int i = 0; i < spatial; i++)
                {
                    // The spread input (n values stride apart) padded by reach − pad on each side (a negative amount crops),
                    // so a stride-1 window of the flipped filters gives each output of the transposed convolution.
                    long n = sample[Lead + 1 + i], s = strides[i], reach = (long)dilations[i] * (kernel[i] - 1);
                    long left = reach - begin[i], right = reach - end[i];
                    padded[i] = s * (n - 1) + 1 + left + right;
                    if (s != 1 || left != 0 || right != 0)
                        result = Remap(node, name + ".remap", result, Lead + 1 + i, padded[i], j => j - left is var q && q >= 0 && q % s == 0 && q / s < n ? q / s : -1);
                }
                strides = Enumerable.Repeat(1, spatial).ToArray();
            }
            var positions = new int[spatial];
            for (int i = 0; i < spatial; i++)
            {
                long reach = (long)dilations[i] * (kernel[i] - 1) + 1;
                if (padded[i] < reach) throw Unsupported(node, $"the output would be empty along axis {i + 2} ({padded[i]} padded values, a window reaching {reach})");
                positions[i] = (int)((padded[i] - reach) / strides[i] + 1);
            }
            int windows = Record(node, OpKind.Windows, new[] { result },
                settings: new WindowsSettings(kernel.ToEquatableArray(), strides.ToEquatableArray(), dilations.ToEquatableArray(), transposed));
            int[] lead = sample.Take(Lead).ToArray();
            long areaLong = positions.Aggregate(1L, (p, v) => p * v), rowsLong = lead.Aggregate(areaLong, (p, v) => p * v);
            if (rowsLong * channels * taps > int.MaxValue || rowsLong * outChannels > int.MaxValue)
                throw Unsupported(node, "the windows or the output would hold more than 2³¹ values");
            int area = (int)areaLong, rows = (int)rowsLong;

            // [rows, groups × channels/groups × taps] by the filters, per group.
            string? biasName = node.Inputs.Count > 2 && node.Inputs[2].Length > 0 ? node.Inputs[2] : null;
            bool biasDone = false;
            int y;
            if (groups == 1 && known)
            {
                _weights.Add(new(name + ".weight", new OnnxConstant(new long[] { outChannels, rowLength }, FilterRows(w!.Floats!, transposed, groups, perGroup, outPerGroup, taps), null)));
                if (biasName is not null && _constants.TryGetValue(biasName, out OnnxConstant? bias))
                {
                    bias = AsFloats(bias);
                    if (bias.Floats is null || bias.Count != outChannels) throw Unsupported(node, $"the bias '{biasName}' must hold {outChannels} floats");
                    _weights.Add(new(name + ".bias", bias.Reshaped(new long[] { outChannels })));
                    biasDone = true;
                }
                y = Record(node, OpKind.Linear, new[] { Shaped(node, windows, rows, rowLength) }, name);
            }
            else
            {
                int filters;
                if (known)
                {
                    // [groups, channels/groups × taps, out/groups]: each group's filters as the right-hand side.
                    float[] byRows = FilterRows(w!.Floats!, transposed, groups, perGroup, outPerGroup, taps);
                    var matrices = new float[byRows.Length];
                    for (int g = 0; g < groups; g++)
                        for (int o = 0; o < outPerGroup; o++)
                            for (int c = 0; c < rowLength; c++)
                                matrices[((long)g * rowLength + c) * outPerGroup + o] = byRows[((long)g * outPerGroup + o) * rowLength + c];
                    filters = Parameter(node, filtersName, new OnnxConstant(new long[] { groups, rowLength, outPerGroup }, matrices, null));
                }
                else filters = FilterValue(node, filtersName, transposed, groups, perGroup, outPerGroup, kernel);
                int byGroup = Record(node, OpKind.Permute, new[] { Shaped(node, windows, rows, groups, rowLength) }, settings: new PermuteSettings(new EquatableArray<int>(new[] { 1, 0, 2 })));
                y = Record(node, OpKind.MatMul, new[] { byGroup, filters });
                y = Record(node, OpKind.Permute, new[] { y }, settings: new PermuteSettings(new EquatableArray<int>(new[] { 1, 0, 2 })));
                y = Shaped(node, y, rows, outChannels);
            }
            if (biasName is not null && !biasDone)
            {
                int bias;
                if (_constants.TryGetValue(biasName, out OnnxConstant? b))
                {
                    b = AsFloats(b);
                    if (b.Floats is null || b.Count != outChannels) throw Unsupported(node, $"the bias '{biasName}' must hold {outChannels} floats");
                    bias = Parameter(node, biasName, b.Reshaped(new long[] { 1, outChannels }));
                }
                else
                {
                    if (SampleShape(node, biasName).Aggregate(1L, (p, d) => p * d) != outChannels) throw Unsupported(node, $"the bias '{biasName}' must hold {outChannels} values");
                    bias = Shaped(node, Act(node, biasName), 1, outChannels);
                }
                y = Record(node, OpKind.Add, new[] { y, bias });
            }
            // [lead…, positions, out] → [lead…, out, positions…].
            y = Shaped(node, y, lead.Concat(new[] { area, outChannels }).ToArray());
            y = Record(node, OpKind.Permute, new[] { y }, settings: new PermuteSettings(new EquatableArray<int>(
                Enumerable.Range(0, Lead).Concat(new[] { Lead + 1, Lead }).ToArray())));
            _activations[Output(node)] = Shaped(node, y, lead.Concat(new[] { outChannels }).Concat(positions).ToArray());
            _ranks[Output(node)] = rank;
        }

        /// <summary>A value seen with another per-sample shape (a view).</summary>
        private int Shaped(OnnxNode node, int value, params int[] shape) =>
            Record(node, OpKind.Reshape, new[] { value }, settings: new ReshapeSettings(new EquatableArray<int>(shape)));

        /// <summary>
        /// Known filters as rows, one per output channel: <c>[groups × out/groups, channels/groups × taps]</c>. Conv's
        /// <c>[out, in/groups, k…]</c> already is; ConvTranspose's <c>[in, out/groups, k…]</c> swaps in and out per group
        /// (the flip is the windows').
        /// </summary>
        private static float[] FilterRows(float[] w, bool transposed, int groups, int perGroup, int outPerGroup, int taps)
        {
            if (!transposed) return w;
            var rows = new float[w.Length];
            for (int g = 0; g < groups; g++)
                for (int i = 0; i < perGroup; i++)
                    for (int o = 0; o < outPerGroup; o++)
                        Array.Copy(w, (((long)g * perGroup + i) * outPerGroup + o) * taps, rows, (((long)g * outPerGroup + o) * perGroup + i) * taps, taps);
            return rows;
        }

        /// <summary>Filters given as a value: <c>[groups, channels/groups × taps, out/groups]</c>, a reshape and a permutation of it.</summary>
        private int FilterValue(OnnxNode node, string filters, bool transposed, int groups, int perGroup, int outPerGroup, int[] kernel)
        {
            int taps = kernel.Aggregate(1, (p, k) => p * k), value = Act(node, filters); // bounded by ConvolutionByWindows
            // Conv: [groups, out/groups, in/groups × taps] → (0, 2, 1). ConvTranspose: [groups, in/groups, out/groups, taps] → (0, 1, 3, 2).
            int result = transposed
                ? Record(node, OpKind.Permute, new[] { Shaped(node, value, groups, perGroup, outPerGroup, taps) }, settings: new PermuteSettings(new EquatableArray<int>(new[] { 0, 1, 3, 2 })))
                : Record(node, OpKind.Permute, new[] { Shaped(node, value, groups, outPerGroup, perGroup * taps) }, settings: new PermuteSettings(new EquatableArray<int>(new[] { 0, 2, 1 })));
            return Shaped(node, result, groups, perGroup * taps, outPerGroup);
        }

        /// <summary>
        /// ConvTranspose's pads at the start and end of each axis: <c>pads</c>, or from <c>output_shape</c> (or auto_pad's
        /// <c>input × stride</c>) as ONNX defines them — the total padding split, the odd one at the end for SAME_UPPER and at
        /// the start otherwise (a negative total adds outputs, the extra one at the end, as onnx's reference computes).
        /// </summary>
        private (long[] Begin, long[] End) TransposedPads(OnnxNode node, int[] sample, int[] kernel, int[] strides, int[] dilations)
        {
            int spatial = kernel.Length;
            int[] outputPadding = SpatialInts(node, "output_padding", spatial, 0, allowZero: true);
            string auto = Text(node, "auto_pad", "NOTSET");
            if (auto is not ("NOTSET" or "VALID" or "SAME_UPPER" or "SAME_LOWER")) throw Unsupported(node, $"auto_pad '{auto}' is not one ONNX defines");
            List<long>? outputShape = node.Attributes.FirstOrDefault(a => a.Name == "output_shape")?.Ints;
            if (outputShape is { Count: > 0 } && outputShape.Count == spatial + 2) outputShape = outputShape.Skip(2).ToList(); // N and C given too
            if (outputShape is { Count: > 0 } && (outputShape.Count != spatial || outputShape.Any(v => v < 1 || v > 1 << 24)))
                throw Unsupported(node, $"output_shape [{string.Join(", ", outputShape)}] does not fit {spatial} axes");
            var begin = new long[spatial];
            var end = new long[spatial];
            List<long>? pads = node.Attributes.FirstOrDefault(a => a.Name == "pads")?.Ints;
            for (int i = 0; i < spatial; i++)
            {
                long n = sample[Lead + 1 + i];
                if (outputPadding[i] >= Math.Max(strides[i], dilations[i])) throw Unsupported(node, $"output_padding {outputPadding[i]} must be less than the stride or the dilation");
                long full = strides[i] * (n - 1) + outputPadding[i] + (long)dilations[i] * (kernel[i] - 1) + 1;
                long? target = outputShape is { Count: > 0 } ? outputShape[i] : auto is "SAME_UPPER" or "SAME_LOWER" ? n * strides[i] : null;
                if (target is { } t)
                {
                    long total = full - t, half = (long)Math.Floor(total / 2.0);
                    (begin[i], end[i]) = auto == "SAME_UPPER" ? (half, total - half) : (total - half, half);
                }
                else if (pads is { Count: > 0 } && auto == "NOTSET")
                {
                    if (pads.Count != 2 * spatial || pads.Any(p => p < 0 || p > 1 << 20)) throw Unsupported(node, $"pads [{string.Join(", ", pads)}] do not fit {spatial} axes");
                    (begin[i], end[i]) = (pads[i], pads[spatial + i]);
                }
                // The output_padding extra values are at the end.
                end[i] -= outputPadding[i];
                if (Math.Abs(begin[i]) > 1 << 20 || Math.Abs(end[i]) > 1 << 20) throw Unsupported(node, "the padding is too large");
            }
            return (begin, end);
        }

        /// <summary>An attribute of one positive value per spatial axis (strides, dilations), or <paramref name="fallback"/> on every axis when absent.</summary>
        private int[] SpatialInts(OnnxNode node, string attribute, int spatial, int fallback, bool allowZero = false)
        {
            List<long>? values = node.Attributes.FirstOrDefault(a => a.Name == attribute)?.Ints;
            if (values is null || values.Count == 0) return Enumerable.Repeat(fallback, spatial).ToArray();
            if (values.Count != spatial || values.Any(v => v < (allowZero ? 0 : 1) || v > 1 << 20))
                throw Unsupported(node, $"{attribute} [{string.Join(", ", values)}] does not fit {spatial} spatial axes");
            return values.Select(v => (int)v).ToArray();
        }
    }
}
