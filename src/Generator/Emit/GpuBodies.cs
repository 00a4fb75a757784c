using System;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Emit;

/// <summary>
/// The bodies of the GPU kernels that run one thread per output value: every kernel of the plan but the GEMMs, the row
/// reductions (softmax, LayerNorm) and attention with a group per query or block of queries (in GpuEmitter). Each body starts with <c>i</c> (the thread), <c>s</c> (its sample) and <c>t</c> (its place in the sample)
/// and reads the views <c>a</c>, <c>b</c>, <c>c</c>, <c>mask</c> and <c>w</c> (the weights), writing <c>y</c>; every size is
/// a constant of the plan. They follow the CPU kernels' semantics (same operand layouts, same epilogues), written
/// for clarity first: these are the small kernels around the GEMMs.
/// </summary>
internal static class GpuBodies
{
    private const string MathF = "global::System.MathF";

    public static void Write(SourceWriter w, KernelPlan k, Func<KernelPlan, string, string> chain)
    {
        switch (k.Op)
        {
            case ElementwiseOp or CopyOp:
                w.Line($"y[i] = {chain(k, "a[i]")};");
                break;

            case EmbeddingOp or GridSampleOp or GatherOp or ScatterOp:
                WriteGather(w, k.Op);
                break;

            case ReduceOp reduce:
                WriteReduce(w, reduce);
                break;

            case ChannelAffineOp affine:
                // A per-channel scale and shift from the weights (t: the value's index within its sample).
                string x = affine.Biased ? $"(a[i] + b[(int)(t / {affine.Spatial})])" : "a[i]";
                w.Line($"y[i] = {chain(k, $"{x} * w[{affine.ScaleOffset} + (int)(t / {affine.Spatial})] + w[{affine.ShiftOffset} + (int)(t / {affine.Spatial})]")};");
                break;

            case ConvOp { Algorithm: ConvAlgorithm.Winograd } winograd:
                WriteWinograd(w, k, winograd, chain);
                break;

            case ConvOp conv:
                WriteConvolution(w, k, conv, chain);
                break;

            case PoolOp pool:
                WritePool(w, pool);
                break;

            case HardmaxOp or AxisResampleOp or AxisPoolOp:
                WriteAlongAxis(w, k.Op);
                break;

            case GlobalAvgPoolOp pooled:
                WriteGlobalAvgPool(w, pooled);
                break;

            case BroadcastOp broadcast:
            {
                Index(w, broadcast.Shape.ToArray());
                string a = $"a[{Offset("s", broadcast.AStrides.ToArray())}]", b = $"b[{Offset("s", broadcast.BStrides.ToArray())}]";
                string value = broadcast.Operation switch
                {
                    KernelKind.Mul => $"{a} * {b}",
                    KernelKind.Maximum => $"{MathF}.Max({a}, {b})",
                    KernelKind.Minimum => $"{MathF}.Min({a}, {b})",
                    KernelKind.Binary => BinaryBody(broadcast.Function, a, b),
                    _ => $"{a} + {b}",
                };
                w.Line($"y[i] = {chain(k, value)};");
                break;
            }

            case StridedOp copy:
            {
                Index(w, copy.Shape.ToArray());
                string start = GpuEmitter.BackwardOffset(k) is { } offset ? $"{offset} + " : "";
                w.Line($"y[{Offset("s", copy.DestinationStrides.ToArray())}] = a[{start}{Offset("s", copy.SourceStrides.ToArray())}];");
                break;
            }

            case ConcatOp concat:
                WriteConcat(w, concat);
                break;

            case MatMulOp matMul:
                WriteMatMul(w, k, matMul, chain);
                break;

            case AttentionOp attention:
                WriteAttention(w, k, attention.Geometry);
                break;

            default:
                throw new InvalidOperationException($"no GPU form for {k.Op.GetType().Name}");
        }
    }

    /// <summary>The kernels that read (or write) where a value says (an embedding's ids, GridSample's grid, a scatter's indices): a thread per output value.</summary>
    private static void WriteGather(SourceWriter w, KernelOp op)
    {
        if (op is EmbeddingOp embedding) WriteEmbedding(w, embedding);
        else if (op is GatherOp gather) WriteGather(w, gather);
        else if (op is ScatterOp scatter) WriteScatter(w, scatter);
        else WriteGridSample(w, (GridSampleOp)op);
    }

