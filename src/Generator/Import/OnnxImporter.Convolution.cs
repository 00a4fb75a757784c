// ONNX operators of the convolution family, each lowered onto the op catalogue's kinds (the table is OnnxImporter.Operators).
using System;
using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        private const string WholeConvolution = "its input's first dimension must be the batch, and this graph is compiled whole "
            + "(its inputs do not all have one, or it computes across it)";

        /// <summary>
        /// Conv: 1-D and 2-D with filters known at build time, the batch first, one stride (or, depthwise, one per axis) and
        /// dilation on every axis and pads that give the outputs even padding gives, on the convolution kernels (direct,
        /// Winograd, im2col GEMM, depthwise; fused epilogues); every other convolution by windows (<see cref="ConvolutionByWindows"/>).
        /// </summary>
        private void LowerConv(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x), spatial = rank - 2;
            if (_whole || rank is not (3 or 4) || !_constants.TryGetValue(Input(node, 1), out OnnxConstant? w) || w.Floats is null || w.Dims.Length != rank)
            {
                ConvolutionByWindows(node, name, transposed: false);
                return;
            }
            int[] strides = SpatialInts(node, "strides", spatial, 1), dilations = SpatialInts(node, "dilations", spatial, 1);
            // Rectangular kernels (1×3, 3×1) and a padding per axis; the dilations are the same on both, and so are the
            // strides but for depthwise layers (the im2col and depthwise kernels step rows apart: strides [2, 1]).
            int[] kernel = w.Dims.Skip(2).Select(k => (int)k).ToArray();
            int groups = (int)IntAttribute(node, "group", 1);
            bool rowStride = spatial == 2 && groups > 1 && groups == SampleShape(node, x)[0];
            int[]? padding = (strides.Distinct().Count() == 1 || rowStride) && dilations.Distinct().Count() == 1 ? Padding(node, x, kernel, strides, dilations[0]) : null;
            if (padding is null)
            {
                ConvolutionByWindows(node, name, transposed: false);
                return;
            }
            _weights.Add(new(name + ".weight", w));
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0) _weights.Add(new(name + ".bias", Const(node, Input(node, 2))));
            var settings = new ConvSettings(strides[spatial - 1], padding[spatial - 1], dilations[0], groups)
            {
                VerticalPadding = spatial == 2 ? padding[0] : -1,
                VerticalStride = spatial == 2 && strides[0] != strides[1] ? strides[0] : -1,
            };
            Activation(node, Output(node), rank == 4 ? OpKind.Conv2d : OpKind.Conv1d, new[] { Act(node, x) }, rank, name, settings: settings);
        }

        /// <summary>
        /// ConvTranspose (1-D and 2-D, weights known at build time) as the convolution it equals: the input spread out by
        /// the stride (each value followed by stride − 1 zeros: a view, a product with a 0/1 pattern, a view), then a
        /// convolution with the filters flipped and their in and out channels swapped per group, padded by
        /// dilation·(k − 1) − pad on each side, and the stride − 1 − output_padding extra outputs at the end cut off.
        /// The spread input costs stride² times the multiplications a dedicated kernel would need (docs/onnx.md), so filters as
        /// large as the stride without padding go by <see cref="UpsamplingConvTranspose"/> instead.
        /// </summary>
        private void LowerConvTranspose(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x), spatial = rank - 2;
            // Anything but the common case (known 1-D or 2-D filters, the batch first, one stride and dilation, symmetric
            // pads) is a convolution by windows.
            if (_whole || rank is not (3 or 4) || !_constants.TryGetValue(Input(node, 1), out OnnxConstant? w) || w.Floats is null || w.Dims.Length != rank
                || node.Attributes.Any(a => a.Name == "output_shape") || Text(node, "auto_pad", "NOTSET") != "NOTSET"
                || SpatialInts(node, "strides", spatial, 1).Distinct().Count() != 1 || SpatialInts(node, "dilations", spatial, 1).Distinct().Count() != 1
                || node.Attributes.FirstOrDefault(a => a.Name == "pads")?.Ints is { Count: > 0 } given && !given.Take(spatial).SequenceEqual(given.Skip(spatial)))
            {
                ConvolutionByWindows(node, name, transposed: true);
                return;
            }
            int stride = SpatialInts(node, "strides", spatial, 1)[0], dilation = SpatialInts(node, "dilations", spatial, 1)[0];
            int groups = (int)IntAttribute(node, "group", 1);
            int[] sample = SampleShape(node, x);
            int channels = sample[0], outPerGroup = (int)w.Dims[1], inPerGroup = channels / Math.Max(1, groups);
            if (groups <= 0 || channels % groups != 0 || w.Dims[0] != channels) throw Unsupported(node, $"weights {w.Describe()} do not fit {channels} input channels in {groups} groups");
            int outChannels = checked(outPerGroup * groups);
            int[] kernel = w.Dims.Skip(2).Select(k => (int)k).ToArray();
            List<long> pads = node.Attributes.FirstOrDefault(a => a.Name == "pads")?.Ints ?? Enumerable.Repeat(0L, 2 * spatial).ToList();
            List<long> outputPadding = node.Attributes.FirstOrDefault(a => a.Name == "output_padding")?.Ints ?? Enumerable.Repeat(0L, spatial).ToList();
            if (pads.Count != 2 * spatial || outputPadding.Count != spatial) throw Unsupported(node, "pads and output_padding must give every spatial axis");
            if (stride > 1 && dilation == 1 && groups == 1 && kernel.All(k => k == stride) && pads.All(p => p == 0) && outputPadding.All(p => p == 0))
            {
                UpsamplingConvTranspose(node, name, x, w, sample, outChannels, stride, rank);
                return;
            }
            var convPadding = new int[spatial];
            for (int d = 0; d < spatial; d++)
            {
                long reach = (long)dilation * (kernel[d] - 1);
                if (pads[d] != pads[spatial + d]) throw Unsupported(node, $"pads [{string.Join(", ", pads)}]: only the same padding at both ends of an axis is supported");
                if (pads[d] < 0 || pads[d] > reach || outputPadding[d] < 0 || outputPadding[d] >= stride)
                    throw Unsupported(node, $"pads {pads[d]} and output_padding {outputPadding[d]} do not fit a kernel reaching {reach + 1} at stride {stride}");
                convPadding[d] = (int)(reach - pads[d]);
            }
            // The filters of the equivalent convolution: [out, in/groups, k…], flipped in space.
            int area = kernel.Aggregate(1, (p, k) => checked(p * k));
            var flipped = new float[checked(outChannels * inPerGroup * area)];
            for (int g = 0; g < groups; g++)
                for (int i = 0; i < inPerGroup; i++)
                    for (int o = 0; o < outPerGroup; o++)
                        for (int t = 0; t < area; t++)
                            flipped[(((long)(g * outPerGroup + o) * inPerGroup) + i) * area + (area - 1 - t)] = w.Floats[(((long)(g * inPerGroup + i) * outPerGroup) + o) * area + t];
            _weights.Add(new(name + ".weight", new OnnxConstant(new long[] { outChannels, inPerGroup }.Concat(kernel.Select(k => (long)k)).ToArray(), flipped, null)));
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0) _weights.Add(new(name + ".bias", Const(node, Input(node, 2))));
            int result = Act(node, x);
            if (stride > 1)
            {
                // [C, H, W] → [C, H, 1, W, 1] × pattern [1, s, 1, s] (1 first, then zeros) → [C, H·s, W·s].
                var spread = new List<int> { channels };
                var pattern = new List<long> { 1 };
                foreach (int size in sample.Skip(1))
                {
                    spread.Add(size);
                    spread.Add(1);
                    pattern.Add(1);
                    pattern.Add(stride);
                }
                var mask = new float[SizeMath.Product(pattern)];
                for (long m = 0; m < mask.Length; m++)
                {
                    // Within the pattern [1, s, 1, s], the value is 1 only where every stride index is 0.
                    bool first = true;
                    long rest = m;
                    for (int d = pattern.Count - 1; d >= 0; d--)
                    {
                        long index = rest % pattern[d];
                        rest /= pattern[d];
                        if (pattern[d] == stride && index != 0) first = false;
                    }
                    mask[m] = first ? 1f : 0f;
                }
                result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(spread.ToArray())));
                result = Record(node, OpKind.Mul, new[] { result, Parameter(node, name + ".spread", new OnnxConstant(pattern.ToArray(), mask, null)) });
                result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(
                    new[] { channels }.Concat(sample.Skip(1).Select(v => checked(v * stride))).ToArray())));
            }
            var settings = new ConvSettings(1, convPadding[spatial - 1], dilation, groups) { VerticalPadding = spatial == 2 ? convPadding[0] : -1 };
            result = Record(node, rank == 4 ? OpKind.Conv2d : OpKind.Conv1d, new[] { result }, name, settings: settings);
            for (int d = 0; d < spatial; d++)
            {
                // The spread input's trailing zeros give stride − 1 − output_padding outputs more than ConvTranspose has.
                long length = (long)stride * (sample[d + 1] - 1) + outputPadding[d] + (long)dilation * (kernel[d] - 1) + 1 - 2 * pads[d];
                long computed = (long)stride * sample[d + 1] + 2L * convPadding[d] - (long)dilation * (kernel[d] - 1);
                if (length <= 0) throw Unsupported(node, "the output would be empty");
                if (computed != length)
                    result = Record(node, OpKind.Slice, new[] { result }, settings: new SliceSettings(d + 1, 0, (int)length, SliceOrigin.Exact));
            }
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>
        /// A ConvTranspose whose filters are as large as its stride, without padding (a learned ×s upsampling, as FPN heads
        /// and U-Nets use it): each input position alone gives one s × s block of outputs, <c>y[o, s·i + u, s·j + v] = b[o] +
        /// Σ_c w[c, o, u, v] · x[c, i, j]</c>. So it is a 1×1 convolution to O·s² channels ordered (o, u, v), then those
        /// channels spread into the blocks as DepthToSpace (CRD) does: the multiplications a dedicated kernel needs, where
        /// the general route (the input spread by zeros, then a convolution) costs s² times as many, and a copy.
        /// </summary>
        private void UpsamplingConvTranspose(OnnxNode node, string name, string x, OnnxConstant w, int[] sample, int outChannels, int stride, int rank)
        {
            int spatial = rank - 2, channels = sample[0], area = Enumerable.Repeat(stride, spatial).Aggregate(1, (p, s) => checked(p * s)), rows = checked(outChannels * area);
            var weight = new float[checked((long)rows * channels)];
            for (int c = 0; c < channels; c++)
                for (int o = 0; o < outChannels; o++)
                    for (int t = 0; t < area; t++)
                        weight[((long)o * area + t) * channels + c] = w.Floats![((long)c * outChannels + o) * area + t];
            _weights.Add(new(name + ".weight", new OnnxConstant(new long[] { rows, channels }.Concat(Enumerable.Repeat(1L, spatial)).ToArray(), weight, null)));
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
            {
                OnnxConstant bias = Const(node, Input(node, 2));
                if (bias.Floats is null || bias.Floats.Length != outChannels) throw Unsupported(node, $"bias {bias.Describe()} does not give one value per output channel");
                var spread = new float[rows];
                for (int r = 0; r < rows; r++) spread[r] = bias.Floats[r / area];
                _weights.Add(new(name + ".bias", new OnnxConstant(new long[] { rows }, spread, null)));
            }
            var settings = new ConvSettings(1, 0, 1, 1) { VerticalPadding = spatial == 2 ? 0 : -1 };
            int result = Record(node, rank == 4 ? OpKind.Conv2d : OpKind.Conv1d, new[] { Act(node, x) }, name, settings: settings);
            int[] split = spatial == 2 ? new[] { outChannels, stride, stride, sample[1], sample[2] } : new[] { outChannels, stride, sample[1] };
            int[] order = spatial == 2 ? new[] { 0, 3, 1, 4, 2 } : new[] { 0, 2, 1 };
            int[] joined = new[] { outChannels }.Concat(sample.Skip(1).Select(v => checked(v * stride))).ToArray();
            result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(split)));
            result = Record(node, OpKind.Permute, new[] { result }, settings: new PermuteSettings(new EquatableArray<int>(order)));
            result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(joined)));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>MaxPool, AveragePool.</summary>
        private void LowerPool(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            if (node.OpType == "MaxPool" && node.Outputs.Count > 1 && node.Outputs[1].Length > 0) throw Unsupported(node, "the indices output is not supported");
            if (SquarePool(node, x) is { } square)
                Activation(node, Output(node), node.OpType == "MaxPool" ? OpKind.MaxPool2d : OpKind.AvgPool2d, new[] { Act(node, x) }, 4, settings: square);
            else AxisPools(node, x);
        }

        /// <summary>
        /// Whether the pool is one the square 2-D kernels compute (Convolution.MaxPool2d and AvgPool2d, which a direct
        /// convolution can also absorb): batch first, 2-D, one window size and stride, no dilation, the same padding on
        /// every side (or pads that give the same outputs), padding at most half the window, an average counting it.
        /// </summary>
        private PoolSettings? SquarePool(OnnxNode node, string x)
        {
            if (_whole || RankOf(x) != 4) return null;
            List<long> kernel = node.Attributes.FirstOrDefault(a => a.Name == "kernel_shape")?.Ints ?? new List<long>();
            List<long> strides = node.Attributes.FirstOrDefault(a => a.Name == "strides")?.Ints ?? new List<long> { 1, 1 };
            List<long> dilations = node.Attributes.FirstOrDefault(a => a.Name == "dilations")?.Ints ?? new List<long> { 1, 1 };
            if (kernel.Count != 2 || kernel[0] != kernel[1] || kernel[0] < 1 || kernel[0] > 1 << 20 || strides.Count != 2 || strides[0] != strides[1]
                || strides[0] < 1 || strides[0] > 1 << 20 || dilations.Any(d => d != 1))
                return null;
            (int window, int stride) = ((int)kernel[0], (int)strides[0]);
            bool ceil = IntAttribute(node, "ceil_mode", 0) != 0;
            (int[] begin, int[] end) = Pads(node, x, new[] { window, window }, new[] { stride, stride }, new[] { 1, 1 });
            int padding = begin[0];
            if (begin.Any(p => p != padding) || padding * 2 > window) return null;
            if (node.OpType == "AveragePool" && padding > 0 && IntAttribute(node, "count_include_pad", 0) == 0) return null;
            // Pads that differ at the end, or ceil_mode, are the same pool when they give the outputs even padding gives.
            int[] shape = SampleShape(node, x);
            for (int d = 0; d < 2; d++)
            {
                var general = new AxisPoolSettings(d + 1, window, stride, begin[d], end[d], 1, true, true, ceil);
                long even = SizeMath.WindowPositions(shape[d + 1], padding, window, stride);
                if (general.OutLength(shape[d + 1]) != even) return null;
            }
            return new PoolSettings(window, stride, padding);
        }

        /// <summary>
        /// Any other MaxPool or AveragePool (1-D, 2-D or 3-D; rectangular windows, strides per axis, asymmetric pads, dilations,
        /// ceil_mode, count_include_pad = 0, compiled whole or not): one AxisPool pass per spatial axis.
        /// </summary>
        private void AxisPools(OnnxNode node, string x)
        {
            int rank = RankOf(x), spatial = rank - 2 - Lead;
            if (spatial < 1 || spatial > 3) throw Unsupported(node, $"a pool needs an input of [N, C, …] with 1 to 3 spatial dimensions");
            if (node.Attributes.FirstOrDefault(a => a.Name == "kernel_shape")?.Ints is not { Count: > 0 }) throw Unsupported(node, "kernel_shape is missing");
            int[] window = SpatialInts(node, "kernel_shape", spatial, 1), strides = SpatialInts(node, "strides", spatial, 1), dilations = SpatialInts(node, "dilations", spatial, 1);
            (int[] begin, int[] end) = Pads(node, x, window, strides, dilations);
            bool max = node.OpType == "MaxPool", countPadding = IntAttribute(node, "count_include_pad", 0) != 0, ceil = IntAttribute(node, "ceil_mode", 0) != 0;
            int result = Act(node, x);
            if (Enumerable.Range(0, spatial).All(d => IdentityAxis(d)))
            {
                Alias(node, x, Output(node)); // a 1 × 1 window at stride 1 without padding: the identity
                return;
            }
            for (int d = 0; d < spatial; d++)
            {
                // An axis with a window of 1 at stride 1 and no padding keeps every value: no pass (Keras exports 2-D pools of
                // [1, 2] this way, and the pass along the first axis was a copy).
                if (IdentityAxis(d)) continue;
                int axis = SampleAxis(node, 2 + d, rank) - 1;
                result = Record(node, OpKind.AxisPool, new[] { result },
                    settings: new AxisPoolSettings(axis, window[d], strides[d], begin[d], end[d], dilations[d], max, countPadding, ceil));
            }
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;

            bool IdentityAxis(int d) => window[d] == 1 && strides[d] == 1 && begin[d] == 0 && end[d] == 0;
        }

        /// <summary>A window's pads (a pool's or a convolution's) at the start and the end of each spatial axis: the <c>pads</c> attribute, or <c>auto_pad</c>'s.</summary>
        private (int[] Begin, int[] End) Pads(OnnxNode node, string x, int[] window, int[] strides, int[] dilations)
        {
            int spatial = window.Length;
            string auto = Text(node, "auto_pad", "NOTSET");
            var begin = new int[spatial];
            var end = new int[spatial];
            switch (auto)
            {
                case "NOTSET":
                {
                    List<long> pads = node.Attributes.FirstOrDefault(a => a.Name == "pads")?.Ints ?? new List<long>();
                    if (pads.Count == 0) break;
                    if (pads.Count != 2 * spatial || pads.Any(p => p < 0 || p > 1 << 20)) throw Unsupported(node, $"pads [{string.Join(", ", pads)}] do not fit a {spatial}-D window");
                    for (int d = 0; d < spatial; d++) (begin[d], end[d]) = ((int)pads[d], (int)pads[spatial + d]);
                    break;
                }
                case "VALID":
                    break;
                case "SAME_UPPER" or "SAME_LOWER":
                {
                    // Output ceil(in / stride); the total padding split, the odd one at the end (UPPER) or the start (LOWER).
                    int[] shape = SampleShape(node, x);
                    for (int d = 0; d < spatial; d++)
                    {
                        long size = shape[shape.Length - spatial + d], outputs = (size + strides[d] - 1) / strides[d];
                        long total = Math.Max(0, (outputs - 1) * strides[d] + (long)dilations[d] * (window[d] - 1) + 1 - size);
                        if (total > 1 << 20) throw Unsupported(node, "the padding auto_pad asks for is too large");
                        begin[d] = (int)(auto == "SAME_UPPER" ? total / 2 : total - total / 2);
                        end[d] = (int)total - begin[d];
                    }
                    break;
                }
                default:
                    throw Unsupported(node, $"auto_pad '{auto}' is not one ONNX defines");
            }
            return (begin, end);
        }

        /// <summary>GlobalAveragePool.</summary>
        private void LowerGlobalAveragePool(OnnxNode node, string name)
        {
            if (_whole) throw Unsupported(node, WholeConvolution);
            string x = Input(node, 0);
            if (RankOf(x) != 4) throw Unsupported(node, "only [N, C, H, W] inputs are supported");
            int pooled = Record(node, OpKind.GlobalAvgPool, new[] { Act(node, x) });
            // ONNX keeps the pooled dimensions: [N, C, 1, 1].
            int kept = Record(node, OpKind.Reshape, new[] { pooled }, settings: new ReshapeSettings(new EquatableArray<int>(new[] { -1, 1, 1 })));
            _activations[Output(node)] = kept;
            _ranks[Output(node)] = 4;
        }

        /// <summary>GlobalMaxPool: the largest value of each channel's plane, [N, C, H, W] → [N, C, 1, 1] (two reductions).</summary>
        private void LowerGlobalMaxPool(OnnxNode node, string name)
        {
            if (_whole) throw Unsupported(node, WholeConvolution);
            string x = Input(node, 0);
            int rank = RankOf(x);
            if (rank < 3) throw Unsupported(node, "the input must be [N, C, …]");
            int result = Act(node, x);
            for (int axis = rank - 2; axis >= 1; axis--)
                result = Record(node, OpKind.Reduce, new[] { result }, settings: new ReduceSettings(axis, ReduceKind.Max));
            int[] kept = new[] { SampleShape(node, x)[0] }.Concat(Enumerable.Repeat(1, rank - 2)).ToArray();
            result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(kept)));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>BatchNormalization.</summary>
        private void LowerBatchNormalization(OnnxNode node, string name)
        {
            if (node.Outputs.Count > 1 && node.Outputs.Skip(1).Any(o => o.Length > 0) || IntAttribute(node, "training_mode", 0) != 0)
                throw Unsupported(node, "training mode (statistics of the batch, running statistics as outputs) is not supported");
            if (IntAttribute(node, "spatial", 1) != 1) throw Unsupported(node, "spatial = 0 (statistics per position, before opset 9) is not supported");
            string x = Input(node, 0);
            if (_whole || Enumerable.Range(1, 4).Any(i => !_constants.ContainsKey(Input(node, i))))
            {
                // Compiled whole, or statistics given as model inputs: (x − mean) · scale / √(var + ε) + bias, broadcast per
                // channel (dimension 1), as fused steps and products; the parts known at build time fold.
                int rank = RankOf(x);
                int[] sample = SampleShape(node, x);
                if (sample.Length < Lead + 1) throw Unsupported(node, "the input must be [N, C, …]");
                int channels = sample[Lead], trailing = sample.Length - Lead - 1;
                int Column(int input)
                {
                    string value = Input(node, input);
                    if (!_constants.TryGetValue(value, out OnnxConstant? c)) return ChannelColumn(node, value, channels, trailing, rank);
                    if (c.Floats is null || c.Count != channels) throw Unsupported(node, $"'{value}' must hold one float per channel ({channels})");
                    return Parameter(node, value, c.Reshaped(new long[] { channels }.Concat(Enumerable.Repeat(1L, trailing)).ToArray()));
                }
                int variance = Record(node, OpKind.AddScalar, new[] { Column(4) }, scalar: FloatAttribute(node, "epsilon", 1e-5f));
                int factor = Record(node, OpKind.Mul, new[] { Column(1), Record(node, OpKind.Reciprocal, new[] { Record(node, OpKind.Sqrt, new[] { variance }) }) });
                int centered = Record(node, OpKind.Add, new[] { Act(node, x), Record(node, OpKind.MulScalar, new[] { Column(3) }, scalar: -1f) });
                Activation(node, Output(node), OpKind.Add, new[] { Record(node, OpKind.Mul, new[] { centered, factor }), Column(2) }, rank);
                return;
            }
            string[] parts = { "weight", "bias", "running_mean", "running_var" };
            for (int i = 0; i < 4; i++) _weights.Add(new(name + "." + parts[i], Const(node, Input(node, i + 1))));
            Activation(node, Output(node), OpKind.BatchNorm, new[] { Act(node, x) }, RankOf(x), name, FloatAttribute(node, "epsilon", 1e-5f));
        }
    }
}
