// ONNX operators of the layout family, each lowered onto the op catalogue's kinds (the table is OnnxImporter.Operators).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>Identity, Dropout.</summary>
        private void LowerIdentity(OnnxNode node, string name)
        {
            Alias(node, Input(node, 0), Output(node));
        }

        /// <summary>Dropout at inference: the identity. In training mode (a third input that is not a constant false) it draws random masks, which a compiled model does not.</summary>
        private void LowerDropout(OnnxNode node, string name)
        {
            if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0
                && !(_constants.TryGetValue(node.Inputs[2], out OnnxConstant? training) && training.PlainLongs is { Length: 1 } t && t[0] == 0))
                throw Unsupported(node, "Dropout in training mode (training_mode not a constant false) draws random masks; a compiled model runs inference");
            if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0)
                throw Unsupported(node, "Dropout's mask output is not supported");
            Alias(node, Input(node, 0), Output(node));
        }

        /// <summary>Constant.</summary>
        private void LowerConstant(OnnxNode node, string name)
        {
            OnnxAttribute? value = node.Attributes.FirstOrDefault(a => a.Name == "value");
            if (value?.T is null) throw Unsupported(node, "only a 'value' tensor is supported");
            _constants[Output(node)] = Read(value.T, node);
        }

        /// <summary>Gather.</summary>
        private void LowerGather(OnnxNode node, string name)
        {
            // x[:, i] and x[:, [i, j, …]] with known indices; an embedding lookup would need integer inputs.
            string x = Input(node, 0);
            if (_indices.TryGetValue(Input(node, 1), out int tokenIds) && _constants.ContainsKey(x))
            {
                // An embedding: rows of a [count, d] table picked by the token ids.
                OnnxConstant table = Const(node, x);
                if (table.Floats is null || table.Dims.Length != 2 || IntAttribute(node, "axis", 0) != 0)
                    throw Unsupported(node, "only a float32 [count, d] table indexed along axis 0 is supported");
                _weights.Add(new(name + ".weight", table));
                _activations[Output(node)] = Record(node, OpKind.Embedding, new[] { tokenIds }, name);
                _ranks[Output(node)] = RankOf(Input(node, 1)) + 1;
                return;
            }
            if (!_activations.ContainsKey(x))
                throw Unsupported(node, "looking values up by indices computed at run time is supported only for an embedding table indexed by the input cast to integers");
            int rank = RankOf(x);
            int axis = SampleAxis(node, IntAttribute(node, "axis", 0), rank);
            if (!_constants.ContainsKey(Input(node, 1)))
            {
                // Indices known only at run time: ONNX's output takes the indices' dimensions whole, their first included,
                // so with the batch first it would mix samples; compiled whole it is one Gather kernel.
                if (!_whole) throw Unsupported(node, "indices computed at run time are supported where the graph is compiled whole (every dimension fixed, by the file or by Dims)");
                int indexRank = RankOf(Input(node, 1)) - Lead;
                Activation(node, Output(node), OpKind.GatherAlong, new[] { Act(node, x), Act(node, Input(node, 1)) }, rank - 1 + indexRank,
                    settings: new GatherSettings(axis - 1, Elements: false));
                return;
            }
            OnnxConstant indices = Const(node, Input(node, 1));
            long[] picks = indices.PlainLongs ?? throw Unsupported(node, "the indices must be integer constants");
            if (indices.Dims.Length > 1 || picks.Length == 0) throw Unsupported(node, "only a scalar or a non-empty list of indices is supported");
            int size = SampleShape(node, x)[axis - 1];
            int[] at = picks.Select(i => i < 0 ? i + size : i).Select(i => i >= 0 && i < size ? (int)i : throw Unsupported(node, $"index {i} is outside an axis of {size}")).ToArray();
            int runs = 1 + Enumerable.Range(1, at.Length - 1).Count(i => at[i] != at[i - 1] + 1);
            if (runs > 64) throw Unsupported(node, $"{runs} separate runs of indices: at most 64 are supported (each is one copy)");
            int a = Act(node, x), result = -1;
            // Runs of consecutive indices become one slice each, joined.
            for (int start = 0; start < at.Length;)
            {
                int end = start + 1;
                while (end < at.Length && at[end] == at[end - 1] + 1) end++;
                int slice = Record(node, OpKind.Slice, new[] { a }, settings: new SliceSettings(axis - 1, at[start], at[end - 1] + 1, SliceOrigin.Exact));
                result = result < 0 ? slice : Record(node, OpKind.Concat, new[] { result, slice }, settings: new AxisSettings(axis - 1));
                start = end;
            }
            if (indices.Dims.Length == 0) result = Record(node, OpKind.Squeeze, new[] { result }, settings: new AxisSettings(axis - 1));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = indices.Dims.Length == 0 ? rank - 1 : rank;
        }

        /// <summary>GatherElements: each output value picked along the axis by its own index (a value, or a constant), Kernels.Gather.</summary>
        private void LowerGatherElements(OnnxNode node, string name)
        {
            string x = Input(node, 0), indices = Input(node, 1);
            int rank = RankOf(x);
            int axis = SampleAxis(node, IntAttribute(node, "axis", 0), rank);
            int index;
            if (_constants.TryGetValue(indices, out OnnxConstant? known))
            {
                // Constant indices are one set for every sample: with the batch first, their first dimension must be 1.
                OnnxConstant numbers = AsFloats(known);
                if (numbers.Floats is null || numbers.Dims.Length != rank - Lead || !_whole && numbers.Dims[0] != 1)
                    throw Unsupported(node, $"constant indices {known.Describe()} must have the data's rank{(_whole ? "" : " and a first dimension of 1 (one set for every sample)")}");
                index = Parameter(node, indices, numbers.Reshaped(numbers.Dims.Skip(_whole ? 0 : 1).ToArray()));
            }
            else index = Act(node, indices);
            Activation(node, Output(node), OpKind.GatherAlong, new[] { Act(node, x), index }, rank, settings: new GatherSettings(axis - 1, Elements: true));
        }

        /// <summary>
        /// ScatterElements (and Scatter, its name before opset 11) and ScatterND: the data with updates written where the
        /// indices say, or combined by the <c>reduction</c> (add, mul, max, min); Kernels.Scatter. Data, indices and updates
        /// may each be a value or a constant (a cache of zeros, say). ScatterND's index tuples name places in the whole
        /// tensor, so its graph must be compiled whole; ScatterElements' indices have the data's rank, per sample.
        /// </summary>
        private void LowerScatter(OnnxNode node, string name, bool elements)
        {
            string data = Input(node, 0), indices = Input(node, 1), updates = Input(node, 2);
            int rank = RankOf(data);
            string reduction = Text(node, "reduction", "none");
            ScatterReduction how = reduction switch
            {
                "none" => ScatterReduction.None,
                "add" => ScatterReduction.Add,
                "mul" => ScatterReduction.Mul,
                "max" => ScatterReduction.Max,
                "min" => ScatterReduction.Min,
                _ => throw Unsupported(node, $"reduction '{reduction}' is not one of none, add, mul, max, min"),
            };
            if (_constants.ContainsKey(data) && _constants.ContainsKey(indices) && _constants.ContainsKey(updates))
                throw Unsupported(node, "a scatter of constants alone is not folded; one of its inputs must be computed");
            if (!elements && !_whole)
                throw Unsupported(node, "ScatterND's indices name places across the whole tensor, the batch included: it is supported where the graph is compiled whole (every dimension fixed, by the file or by Dims)");
            int PerSample(string value)
            {
                if (!_constants.TryGetValue(value, out OnnxConstant? c)) return Act(node, value);
                OnnxConstant numbers = AsFloats(c);
                if (numbers.Floats is null) throw Unsupported(node, $"constant '{value}' must be numbers");
                if (_whole) return Parameter(node, value, numbers);
                if (numbers.Dims.Length == 0 || numbers.Dims[0] != 1) throw Unsupported(node, $"constant '{value}' {c.Describe()} must have a first dimension of 1 (one set for every sample)");
                return Parameter(node, value, numbers.Reshaped(numbers.Dims.Skip(1).ToArray()));
            }
            int axis = elements ? SampleAxis(node, IntAttribute(node, "axis", 0), rank) - 1 : 0;
            Activation(node, Output(node), OpKind.ScatterAlong, new[] { PerSample(data), PerSample(indices), PerSample(updates) }, rank,
                settings: new ScatterSettings(axis, elements, how));
        }

        /// <summary>Split.</summary>
        private void LowerSplit(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            int axis = SampleAxis(node, IntAttribute(node, "axis", 0), rank);
            int size = SampleShape(node, x)[axis - 1];
            long[] sizes;
            if (_model.DefaultOpset < 13) sizes = node.Attributes.FirstOrDefault(a => a.Name == "split")?.Ints.ToArray() ?? Array.Empty<long>();
            else if (node.Inputs.Count > 1 && node.Inputs[1].Length > 0) sizes = Const(node, node.Inputs[1]).PlainLongs ?? throw Unsupported(node, "the sizes must be integer constants");
            else sizes = Array.Empty<long>();
            int parts = node.Outputs.Count;
            if (sizes.Length == 0)
            {
                // Equal parts; opset 18's num_outputs lets the last be smaller.
                long each = (size + parts - 1) / parts;
                sizes = Enumerable.Range(0, parts).Select(i => Math.Max(0, Math.Min(each, size - i * each))).ToArray();
            }
            if (sizes.Length != parts || sizes.Any(v => v <= 0) || sizes.Sum() != size)
                throw Unsupported(node, $"sizes [{string.Join(", ", sizes)}] do not split an axis of {size} into {parts} non-empty parts");
            int a = Act(node, x), offset = 0;
            for (int i = 0; i < parts; i++)
            {
                if (node.Outputs[i].Length > 0)
                {
                    _activations[node.Outputs[i]] = Record(node, OpKind.Slice, new[] { a }, settings: new SliceSettings(axis - 1, offset, offset + (int)sizes[i], SliceOrigin.Exact));
                    _ranks[node.Outputs[i]] = rank;
                }
                offset += (int)sizes[i];
            }
        }

        /// <summary>Unsqueeze, Squeeze.</summary>
        private void LowerUnsqueeze(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            bool unsqueeze = node.OpType == "Unsqueeze";
            long[] raw = Axes(node, 13);
            // Squeeze without axes removes every dimension of 1 (of the sample: the batch stays).
            if (raw.Length == 0 && !unsqueeze) raw = SampleShape(node, x).Select((d, i) => (d, i)).Where(p => p.d == 1).Select(p => (long)(p.i + 1 - Lead)).ToArray();
            if (raw.Length == 0) throw Unsupported(node, unsqueeze ? "the axes must be given" : "no dimension is 1");
            int outputRank = unsqueeze ? rank + raw.Length : rank;
            int[] axes = raw.Select(a => (int)(a < 0 ? a + outputRank - Lead : a) + Lead).Distinct().OrderBy(a => a).ToArray();
            if (axes.Length != raw.Length || axes.Any(a => a <= 0 || a >= outputRank)) throw Unsupported(node, $"axes [{string.Join(", ", raw)}]: only sample axes (not the batch) are supported");
            int result = Act(node, x);
            // Unsqueeze inserts at output positions in ascending order; Squeeze removes input positions from the last.
            foreach (int a in unsqueeze ? axes : Enumerable.Reverse(axes))
                result = Record(node, unsqueeze ? OpKind.Unsqueeze : OpKind.Squeeze, new[] { result }, settings: new AxisSettings(a - 1));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = unsqueeze ? rank + axes.Length : rank - axes.Length;
        }

        /// <summary>Slice.</summary>
        private void LowerSlice(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            long[] starts, ends, axes, steps = Array.Empty<long>();
            if (_model.DefaultOpset < 10)
            {
                // Slice-1: the bounds and axes are attributes.
                long[] Ints(string attribute) => node.Attributes.FirstOrDefault(a => a.Name == attribute)?.Ints.ToArray() ?? Array.Empty<long>();
                starts = Ints("starts");
                ends = Ints("ends");
                axes = node.Attributes.Any(a => a.Name == "axes") ? Ints("axes") : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            }
            else
            {
                starts = Const(node, Input(node, 1)).PlainLongs ?? throw Unsupported(node, "starts must be integer constants");
                ends = Const(node, Input(node, 2)).PlainLongs ?? throw Unsupported(node, "ends must be integer constants");
                axes = node.Inputs.Count > 3 && node.Inputs[3].Length > 0
                    ? Const(node, node.Inputs[3]).PlainLongs ?? throw Unsupported(node, "axes must be integer constants")
                    : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
                if (node.Inputs.Count > 4 && node.Inputs[4].Length > 0)
                    steps = Const(node, node.Inputs[4]).PlainLongs ?? throw Unsupported(node, "steps must be integer constants");
            }
            if (steps.Length == 0) steps = Enumerable.Repeat(1L, starts.Length).ToArray();
            if (steps.Length != starts.Length || steps.Any(v => v == 0)) throw Unsupported(node, $"steps [{string.Join(", ", steps)}] must give one non-zero step per axis");
            if (starts.Length != ends.Length || axes.Length != starts.Length) throw Unsupported(node, "starts, ends and axes differ in length");
            int result = Act(node, x);
            for (int i = 0; i < axes.Length; i++)
            {
                int axis = SampleAxis(node, axes[i], rank);
                // Bounds as ONNX writes them ("to the end" is INT64_MAX), clamped by shape inference (the -1 flag).
                int Clamp(long v) => (int)Math.Max(int.MinValue / 2, Math.Min(int.MaxValue / 2, v));
                if (steps[i] != 1)
                {
                    // Every step-th value (backwards for a negative step, as x[::-1]): one table pass picking them, ONNX's clamping.
                    long size = SampleShape(result)[axis - 1], step = steps[i];
                    long first = starts[i] < 0 ? starts[i] + size : starts[i], last = ends[i] < 0 ? ends[i] + size : ends[i];
                    (first, last) = step > 0 ? (Math.Max(0, Math.Min(size, first)), Math.Max(0, Math.Min(size, last))) : (Math.Max(0, Math.Min(size - 1, first)), Math.Max(-1, Math.Min(size - 1, last)));
                    long count = step > 0 ? (last - first + step - 1) / step : (first - last - step - 1) / -step;
                    if (count <= 0) throw Unsupported(node, $"the slice [{starts[i]}:{ends[i]}:{step}] of an axis of {size} is empty");
                    result = Remap(node, name + ".step" + i.ToString(CultureInfo.InvariantCulture), result, axis - 1, count, j => first + j * step);
                    continue;
                }
                result = Record(node, OpKind.Slice, new[] { result }, settings: new SliceSettings(axis - 1, Clamp(starts[i]), Clamp(ends[i]), SliceOrigin.Clamped));
            }
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>Pad.</summary>
        private void LowerPad(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x), fileRank = rank - Lead;
            // Pads and the fill value: attributes before opset 11, inputs from it on.
            long[] pads;
            float fill = 0f;
            if (_model.DefaultOpset < 11)
            {
                pads = node.Attributes.FirstOrDefault(a => a.Name == "pads")?.Ints.ToArray() ?? throw Unsupported(node, "the pads attribute is missing");
                fill = FloatAttribute(node, "value", 0f);
            }
            else
            {
                pads = Const(node, Input(node, 1)).PlainLongs ?? throw Unsupported(node, "the pads must be integer constants");
                if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
                {
                    OnnxConstant value = Const(node, node.Inputs[2]);
                    if (value.Count != 1 || value.Floats is null) throw Unsupported(node, "the constant value must be one float");
                    fill = value.Floats[0];
                }
                if (node.Inputs.Count > 3 && node.Inputs[3].Length > 0) throw Unsupported(node, "the axes input is not supported; give pads for every axis");
            }
            if (pads.Length != 2 * fileRank || pads.Any(p => Math.Abs(p) > 1 << 24)) throw Unsupported(node, $"pads [{string.Join(", ", pads)}] do not fit {fileRank} axes");
            // PyTorch writes a Pad of zeros before some pools: the identity.
            if (pads.All(p => p == 0))
            {
                Alias(node, x, Output(node));
                return;
            }
            string mode = Text(node, "mode", "constant");
            if (mode is not ("constant" or "reflect" or "edge" or "wrap")) throw Unsupported(node, $"mode '{mode}' is not one ONNX defines");
            int[] sample = (int[])SampleShape(node, x).Clone(); // updated axis by axis below
            int result = Act(node, x);
            for (int d = 0; d < fileRank; d++)
            {
                long begin = pads[d], end = pads[fileRank + d];
                if (begin == 0 && end == 0) continue;
                int axis = d + Lead - 1; // the sample's dimension
                if (axis < 0) throw Unsupported(node, "the batch cannot be padded");
                // Each output reads one input (or the fill), a table of one tap: ONNX's index mappings, numpy's pad modes.
                int length = sample[axis];
                long outLength = length + begin + end;
                if (outLength < 1 || outLength > 1 << 24) throw Unsupported(node, $"axis {d} of {length} would have {outLength} values");
                if (mode == "reflect" && (begin >= length || end >= length) && length > 1) throw Unsupported(node, $"reflect padding of {Math.Max(begin, end)} needs more than {length} values");
                long period = 2L * (length - 1);
                result = Remap(node, name + ".pad" + d.ToString(CultureInfo.InvariantCulture), result, axis, outLength, j =>
                {
                    long p = j - begin;
                    return p >= 0 && p < length ? p : mode switch
                    {
                        "edge" => Math.Max(0, Math.Min(length - 1, p)),
                        "wrap" => (p % length + length) % length,
                        "reflect" when length == 1 => 0,
                        "reflect" => (p % period + period) % period is var r && r >= length ? period - r : (p % period + period) % period,
                        _ => -1,
                    };
                }, fill);
                sample[axis] = (int)outLength;
            }
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>
        /// One sample axis remapped (padded, cropped, spread out, strided or reversed): output j is input <c>index(j)</c>, or
        /// <paramref name="fill"/> where that is −1 — a table of one tap per output (a weight named after <paramref name="weight"/>)
        /// for the AxisResample kernel, vectorized across the axes after it. Pad, Slice's steps, a convolution's padding and
        /// spreading, and ArgMax's select_last_index are all this.
        /// </summary>
        private int Remap(OnnxNode node, string weight, int value, int axis, long outLength, Func<long, long> index, float fill = 0f)
        {
            if (outLength < 1 || outLength > 1 << 24) throw Unsupported(node, $"axis {axis} would have {outLength} values");
            var table = new float[outLength * 2];
            for (long j = 0; j < outLength; j++)
            {
                table[2 * j] = index(j);
                table[2 * j + 1] = 1f;
            }
            int taps = Parameter(node, weight, new OnnxConstant(new[] { outLength, 1, 2 }, table, null));
            return Record(node, OpKind.AxisResample, new[] { value, taps }, settings: new AxisResampleSettings(axis, (int)outLength, 1, fill));
        }

        /// <summary>Cast.</summary>
        private void LowerCast(OnnxNode node, string name)
        {
            // Every value is float32 inside: a cast between float types, or from integers or booleans to floats, changes
            // nothing (float64 and float16 are computed in float32); from floats to integers it truncates toward zero; to
            // bool it is 1 where the value is not 0 (NaN included).
            long to = IntAttribute(node, "to", 0);
            string x = Input(node, 0);
            int a = Act(node, x);
            ElementType target = (OnnxDataType)to == OnnxDataType.Double ? ElementType.Float32
                : ElementTypeOf((OnnxDataType)to) ?? throw Unsupported(node, $"a cast to {(OnnxDataType)to} is not supported");
            ElementType source = TypeOf(x);
            if (target.IsInteger() && target != ElementType.Bool && _activations.TryGetValue(x, out int ids))
                // Token ids given as floats, cast for a Gather from an embedding table: looked up as they are by the
                // Embedding kernel, which checks they are whole numbers in range.
                _indices[Output(node)] = source.IsInteger() && _indices.TryGetValue(x, out int given) ? given : ids;
            int result = target == ElementType.Bool ? (source == ElementType.Bool ? a : Record(node, OpKind.Abs, new[] { Record(node, OpKind.Sign, new[] { a }) }))
                : target.IsInteger() && !source.IsInteger() ? Truncated(node, a)
                : a;
            _activations[Output(node)] = result;
            _ranks[Output(node)] = RankOf(x);
        }

        /// <summary>Transpose.</summary>
        private void LowerTranspose(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            List<long> perm = node.Attributes.FirstOrDefault(a => a.Name == "perm")?.Ints ?? Enumerable.Range(0, rank - Lead).Reverse().Select(i => (long)i).ToList();
            if (_whole)
            {
                // Compiled whole, every axis of the file is an axis of the sample.
                if (perm.Count != rank - 1 || perm.Distinct().Count() != perm.Count || perm.Any(p => p < 0 || p >= perm.Count))
                    throw Unsupported(node, $"perm [{string.Join(", ", perm)}] does not order the {rank - 1} axes");
                Activation(node, Output(node), OpKind.Permute, new[] { Act(node, x) }, rank, settings: new PermuteSettings(perm.Select(p => (int)p).ToEquatableArray()));
                return;
            }
            if (perm.Count != rank || perm[0] != 0)
                throw Unsupported(node, $"perm [{string.Join(", ", perm)}]: the batch (axis 0) must stay first"
                    + (rank == 3 && perm.Count == 3 && perm[0] == 1 && perm[1] == 0
                        ? " (this is how nn.MultiheadAttention's export runs sequence-first; write the attention batch-first, or declare the model in C# with MultiHeadAttention: docs/onnx.md)"
                        : ""));
            Activation(node, Output(node), OpKind.Permute, new[] { Act(node, x) }, rank, settings: new PermuteSettings(perm.Skip(1).Select(p => (int)p - 1).ToEquatableArray()));
        }

        /// <summary>Concat.</summary>
        private void LowerConcat(OnnxNode node, string name)
        {
            int rank = RankOf(Input(node, 0));
            int axis = SampleAxis(node, IntAttribute(node, "axis", 0), rank);
            int joined = Act(node, Input(node, 0));
            for (int i = 1; i < node.Inputs.Count; i++)
                joined = Record(node, OpKind.Concat, new[] { joined, Act(node, Input(node, i)) }, settings: new AxisSettings(axis - 1));
            _activations[Output(node)] = joined;
            _ranks[Output(node)] = rank;
        }

        /// <summary>Flatten.</summary>
        private void LowerFlatten(OnnxNode node, string name)
        {
            // A matrix: the dimensions before the axis are its rows, the rest its columns.
            string x = Input(node, 0);
            int rank = RankOf(x);
            long raw = IntAttribute(node, "axis", 1);
            long axis = (raw < 0 ? raw + rank - Lead : raw) + Lead;
            if (axis == 1 && !_whole)
            {
                Activation(node, Output(node), OpKind.Flatten, new[] { Act(node, x) }, 2);
                return;
            }
            // With the batch first, any other axis would make rows of several samples.
            if (!_whole || axis < 1 || axis > rank) throw Unsupported(node, $"axis {raw}: only axis 1 (keep the batch, flatten the rest) is supported when the first dimension is the batch");
            int[] sample = SampleShape(node, x);
            int rows = sample.Take((int)axis - 1).Aggregate(1, (p, d) => checked(p * d)), columns = sample.Skip((int)axis - 1).Aggregate(1, (p, d) => checked(p * d));
            int[] shape = { rows, columns };
            Activation(node, Output(node), OpKind.Reshape, new[] { Act(node, x) }, 2 + Lead, settings: new ReshapeSettings(new EquatableArray<int>(shape)));
        }

        /// <summary>Reshape.</summary>
        private void LowerReshape(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            OnnxConstant shape = Const(node, Input(node, 1));
            long[] dims = shape.Longs ?? throw Unsupported(node, "the shape must be an integer constant");
            bool[] batch = shape.Batch ?? new bool[dims.Length];
            if (_whole)
            {
                // Compiled whole: every dimension is the sample's (0 copies the input's, -1 is what is left).
                if (dims.Length == 0) throw Unsupported(node, "a reshape to a scalar is not supported");
                bool allowZeros = IntAttribute(node, "allowzero", 0) != 0;
                int[] from = SampleShape(node, x);
                int[] to = dims.Select((d, i) => d != 0 ? (int)Math.Max(-1, Math.Min(int.MaxValue, d))
                    : !allowZeros && i < from.Length ? from[i] : throw Unsupported(node, $"shape {shape.Describe()}: a 0 here has no dimension to copy")).ToArray();
                Activation(node, Output(node), OpKind.Reshape, new[] { Act(node, x) }, dims.Length + 1, settings: new ReshapeSettings(new EquatableArray<int>(to)));
                return;
            }
            // The first dimension stays the batch: the batch itself (computed from Shape), -1, 0 (copy), or the 1 a
            // file with a fixed batch writes. The batch anywhere else would mix samples: not per-sample code.
            if (dims.Length < 2 || !(batch[0] ? dims[0] == 1 : dims[0] is -1 or 0 or 1) || batch.Skip(1).Any(b => b))
                throw Unsupported(node, $"shape {shape.Describe()}: the first dimension must stay the batch, and no other may depend on it");
            bool allowZero = IntAttribute(node, "allowzero", 0) != 0;
            int[] input = SampleShape(node, x);
            int[] sample = dims.Skip(1).Select((d, i) => d != 0 ? (int)d
                : !allowZero && i < input.Length ? input[i] : throw Unsupported(node, $"shape {shape.Describe()}: a 0 here has no dimension to copy")).ToArray();
            Activation(node, Output(node), OpKind.Reshape, new[] { Act(node, x) }, dims.Length, settings: new ReshapeSettings(new EquatableArray<int>(sample)));
        }

        /// <summary>DepthToSpace (DCR and CRD), SpaceToDepth: a reshape, one strided copy, a reshape, as ONNX defines them.</summary>
        private void LowerDepthToSpace(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int[] sample = SampleShape(node, x);
            if (sample.Length != 3 + Lead) throw Unsupported(node, "the input must be [N, C, H, W]");
            int b = (int)IntAttribute(node, "blocksize", 0);
            int[] lead = sample.Take(Lead).ToArray();
            int c = sample[Lead], h = sample[Lead + 1], w = sample[Lead + 2];
            int[] split, order, joined;
            if (b <= 0 || b > 1 << 10) throw Unsupported(node, $"blocksize {b} is not a positive number");
            if (node.OpType == "SpaceToDepth")
            {
                if (h % b != 0 || w % b != 0) throw Unsupported(node, $"[{h}, {w}] does not split into blocks of {b}");
                split = new[] { c, h / b, b, w / b, b };
                order = new[] { 2, 4, 0, 1, 3 };
                joined = new[] { checked(c * b * b), h / b, w / b };
            }
            else
            {
                if (c % (b * b) != 0) throw Unsupported(node, $"{c} channels do not split into blocks of {b}×{b}");
                bool crd = Text(node, "mode", "DCR") == "CRD";
                split = crd ? new[] { c / (b * b), b, b, h, w } : new[] { b, b, c / (b * b), h, w };
                order = crd ? new[] { 0, 3, 1, 4, 2 } : new[] { 2, 3, 0, 4, 1 };
                joined = new[] { c / (b * b), checked(h * b), checked(w * b) };
            }
            // With the graph compiled whole, the file's batch leads the sample and stays where it is.
            int[] Lead_(int[] dims) => lead.Concat(dims).ToArray();
            int result = Record(node, OpKind.Reshape, new[] { Act(node, x) }, settings: new ReshapeSettings(new EquatableArray<int>(Lead_(split))));
            result = Record(node, OpKind.Permute, new[] { result }, settings: new PermuteSettings(new EquatableArray<int>(
                Enumerable.Range(0, Lead).Concat(order.Select(o => o + Lead)).ToArray())));
            result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(Lead_(joined))));
            _activations[Output(node)] = result;
            _ranks[Output(node)] = RankOf(x);
        }

        /// <summary>Tile with known repeats: each repeated axis the input joined to itself (Concat), at most 64 times an axis.</summary>
        private void LowerTile(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            long[] repeats = Const(node, Input(node, 1)).PlainLongs ?? throw Unsupported(node, "the repeats must be integer constants");
            if (repeats.Length != rank - Lead) throw Unsupported(node, $"{repeats.Length} repeats for a rank-{rank - Lead} input");
            if (repeats.Any(r => r < 1 || r > 64)) throw Unsupported(node, $"repeats [{string.Join(", ", repeats)}]: each must be 1 to 64");
            int result = Act(node, x);
            for (int d = 0; d < repeats.Length; d++)
            {
                if (repeats[d] == 1) continue;
                int axis = d + Lead;
                if (axis == 0) throw Unsupported(node, "the batch (axis 0) cannot be repeated");
                int once = result;
                for (long k = 1; k < repeats[d]; k++) result = Record(node, OpKind.Concat, new[] { result, once }, settings: new AxisSettings(axis - 1));
            }
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>Expand to a known shape: an Add of zeros of that shape, broadcasting (no new kernel; the batch is not expanded).</summary>
        private void LowerExpand(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            OnnxConstant shape = Const(node, Input(node, 1));
            long[] dims = shape.Longs ?? throw Unsupported(node, "the shape must be an integer constant");
            bool[] batch = shape.Batch ?? new bool[dims.Length];
            // The batch (a symbol in a folded shape, or a 1 where the input has the batch) is not the zeros' to set.
            int fileRank = rank - Lead, outputRank = Math.Max(fileRank, dims.Length);
            var zeros = new List<long>();
            for (int d = 0; d < dims.Length; d++)
            {
                int position = outputRank - dims.Length + d;
                bool atBatch = !_whole && position == 0;
                if (atBatch && !(batch[d] || dims[d] == 1)) throw Unsupported(node, $"shape {shape.Describe()}: the batch cannot be expanded");
                if (batch.Skip(d).Take(1).Any(v => v) && !atBatch) throw Unsupported(node, $"shape {shape.Describe()}: the batch can only be the first dimension");
                if (!atBatch) zeros.Add(Math.Max(1, dims[d]));
            }
            if (zeros.Any(z => z > int.MaxValue) || SizeMath.Product(zeros) > SizeMath.MaxElements) throw Unsupported(node, $"shape {shape.Describe()} is too large");
            if (zeros.All(z => z == 1) && dims.Length <= fileRank)
            {
                Alias(node, x, Output(node));
                return;
            }
            int parameter = Parameter(node, name + ".zeros", new OnnxConstant(zeros.ToArray(), new float[SizeMath.Product(zeros)], null));
            Activation(node, Output(node), OpKind.Add, new[] { Act(node, x), parameter }, outputRank + Lead);
        }

        /// <summary>
        /// Resize and Upsample, nearest, where every spatial axis grows by a whole factor and each output reads the input
        /// at its index divided by the factor (checked with ONNX's coordinate transform and rounding for every output
        /// index): each value repeated — a view, a broadcast Add of zeros, a view. Linear and cubic modes, and other
        /// nearest patterns, are MC0013.
        /// </summary>
        private void LowerResize(OnnxNode node, string name)
        {
            string x = Input(node, 0);
            int rank = RankOf(x);
            int[] sample = SampleShape(node, x);
            string mode = Text(node, "mode", "nearest");
            if (mode == "bilinear") mode = "linear"; // Upsample (opset 7) spells it so
            if (mode is not ("nearest" or "linear" or "cubic")) throw Unsupported(node, $"mode '{mode}' is not one ONNX defines");
            if (IntAttribute(node, "antialias", 0) != 0) throw Unsupported(node, "antialias is not supported");
            if (node.Attributes.Any(a => a.Name == "axes")) throw Unsupported(node, "the axes attribute is not supported; give a scale or size for every axis");
            if (Text(node, "keep_aspect_ratio_policy", "stretch") != "stretch") throw Unsupported(node, "only keep_aspect_ratio_policy 'stretch' is supported");
            // Scales: an attribute (Upsample before opset 9), input 1 (Upsample, Resize 10), input 2 (Resize 11 on); or sizes, input 3.
            float[]? scales = null;
            long[]? sizes = null;
            int scalesInput = node.OpType == "Upsample" || _model.DefaultOpset < 11 ? 1 : 2;
            if (node.Attributes.FirstOrDefault(a => a.Name == "scales") is { } attribute) scales = attribute.Floats.ToArray();
            else if (node.Inputs.Count > scalesInput && node.Inputs[scalesInput].Length > 0 && Const(node, node.Inputs[scalesInput]) is { Count: > 0 } s)
                scales = s.Floats ?? throw Unsupported(node, "the scales must be float32 constants");
            if (scales is null && node.Inputs.Count > 3 && node.Inputs[3].Length > 0)
            {
                // Exporters compute sizes from Shape(x): the first may be the batch itself (then it stays what it is).
                OnnxConstant given = Const(node, node.Inputs[3]);
                sizes = given.Longs?.ToArray() ?? throw Unsupported(node, "the sizes must be integer constants");
                if (given.HasBatch)
                {
                    if (Lead != 0 || !given.Batch![0] || sizes[0] != 1 || given.Batch.Skip(1).Any(b => b)) throw Unsupported(node, "only the first size may be the batch, unchanged");
                    sizes[0] = 1;
                }
            }
            int fileRank = rank - Lead;
            if ((scales?.Length ?? sizes?.Length ?? -1) != fileRank) throw Unsupported(node, $"the scales or sizes must give one value for each of the {fileRank} axes");
            string transform = Text(node, "coordinate_transformation_mode", "half_pixel"), rounding = Text(node, "nearest_mode", node.OpType == "Upsample" ? "floor" : "round_prefer_floor");
            if (node.OpType == "Upsample" || _model.DefaultOpset < 11) transform = "asymmetric";
            var inputs = new int[fileRank];
            var outputs = new int[fileRank];
            var ratios = new double[fileRank];
            for (int d = 0; d < fileRank; d++)
            {
                int axis = d + Lead; // the internal axis; 0 is the batch
                inputs[d] = axis == 0 ? 1 : sample[axis - 1];
                double output = sizes is not null ? sizes[d] : Math.Floor(inputs[d] * (double)scales![d]);
                if (!(output >= 1) || output > SizeMath.MaxElements) throw Unsupported(node, $"axis {d} of {inputs[d]} would have {output} values");
                outputs[d] = (int)output;
                ratios[d] = sizes is not null ? output / inputs[d] : scales![d];
                if (axis == 0 && outputs[d] != 1) throw Unsupported(node, "the batch cannot be resized");
            }
            int result = Act(node, x);
            if (mode == "nearest" && NearestRepeat(node, inputs, outputs, ratios, transform, rounding, Lead) is { } factors)
            {
                // Each value repeated a whole number of times: [… d …] → [… d, 1 …] + zeros [… 1, f …] → [… d·f …].
                if (factors.Any(f => f > 1))
                {
                    var spread = new List<int>();
                    var zeros = new List<long>();
                    for (int i = 0; i < sample.Length; i++)
                    {
                        spread.Add(sample[i]);
                        zeros.Add(1);
                        if (factors[i] <= 1) continue;
                        spread.Add(1);
                        zeros.Add(factors[i]);
                    }
                    result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(spread.ToArray())));
                    result = Record(node, OpKind.Add, new[] { result, Parameter(node, name + ".zeros", new OnnxConstant(zeros.ToArray(), new float[SizeMath.Product(zeros)], null)) });
                    int[] grown = sample.Select((v, i) => checked(v * Math.Max(1, factors[i]))).ToArray();
                    result = Record(node, OpKind.Reshape, new[] { result }, settings: new ReshapeSettings(new EquatableArray<int>(grown)));
                }
            }
            else
            {
                // Any other resize: one AxisResample pass per axis that changes, its taps and weights tabulated here as onnx's
                // reference computes them (the modes are separable).
                float cubicA = FloatAttribute(node, "cubic_coeff_a", -0.75f);
                bool excludeOutside = IntAttribute(node, "exclude_outside", 0) != 0;
                for (int d = Lead == 0 ? 1 : 0; d < fileRank; d++)
                {
                    (int taps, float[] table) = ResizeTable(node, mode, transform, rounding, cubicA, excludeOutside, inputs[d], outputs[d], ratios[d]);
                    if (IsIdentity(table, taps, inputs[d], outputs[d])) continue;
                    if ((long)outputs[d] * taps * 2 > 1 << 24) throw Unsupported(node, $"axis {d}: the resize table would be too large");
                    int table2 = Parameter(node, name + ".taps" + d.ToString(CultureInfo.InvariantCulture), new OnnxConstant(new long[] { outputs[d], taps, 2 }, table, null));
                    result = Record(node, OpKind.AxisResample, new[] { result, table2 }, settings: new AxisResampleSettings(d + Lead - 1, outputs[d], taps));
                }
            }
            _activations[Output(node)] = result;
            _ranks[Output(node)] = rank;
        }

        /// <summary>Nearest Resize where every output repeats one input a whole number of times (1 to 64): the factors, else null.</summary>
        private int[]? NearestRepeat(OnnxNode node, int[] inputs, int[] outputs, double[] ratios, string transform, string rounding, int lead)
        {
            var factors = new int[inputs.Length - (lead == 0 ? 1 : 0)];
            for (int d = 0; d < inputs.Length; d++)
            {
                if (outputs[d] % inputs[d] != 0 || outputs[d] / inputs[d] > 64) return null;
                int factor = outputs[d] / inputs[d];
                (int taps, float[] table) = ResizeTable(node, "nearest", transform, rounding, 0f, false, inputs[d], outputs[d], ratios[d]);
                for (int o = 0; o < outputs[d]; o++)
                    if ((int)table[2 * o * taps] != o / factor) return null;
                if (d + lead > 0) factors[d + lead - 1] = factor;
            }
            return factors;
        }

        /// <summary>Whether a table maps each output to the input at its own position (nothing to do).</summary>
        private static bool IsIdentity(float[] table, int taps, int length, int outLength)
        {
            if (length != outLength) return false;
            for (int j = 0; j < outLength; j++)
                for (int t = 0; t < taps; t++)
                {
                    float index = table[(j * taps + t) * 2], weight = table[(j * taps + t) * 2 + 1];
                    if (weight != 0f && (index != j || weight != 1f)) return false;
                }
            return true;
        }

        /// <summary>
        /// One axis of ONNX Resize as a table of taps, ported from onnx's reference (<c>op_resize.py</c>: the coordinate
        /// transformation, the n neighbours nearest to the source coordinate with edge padding, the nearest, linear or cubic
        /// coefficients, exclude_outside): for each output, (input index clamped into the axis, weight) pairs.
        /// </summary>
        private (int Taps, float[] Table) ResizeTable(OnnxNode node, string mode, string transform, string rounding, float cubicA, bool excludeOutside,
            int length, int outLength, double scale)
        {
            int n = mode switch { "cubic" => 4, _ => 2 }, taps = mode == "nearest" ? 1 : n;
            var table = new float[checked(outLength * taps * 2)];
            double outputWidth = scale * length;
            for (int j = 0; j < outLength; j++)
            {
                double x = transform switch
                {
                    "half_pixel" => (j + 0.5) / scale - 0.5,
                    "pytorch_half_pixel" => outputWidth > 1 ? (j + 0.5) / scale - 0.5 : 0,
                    "align_corners" => outputWidth == 1 ? 0 : j * (length - 1) / (outputWidth - 1),
                    "asymmetric" => j / scale,
                    "half_pixel_symmetric" => length / 2.0 * (1 - outLength / outputWidth) + (j + 0.5) / scale - 0.5,
                    "tf_half_pixel_for_nn" => (j + 0.5) / scale,
                    _ => throw Unsupported(node, $"coordinate_transformation_mode '{transform}' is not supported"),
                };
                if (double.IsNaN(x) || double.IsInfinity(x)) throw Unsupported(node, "the scales give no finite source coordinate");
                double floor = Math.Floor(x), ratio = x == floor ? 1 : x - floor;
                double[] coefficients = mode switch
                {
                    "linear" => new[] { 1 - ratio, ratio },
                    "cubic" => new[]
                    {
                        ((cubicA * (ratio + 1) - 5 * cubicA) * (ratio + 1) + 8 * cubicA) * (ratio + 1) - 4 * cubicA,
                        ((cubicA + 2) * ratio - (cubicA + 3)) * ratio * ratio + 1,
                        ((cubicA + 2) * (1 - ratio) - (cubicA + 3)) * (1 - ratio) * (1 - ratio) + 1,
                        ((cubicA * (1 - ratio + 1) - 5 * cubicA) * (1 - ratio + 1) + 8 * cubicA) * (1 - ratio + 1) - 4 * cubicA,
                    },
                    _ => x == floor ? new[] { 0.0, 1.0 } : rounding switch
                    {
                        "round_prefer_ceil" => ratio >= 0.5 ? new[] { 0.0, 1.0 } : new[] { 1.0, 0.0 },
                        "floor" => new[] { 1.0, 0.0 },
                        "ceil" => new[] { 0.0, 1.0 },
                        "round_prefer_floor" => ratio > 0.5 ? new[] { 0.0, 1.0 } : new[] { 1.0, 0.0 },
                        _ => throw Unsupported(node, $"nearest_mode '{rounding}' is not one ONNX defines"),
                    },
                };
                // The n integers nearest to x (ties to the lower), ascending: floor − n/2 + 1 … floor + n/2, or, at an integer,
                // x − n/2 … x + n/2 − 1 (where ratio is 1).
                long first = x == floor ? (long)floor - n / 2 : (long)floor - n / 2 + 1;
                if (excludeOutside)
                {
                    double total = 0;
                    for (int t = 0; t < n; t++)
                    {
                        if (first + t < 0 || first + t >= length) coefficients[t] = 0;
                        total += coefficients[t];
                    }
                    for (int t = 0; t < n; t++) coefficients[t] = total == 0 ? 0 : coefficients[t] / total;
                }
                int slot = 0;
                for (int t = 0; t < n; t++)
                {
                    if (mode == "nearest" && coefficients[t] == 0) continue;
                    table[(j * taps + slot) * 2] = Math.Max(0, Math.Min(length - 1, first + t));
                    table[(j * taps + slot) * 2 + 1] = (float)coefficients[t];
                    if (++slot == taps) break;
                }
            }
            return (taps, table);
        }
    }
}