    /// <summary>Gather, GatherElements: a thread per output value, its index from operand b; NaN for an index that names no place, as on the CPU.</summary>
    private static void WriteGather(SourceWriter w, GatherOp g)
    {
        w.Line($"const int Outer = {g.Outer}, Length = {g.Length}, Inner = {g.Inner}, Count = {g.Count};");
        w.Line("long o = t / ((long)Count * Inner); int j = (int)(t / Inner % Count), q = (int)(t % Inner);");
        w.Line(g.Elements ? $"float pick = b[s * {g.IndicesPerSample} + (o * Count + j) * Inner + q];" : $"float pick = b[s * {g.IndicesPerSample} + j];");
        w.Line($"bool whole = pick >= -Length && pick < Length && pick == {MathF}.Floor(pick);");
        w.Line("int at = whole ? (int)pick : 0; at = at < 0 ? at + Length : at;");
        w.Line("y[i] = whole ? a[s * ((long)Outer * Length * Inner) + (o * Length + at) * Inner + q] : float.NaN;");
    }

    /// <summary>
    /// ScatterElements, ScatterND: a thread per output value, the data's value combined with every update that targets it,
    /// in index order (so duplicate indices end as on the CPU; each thread reads all the updates' indices, so work grows
    /// as outputs × updates, for the small index sets exporters write). An index naming no place is skipped, as on the CPU.
    /// </summary>
    private static void WriteScatter(SourceWriter w, ScatterOp g)
    {
        string combine = g.Reduction switch
        {
            ScatterReduction.Add => "value += update;",
            ScatterReduction.Mul => "value *= update;",
            ScatterReduction.Max => $"value = {MathF}.Max(value, update);",
            ScatterReduction.Min => $"value = {MathF}.Min(value, update);",
            _ => "value = update;",
        };
        w.Line(g.Dims.Count == 0 ? $"const int Length = {g.Length}, Inner = {g.Inner}, Count = {g.Count};" : $"const int Inner = {g.Inner}, Count = {g.Count};");
        w.Line($"float value = a[s * {g.DataPerSample}L + t];");
        if (g.Dims.Count == 0)
        {
            w.Line("long o = t / ((long)Length * Inner); int at = (int)(t / Inner % Length), q = (int)(t % Inner);");
            w.Line("for (int j = 0; j < Count; j++)");
            w.Line("{");
            w.Line($"    float pick = b[s * {g.IndicesPerSample}L + (o * Count + j) * Inner + q];");
            w.Line($"    if (!(pick >= -Length && pick < Length && pick == {MathF}.Floor(pick))) continue;");
            w.Line("    int place = (int)pick; place = place < 0 ? place + Length : place;");
            w.Line("    if (place != at) continue;");
            w.Line($"    float update = c[s * {g.UpdatesPerSample}L + (o * Count + j) * Inner + q];");
            w.Line("    " + combine);
            w.Line("}");
        }
        else
        {
            int depth = g.Dims.Count;
            w.Line("long at = t / Inner; int q = (int)(t % Inner);");
            w.Line("for (int u = 0; u < Count; u++)");
            w.Line("{");
            w.Line("    long place = 0; bool valid = true;");
            for (int d = 0; d < depth; d++)
            {
                int size = g.Dims[d];
                w.Line($"    float i{d} = b[s * {g.IndicesPerSample}L + (long)u * {depth} + {d}];");
                w.Line($"    valid &= i{d} >= -{size} && i{d} < {size} && i{d} == {MathF}.Floor(i{d});");
                w.Line($"    place = place * {size} + (valid ? ((int)i{d} < 0 ? (int)i{d} + {size} : (int)i{d}) : 0);");
            }
            w.Line("    if (!valid || place != at) continue;");
            w.Line($"    float update = c[s * {g.UpdatesPerSample}L + (long)u * Inner + q];");
            w.Line("    " + combine);
            w.Line("}");
        }
        w.Line("y[i] = value;");
    }

    /// <summary>An embedding lookup: one table row per id.</summary>
    /// <summary>A function of two values on the GPU, as the CPU's operator struct computes it (Kernels/Operators).</summary>
    private static string BinaryBody(BinaryFunction function, string a, string b) => function switch
    {
        // In float32 (OpenCL devices may lack float64; ILGPU has no float remainder intrinsic): x − trunc(x / y) · y, and
        // x itself by an infinite y. The CPU computes these two in double: results agree within float32 rounding for
        // quotients below 2^24.
        // pow as exp(y · log|x|) (ILGPU has no pow intrinsic without its Algorithms library), with C's rules: x⁰ = 1ʸ = 1,
        // a negative base by a whole exponent signed by its parity, else NaN.
        BinaryFunction.Power => $"({b} == 0f || {a} == 1f ? 1f : {a} < 0f ? ({MathF}.Floor({b}) == {b} ? ({MathF}.Floor({b} * 0.5f) * 2f == {b} ? 1f : -1f) * GpuExp({b} * GpuLog(-{a})) : float.NaN) : GpuExp({b} * GpuLog({a})))",
        BinaryFunction.Remainder => $"(float.IsInfinity({b}) && !float.IsInfinity({a}) ? {a} : {a} - ({a} / {b} < 0f ? {MathF}.Ceiling({a} / {b}) : {MathF}.Floor({a} / {b})) * {b})",
        BinaryFunction.FloorRemainder => $"({a} - {MathF}.Floor({a} / {b}) * {b})",
        BinaryFunction.ScaleResidual => $"({a} + {a} * {b})",
        BinaryFunction.Greater => $"({a} > {b} ? 1f : 0f)",
        BinaryFunction.Less => $"({a} < {b} ? 1f : 0f)",
        BinaryFunction.GreaterOrEqual => $"({a} >= {b} ? 1f : 0f)",
        BinaryFunction.LessOrEqual => $"({a} <= {b} ? 1f : 0f)",
        BinaryFunction.Equal => $"({a} == {b} ? 1f : 0f)",
        BinaryFunction.NotEqual => $"({a} != {b} ? 1f : 0f)",
        BinaryFunction.Keep => $"({a} != 0f ? {b} : 0f)",
        _ => $"({a} != 0f ? 0f : {b})",
    };

    private static void WriteEmbedding(SourceWriter w, EmbeddingOp embedding)
    {
        // An id outside the table (or not whole) writes NaN: a kernel cannot throw; the host-span Predict checks ids first.
        w.Line($"const int Width = {embedding.Width}, Count = {embedding.TableRows};");
        w.Line("long row = i / Width; int j = (int)(i % Width);");
        w.Line("float id = a[row];");
        w.Line($"y[i] = id >= 0f && id < Count && id == {MathF}.Floor(id) ? w[{embedding.TableOffset} + (long)id * Width + j] : float.NaN;");
    }

    /// <summary>A reduction over one axis (Reduce.Run's definitions; LogSumExp from the largest value).</summary>
    private static void WriteReduce(SourceWriter w, ReduceOp reduce)
    {
        w.Line($"const int Reduce = {reduce.Reduced}, Inner = {reduce.Inner};");
        w.Line("long o = i / Inner; int n = (int)(i % Inner);");
        string x = "a[(o * Reduce + r) * Inner + n]";
        if (reduce.Reduction == ReduceKind.LogSumExp)
        {
            w.Line("float max = float.NegativeInfinity;");
            w.Line($"for (int r = 0; r < Reduce; r++) max = {MathF}.Max(max, {x});");
            w.Line("float sum = 0f;");
            w.Line($"for (int r = 0; r < Reduce; r++) sum += GpuExp({x} - max);");
            w.Line($"y[i] = float.IsInfinity(max) ? max : max + GpuLog(sum);");
            return;
        }
        (string start, string step, string finish) = reduce.Reduction switch
        {
            ReduceKind.Mean => ("0f", $"acc += {x}", "acc * (1f / Reduce)"),
            ReduceKind.Max => ("float.NegativeInfinity", $"acc = {MathF}.Max(acc, {x})", "acc"),
            ReduceKind.Min => ("float.PositiveInfinity", $"acc = {MathF}.Min(acc, {x})", "acc"),
            ReduceKind.Prod => ("1f", $"acc *= {x}", "acc"),
            ReduceKind.SumSquare => ("0f", $"acc += {x} * {x}", "acc"),
            ReduceKind.L1 => ("0f", $"acc += {MathF}.Abs({x})", "acc"),
            ReduceKind.L2 => ("0f", $"acc += {x} * {x}", $"{MathF}.Sqrt(acc)"),
            ReduceKind.LogSum => ("0f", $"acc += {x}", "GpuLog(acc)"),
            _ => ("0f", $"acc += {x}", "acc"),
        };
        w.Line($"float acc = {start};");
        w.Line($"for (int r = 0; r < Reduce; r++) {step};");
        w.Line($"y[i] = {finish};");
    }

    /// <summary>A 2-D max or average pool.</summary>
    private static void WritePool(SourceWriter w, PoolOp pool)
    {
        // planes = C per sample; window kernel × kernel at stride, padding −∞ (max) or 0 (average, counted).
        int h = pool.Height, width = pool.Width, kernel = pool.Window, stride = pool.Stride, padding = pool.Padding, oh = pool.OutHeight, ow = pool.OutWidth;
        bool max = pool.Max;
        w.Line($"long plane = i / {oh * ow}; int r = (int)(i % {oh * ow}), oy = r / {ow}, ox = r % {ow};");
        w.Line($"float acc = {(max ? "float.NegativeInfinity" : "0f")};");
        w.Open($"for (int u = 0; u < {kernel}; u++)");
        w.Line($"int iy = oy * {stride} - {padding} + u;");
        w.Line($"if (iy < 0 || iy >= {h}) continue;");
        w.Open($"for (int v = 0; v < {kernel}; v++)");
        w.Line($"int ix = ox * {stride} - {padding} + v;");
        w.Line($"if (ix >= 0 && ix < {width}) acc = {(max ? $"{MathF}.Max(acc, a[(plane * {h} + iy) * {width} + ix])" : $"acc + a[(plane * {h} + iy) * {width} + ix]")};");
        w.Close();
        w.Close();
        w.Line(max ? "y[i] = acc;" : $"y[i] = acc * (1f / {kernel * kernel});");
    }

    /// <summary>The kernels along one axis (Hardmax, AxisResample, AxisPool): a thread per output value.</summary>
    private static void WriteAlongAxis(SourceWriter w, KernelOp op)
    {
        if (op is HardmaxOp hardmax) WriteHardmax(w, hardmax);
        else if (op is AxisResampleOp resample) WriteAxisResample(w, resample);
        else WriteAxisPool(w, (AxisPoolOp)op);
    }

    /// <summary>Hardmax: a thread per output value; it finds its row's first NaN or first largest value and writes 1 there.</summary>
    private static void WriteHardmax(SourceWriter w, HardmaxOp hardmax)
    {
        w.Line($"long row = i / {hardmax.Width} * {hardmax.Width}; int best = 0;");
        w.Line($"for (int j = 1; j < {hardmax.Width} && a[row + best] == a[row + best]; j++) if (a[row + j] != a[row + j] || a[row + j] > a[row + best]) best = j;");
        w.Line($"y[i] = i - row == best ? 1f : 0f;");
    }

    /// <summary>GlobalAvgPool: a thread per channel, the mean of its plane.</summary>
    private static void WriteGlobalAvgPool(SourceWriter w, GlobalAvgPoolOp pooled)
    {
        w.Line($"const int Area = {pooled.Spatial};");
        w.Line("float sum = 0f;");
        w.Line("for (int j = 0; j < Area; j++) sum += a[i * Area + j];");
        w.Line("y[i] = sum / Area;");
    }

    /// <summary>Resampling along one axis: a thread per output value, its taps from the table (operand b); a negative index reads the fill, as on the CPU.</summary>
    private static void WriteAxisResample(SourceWriter w, AxisResampleOp resample)
    {
        w.Line($"long o = i / {(long)resample.OutLength * resample.Inner}; int r = (int)(i % {(long)resample.OutLength * resample.Inner}), j = r / {resample.Inner}, q = r % {resample.Inner};");
        w.Line("float acc = 0f;");
        w.Open($"for (int tap = 0; tap < {resample.Taps}; tap++)");
        w.Line($"int source = (int)b[(j * {resample.Taps} + tap) * 2];");
        w.Line($"source = source > {resample.Length - 1} ? {resample.Length - 1} : source;");
        w.Line($"acc += b[(j * {resample.Taps} + tap) * 2 + 1] * (source < 0 ? {ModelEmitter.Float(resample.Fill)} : a[(o * {resample.Length} + source) * {resample.Inner} + q]);");
        w.Close();
        w.Line("y[i] = acc;");
    }

    /// <summary>
    /// GridSample: a thread per output value, its point's taps computed in float as Kernels.GridSample computes them
    /// (GridSampling's coordinates written out: the GPU has no call into the runtime's helpers, and no float64 on OpenCL).
    /// </summary>
    private static void WriteGridSample(SourceWriter w, GridSampleOp g)
    {
        int positions = g.OutHeight * g.OutWidth, plane = g.Height * g.Width;
        w.Line($"long n = i / {(long)g.Channels * positions}; int channel = (int)(i / {positions} % {g.Channels}), p = (int)(i % {positions});");
        w.Line($"float gx = b[(n * {positions} + p) * 2], gy = b[(n * {positions} + p) * 2 + 1];");
        string Unnormalize(string v, int size) => g.AlignCorners ? $"({v} + 1f) / 2f * {size - 1}f" : $"(({v} + 1f) * {size}f - 1f) / 2f";
        w.Line($"float ix = {Unnormalize("gx", g.Width)}, iy = {Unnormalize("gy", g.Height)};");
        w.Line($"long plane = (n * {g.Channels} + channel) * {plane};");
        string Read(string x, string y) => $"({x} >= 0f && {x} < {g.Width}f && {y} >= 0f && {y} < {g.Height}f ? a[plane + (long){y} * {g.Width} + (long){x}] : 0f)";
        switch (g.Mode)
        {
            case GridSampleMode.Nearest:
                GridSource(w, "sx", "ix", g.Width, g);
                GridSource(w, "sy", "iy", g.Height, g);
                foreach (string v in new[] { "sx", "sy" })
                {
                    // Halves to even, from floors.
                    w.Line($"float r{v} = {MathF}.Floor({v}), d{v} = {v} - r{v};");
                    w.Line($"r{v} = d{v} > 0.5f ? r{v} + 1f : d{v} < 0.5f ? r{v} : r{v} - 2f * {MathF}.Floor(r{v} / 2f) == 0f ? r{v} : r{v} + 1f;");
                }
                w.Line($"y[i] = {Read("rsx", "rsy")};");
                break;
            case GridSampleMode.Linear:
                GridSource(w, "sx", "ix", g.Width, g);
                GridSource(w, "sy", "iy", g.Height, g);
                w.Line($"float x0 = {MathF}.Floor(sx), y0 = {MathF}.Floor(sy), tx = sx - x0, ty = sy - y0, x1 = x0 + 1f, y1 = y0 + 1f;");
                w.Line($"y[i] = {Read("x0", "y0")} * (1f - tx) * (1f - ty) + {Read("x1", "y0")} * tx * (1f - ty) + {Read("x0", "y1")} * (1f - tx) * ty + {Read("x1", "y1")} * tx * ty;");
                break;
            default:
            {
                // Cubic convolution, A = −0.75: weights of the four neighbours on each axis, then the 16 taps, each moved inside on its own.
                w.Line($"float x0 = {MathF}.Floor(ix), y0 = {MathF}.Floor(iy), tx = ix - x0, ty = iy - y0;");
                foreach ((string axis, string t) in new[] { ("x", "tx"), ("y", "ty") })
                {
                    string Near(string v) => $"((1.25f * ({v}) - 2.25f) * ({v}) * ({v}) + 1f)";
                    string Far(string v) => $"(((-0.75f * ({v}) + 3.75f) * ({v}) - 6f) * ({v}) + 3f)";
                    w.Line($"float c{axis}0 = {Far(t + " + 1f")}, c{axis}1 = {Near(t)}, c{axis}2 = {Near("1f - " + t)}, c{axis}3 = {Far("2f - " + t)};");
                }
                for (int k = 0; k < 4; k++)
                {
                    GridSource(w, $"px{k}", $"x0 + {k - 1}f", g.Width, g);
                    GridSource(w, $"py{k}", $"y0 + {k - 1}f", g.Height, g);
                    w.Line($"px{k} = {MathF}.Floor(px{k}); py{k} = {MathF}.Floor(py{k});"); // whole or non-negative: truncation
                }
                w.Line("float sum = 0f;");
                for (int j = 0; j < 4; j++)
                    for (int k = 0; k < 4; k++)
                        w.Line($"sum += {Read($"px{k}", $"py{j}")} * cx{k} * cy{j};");
                w.Line("y[i] = sum;");
                break;
            }
        }
    }

    /// <summary>Declares <paramref name="name"/>: a pixel coordinate moved inside by the padding mode, as GridSampling.Source.</summary>
    private static void GridSource(SourceWriter w, string name, string coordinate, int size, GridSampleOp g)
    {
        switch (g.Padding)
        {
            case GridSamplePadding.Border:
                w.Line($"float {name} = {MathF}.Min({size - 1}f, {MathF}.Max({coordinate}, 0f));");
                break;
            case GridSamplePadding.Reflection:
            {
                (int low, int high) = g.AlignCorners ? (0, 2 * (size - 1)) : (-1, 2 * size - 1);
                if (low == high)
                {
                    w.Line($"float {name} = 0f;");
                    break;
                }
                float min = low / 2f, span = (high - low) / 2f;
                w.Line($"float {name}d = {MathF}.Abs({coordinate} - {ModelEmitter.Float(min)}), {name}f = {MathF}.Floor({name}d / {ModelEmitter.Float(span)}), {name}e = {name}d - {name}f * {ModelEmitter.Float(span)};");
                w.Line($"float {name} = {MathF}.Min({size - 1}f, {MathF}.Max({name}f - 2f * {MathF}.Floor({name}f / 2f) == 0f ? {name}e + {ModelEmitter.Float(min)} : {ModelEmitter.Float(span)} - {name}e + {ModelEmitter.Float(min)}, 0f));");
                break;
            }
            default:
                w.Line($"float {name} = {coordinate};");
                break;
        }
    }

    /// <summary>Pooling along one axis: a thread per output value, its taps one by one (as Kernels.AxisPool).</summary>
    private static void WriteAxisPool(SourceWriter w, AxisPoolOp p)
    {
        w.Line($"long o = i / {(long)p.OutLength * p.Inner}; int r = (int)(i % {(long)p.OutLength * p.Inner}), j = r / {p.Inner}, q = r % {p.Inner};");
        w.Line($"float acc = {(p.Max ? "float.NegativeInfinity" : "0f")};");
        if (!p.Max) w.Line("int counted = 0;");
        w.Open($"for (int tap = 0; tap < {p.Window}; tap++)");
        w.Line($"int position = j * {p.Stride} - {p.PadBegin} + tap * {p.Dilation};");
        if (!p.Max) w.Line($"if (position >= {p.CountFrom} && position < {p.CountTo}) counted++;");
        w.Line($"if (position >= 0 && position < {p.Length}) acc = {(p.Max ? $"{MathF}.Max(acc, a[(o * {p.Length} + position) * {p.Inner} + q])" : $"acc + a[(o * {p.Length} + position) * {p.Inner} + q]")};");
        w.Close();
        w.Line(p.Max ? "y[i] = acc;" : "y[i] = acc / (counted > 0 ? counted : 1);");
    }

    /// <summary>Concat: a thread per output value of either part.</summary>
    private static void WriteConcat(SourceWriter w, ConcatOp concat)
    {
        int[] aShape = concat.AShape.ToArray();
        long aCount = aShape.Aggregate(1L, (p, d) => p * d);
        w.Open($"if (t < {aCount})");
        Index(w, aShape);
        w.Line($"y[{Offset("s", concat.DestinationStrides.ToArray())}] = a[{Offset("s", concat.AStrides.ToArray())}];");
        w.Close();
        w.Open("else");
        w.Line($"t -= {aCount};");
        Index(w, concat.BShape.ToArray());
        w.Line($"y[{concat.BOutputOffset} + {Offset("s", concat.DestinationStrides.ToArray())}] = b[{Offset("s", concat.BStrides.ToArray())}];");
        w.Close();
    }

    /// <summary>MatMul of two activations (or an activation and one shared matrix).</summary>
    private static void WriteMatMul(SourceWriter w, KernelPlan k, MatMulOp matMul, Func<KernelPlan, string, string> chain)
    {
        // Products p = s · RowsPerSample + …, each [m, k] · [k, n]; b at p · bStride (0: one matrix for all), or at
        // (p mod BPeriod) · bStride for a cycle of weight matrices.
        int bStride = matMul.BStride;
        w.Line($"const int M = {matMul.M}, K = {matMul.K}, N = {matMul.N};");
        w.Line($"long p = s * {matMul.Count} + t / (M * N); int r = (int)(t % (M * N)), row = r / N, col = r % N;");
        w.Line("float sum = 0f;");
        string matrix = matMul.BPeriod > 0 ? $"(p % {matMul.BPeriod})" : "p";
        w.Line($"for (int j = 0; j < K; j++) sum += a[(p * M + row) * K + j] * b[{matrix} * {bStride} + (long)j * N + col];");
        w.Line($"y[(p * M + row) * N + col] = {chain(k, "sum")};");
    }

    /// <summary>Decodes <c>t</c> into one index per dimension of <paramref name="shape"/> (<c>d0</c>, <c>d1</c>, …), row-major.</summary>
    private static void Index(SourceWriter w, int[] shape)
    {
        w.Line("long rest = t;");
        for (int d = shape.Length - 1; d >= 0; d--)
            w.Line(d == 0 ? "long d0 = rest;" : $"long d{d} = rest % {shape[d]}; rest /= {shape[d]};");
    }

    /// <summary><c>s · strides[0] + Σ d_j · strides[j + 1]</c>, zero strides left out.</summary>
    private static string Offset(string sample, int[] strides)
    {
        string text = strides[0] == 0 ? "0" : $"{sample} * {strides[0]}";
        for (int d = 1; d < strides.Length; d++)
            if (strides[d] != 0) text += $" + d{d - 1} * {strides[d]}";
        return text;
    }

    /// <summary>
    /// A convolution (direct, im2col or depthwise on the CPU: the same filters, PyTorch's <c>[out, c/groups·kh·kw]</c>),
    /// one thread per output value; with a fused 2×2 max pool, per pooled value, the epilogue before the maximum.
    /// </summary>
    private static void WriteConvolution(SourceWriter w, KernelPlan k, ConvOp conv, Func<KernelPlan, string, string> chain)
    {
        ConvGeometry g = conv.Geometry;
        int c = g.Channels, h = g.Height, width = g.Width, n = g.OutChannels, kh = g.KernelHeight, kw = g.KernelWidth, stride = g.Stride;
        int padding = g.Padding, dilation = g.Dilation, oh = g.OutHeight, ow = g.OutWidth, groups = g.Groups, padTop = g.VerticalPadding;
        int cg = c / groups, ng = n / groups;
        bool pooled = g.Pooled;
        int ph = pooled ? oh / 2 : oh, pw = pooled ? ow / 2 : ow;
        w.Line($"long x0 = s * {c * h * width};");
        w.Line($"int o = (int)(t / {ph * pw}), r = (int)(t % {ph * pw}), py = r / {pw}, px = r % {pw};");
        w.Line($"int g = o / {ng};");
        w.Line($"long filter = {conv.WeightOffset} + (long)o * {cg * kh * kw};");
        w.Line($"float bias = w[{conv.BiasOffset} + o];");
        string[] positions = pooled ? new[] { "0, 0", "0, 1", "1, 0", "1, 1" } : new[] { "0, 0" };
        w.Line(pooled ? "float result = float.NegativeInfinity;" : "float result = 0f;");
        foreach (string position in positions)
        {
            string[] d = position.Split(',');
            w.Open("");
            w.Line(pooled ? $"int oy = 2 * py + {d[0].Trim()}, ox = 2 * px + {d[1].Trim()};" : "int oy = py, ox = px;");
            w.Line("float acc = 0f;");
            w.Open($"for (int ci = 0; ci < {cg}; ci++)");
            w.Line($"long plane = x0 + (long)(g * {cg} + ci) * {h * width};");
            w.Open($"for (int u = 0; u < {kh}; u++)");
            w.Line($"int iy = oy * {g.RowStride} - {padTop} + u * {dilation};");
            w.Line($"if (iy < 0 || iy >= {h}) continue;");
            w.Open($"for (int v = 0; v < {kw}; v++)");
            w.Line($"int ix = ox * {stride} - {padding} + v * {dilation};");
            w.Line($"if (ix >= 0 && ix < {width}) acc += a[plane + iy * {width} + ix] * w[filter + (ci * {kh} + u) * {kw} + v];");
            w.Close();
            w.Close();
            w.Close();
            // A skip connection in the store (never pooled): (conv + bias) + b, then the epilogue.
            w.Line(pooled ? $"result = {MathF}.Max(result, {chain(k, "acc + bias")});" : $"result = {chain(k, k.B is null ? "acc + bias" : "acc + bias + b[i]")};");
            w.Close();
        }
        w.Line("y[i] = result;");
    }

    /// <summary>
    /// Winograd F(m×m, 3×3) with the CPU's transformed filters ((m + 2)² [out, in] matrices, U = G g Gᵀ): one thread per
    /// output channel and m×m tile: V = Bᵀ d B per input channel, M += U ⊙ V, then Y = Aᵀ M A, bias and epilogue. The
    /// transforms are written out from <c>WinogradMatrices</c>, term by term.
    /// </summary>
    private static void WriteWinograd(SourceWriter w, KernelPlan k, ConvOp conv, Func<KernelPlan, string, string> chain)
    {
        ConvGeometry g = conv.Geometry;
        int c = g.Channels, h = g.Height, width = g.Width, n = g.OutChannels, padding = g.Padding, oh = g.OutHeight, ow = g.OutWidth, padTop = g.VerticalPadding;
        int m = conv.WinogradTile, t = m + 2, th = (int)KernelScratch.WinogradTiles(oh, m), tw = (int)KernelScratch.WinogradTiles(ow, m);
        double[,] bt = WinogradMatrices.Input(m), at = WinogradMatrices.Output(m);
        w.Line($"long x0 = s * {c * h * width};");
        w.Line($"int o = (int)(t / {th * tw}), r = (int)(t % {th * tw}), y0 = (r / {tw}) * {m} - {padTop}, x0c = (r % {tw}) * {m} - {padding};");
        for (int p = 0; p < t * t; p++) w.Line($"float m{p} = 0f;");
        w.Open($"for (int ci = 0; ci < {c}; ci++)");
        w.Line($"long plane = x0 + (long)ci * {h * width};");
        for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++)
                w.Line($"float d{i}{j} = y0 + {i} >= 0 && y0 + {i} < {h} && x0c + {j} >= 0 && x0c + {j} < {width} ? a[plane + (y0 + {i}) * {width} + x0c + {j}] : 0f;");
        // Bᵀ d (rows e), then · B (v).
        for (int j = 0; j < t; j++)
            w.Line(string.Join(" ", Enumerable.Range(0, t).Select(i => $"float e{i}{j} = {Combination(bt, i, u => $"d{u}{j}")};")));
        for (int i = 0; i < t; i++)
            w.Line(string.Join(" ", Enumerable.Range(0, t).Select(j => $"float v{i}{j} = {Combination(bt, j, u => $"e{i}{u}")};")));
        for (int p = 0; p < t * t; p++)
            w.Line($"m{p} += w[{conv.WeightOffset} + {p}L * {n * c} + (long)o * {c} + ci] * v{p / t}{p % t};");
        w.Close();
        // Aᵀ M (rows u), then · A, into the tile's outputs that exist.
        for (int j = 0; j < t; j++)
            w.Line(string.Join(" ", Enumerable.Range(0, m).Select(i => $"float u{i}{j} = {Combination(at, i, u => $"m{u * t + j}")};")));
        w.Line($"float bias = w[{conv.BiasOffset} + o];");
        w.Line($"int oy = y0 + {padTop}, ox = x0c + {padding};");
        w.Line($"long out0 = s * {n * oh * ow} + (long)o * {oh * ow};");
        for (int i = 0; i < m; i++)
        {
            w.Line($"if (oy + {i} < {oh})");
            w.Open("");
            for (int j = 0; j < m; j++)
            {
                string index = $"out0 + (oy + {i}) * {ow} + ox + {j}", skip = k.B is null ? "" : $" + b[{index}]";
                w.Line($"{(j == 0 ? "" : $"if (ox + {j} < {ow}) ")}y[{index}] = {chain(k, $"{Combination(at, j, u => $"u{i}{u}")} + bias{skip}")};");
            }
            w.Close();
        }
    }

    /// <summary>Σ_u matrix[row, u] · term(u) as C#, the zero terms left out: "d0 − d2", "4f * d0 - 5f * d2 + d4".</summary>
    private static string Combination(double[,] matrix, int row, Func<int, string> term)
    {
        var text = new System.Text.StringBuilder();
        for (int u = 0; u < matrix.GetLength(1); u++)
        {
            double coefficient = matrix[row, u];
            if (coefficient == 0) continue;
            double magnitude = Math.Abs(coefficient);
            string factor = magnitude == 1 ? "" : magnitude.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f * ";
            text.Append(text.Length == 0 ? (coefficient < 0 ? "-" : "") : coefficient < 0 ? " - " : " + ").Append(factor).Append(term(u));
        }
        return text.ToString();
    }

    /// <summary>
    /// Attention, one thread per (head, query, value column): the scores over the keys with a running maximum and sum
    /// (no score array), as the CPU kernel's semantics: scale 1/√e, additive mask, causal keys skipped, NaN when all hidden.
    /// </summary>
    private static void WriteAttention(SourceWriter w, KernelPlan k, AttentionGeometry g)
    {
        int queries = g.Queries, keys = g.Keys, e = g.HeadSize, ve = g.ValueSize;
        bool causal = g.Causal;
        w.Line($"int h = (int)(t / {queries * ve}), r = (int)(t % {queries * ve}), q = r / {ve}, col = r % {ve};");
        w.Line($"long qo = s * {g.QSample} + (long)h * {g.QHead} + (long)q * {g.QRow};");
        w.Line($"long ko = s * {g.KSample} + (long)h * {g.KHead}, vo = s * {g.VSample} + (long)h * {g.VHead} + col;");
        w.Line($"float scale = 1f / {MathF}.Sqrt({e}f);");
        w.Line("float max = float.NegativeInfinity, sum = 0f, acc = 0f;");
        w.Open($"for (int j = 0; j < {(causal ? $"global::System.Math.Min(q + 1, {keys})" : keys.ToString())}; j++)");
        w.Line("float score = 0f;");
        w.Line($"for (int d = 0; d < {e}; d++) score += a[qo + d] * b[ko + (long)j * {g.KRow} + d];");
        w.Line(k.Mask is null ? "score *= scale;" : $"score = score * scale + mask[s * {g.MaskSample} + (long)q * {g.MaskRow} + j];");
        w.Line($"float next = {MathF}.Max(max, score);");
        w.Line($"float correction = {MathF}.Exp(max - next), weight = {MathF}.Exp(score - next);");
        w.Line("sum = sum * correction + weight;");
        w.Line($"acc = acc * correction + weight * c[vo + (long)j * {g.VRow}];");
        w.Line("max = next;");
        w.Close();
        w.Line($"y[s * {g.OSample} + (long)h * {g.OHead} + (long)q * {g.ORow} + col] = acc / sum;");
    }
}
