// The GPU emitter's kernels that use a group of threads per row, and the whole-model kernel of MLPs.
using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Emit;

internal static partial class GpuEmitter
{
    /// <summary>
    /// A group's tree reduction of <c>part[tid]</c> (T threads, a power of two) by <paramref name="op"/> of
    /// <c>part[tid]</c> and <c>part[tid + half]</c>, a barrier before and after each halving: the result is in
    /// <c>part[0]</c> for every thread.
    /// </summary>
    private static void Reduce(SourceWriter w, string op)
    {
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Open("for (int half = T / 2; half > 0; half /= 2)");
        w.Line($"if (tid < half) part[tid] = {op};");
        w.Line($"{Ilgpu}Group.Barrier();");
        w.Close();
    }

    /// <summary>
    /// Softmax, LogSoftmax or LayerNorm (± residual) of one row per group of 128 threads: each thread strides over the
    /// row, partial results meet in shared memory (a tree of halvings, a barrier each), then every thread writes its share.
    /// </summary>
    private static void WriteRowKernel(SourceWriter w, KernelPlan k)
    {
        w.OpenWrapped($"private static void GpuK{k.Index}({View} a, {View} b, {View} w, {View} y)");
        w.Line($"const int K = {k.Op.RowWidths.In}, T = {RowThreads};");
        w.Line($"{View} part = {Ilgpu}SharedMemory.Allocate<float>(T);");
        w.Line($"int tid = {Ilgpu}Group.IdxX;");
        w.Line($"long o = (long){Ilgpu}Grid.IdxX * K;");
        if (k.Kind == KernelKind.LayerNorm)
        {
            string x = k.B is null ? "a[o + j]" : "(a[o + j] + b[o + j])";
            w.Line("float sum = 0f;");
            w.Line($"for (int j = tid; j < K; j += T) sum += {x};");
            w.Line("part[tid] = sum;");
            Reduce(w, "part[tid] + part[tid + half]");
            w.Line("float mean = part[0] / K;");
            w.Line($"{Ilgpu}Group.Barrier();");
            w.Line("float squares = 0f;");
            w.Line($"for (int j = tid; j < K; j += T) {{ float d = {x} - mean; squares += d * d; }}");
            w.Line("part[tid] = squares;");
            Reduce(w, "part[tid] + part[tid + half]");
            var norm = (LayerNormOp)k.Op;
            w.Line($"float inverse = 1f / global::System.MathF.Sqrt(part[0] / K + {ModelEmitter.Float(norm.Epsilon)});");
            w.Line($"for (int j = tid; j < K; j += T) y[o + j] = ({x} - mean) * inverse * w[{norm.GammaOffset} + j] + w[{norm.BetaOffset} + j];");
        }
        else if (k.Op is RmsNormOp rms)
        {
            // Kernels.RowRmsNorm: x / √(mean(x²) + ε) · gamma.
            w.Line("float squares = 0f;");
            w.Line("for (int j = tid; j < K; j += T) { float v = a[o + j]; squares += v * v; }");
            w.Line("part[tid] = squares;");
            Reduce(w, "part[tid] + part[tid + half]");
            w.Line($"float inverse = 1f / global::System.MathF.Sqrt(part[0] / K + {ModelEmitter.Float(rms.Epsilon)});");
            w.Line($"for (int j = tid; j < K; j += T) y[o + j] = a[o + j] * inverse * w[{rms.GammaOffset} + j];");
        }
        else
        {
            w.Line("float max = float.NegativeInfinity;");
            w.Line("for (int j = tid; j < K; j += T) max = global::System.MathF.Max(max, a[o + j]);");
            w.Line("part[tid] = max;");
            Reduce(w, "global::System.MathF.Max(part[tid], part[tid + half])");
            w.Line("max = part[0];");
            w.Line($"{Ilgpu}Group.Barrier();");
            w.Line("float sum = 0f;");
            w.Line("for (int j = tid; j < K; j += T) sum += GpuExp(a[o + j] - max);");
            w.Line("part[tid] = sum;");
            Reduce(w, "part[tid] + part[tid + half]");
            w.Line(k.Kind == KernelKind.LogSoftmax
                ? "float shift = max + GpuLog(part[0]);"
                : "float scale = 1f / part[0];");
            w.Line(k.Kind == KernelKind.LogSoftmax
                ? "for (int j = tid; j < K; j += T) y[o + j] = a[o + j] - shift;"
                : "for (int j = tid; j < K; j += T) y[o + j] = GpuExp(a[o + j] - max) * scale;");
        }
        w.Close();
    }

    /// <summary>
    /// The whole model as one kernel (the launch-bound regime of small batches): one group of 256 threads per sample, the
    /// activations in two shared-memory rows, each layer's outputs spread over the threads (16 consecutive outputs read
    /// one panel row of weights together), a barrier between layers.
    /// </summary>
    private static void WriteWholeModel(SourceWriter w, ModelPlan plan, Int4Place?[] int4Places)
    {
        w.Line("// The whole model on the GPU, for small batches: every kernel above, in one launch.");
        w.OpenWrapped($"private static void GpuWhole({View} x, {View} w, {View} y, int batch)");
        w.Line($"{View} h0 = {Ilgpu}SharedMemory.Allocate<float>({WholeWidth});");
        w.Line($"{View} h1 = {Ilgpu}SharedMemory.Allocate<float>({WholeWidth});");
        w.Line($"int s = {Ilgpu}Grid.IdxX, tid = {Ilgpu}Group.IdxX;");
        w.Line($"for (int j = tid; j < {plan.InputLength}; j += {WholeThreads}) h0[j] = x[(long)s * {plan.InputLength} + j];");
        w.Line($"{Ilgpu}Group.Barrier();");
        List<KernelPlan> kernels = plan.Kernels.ToList();
        for (int i = 0; i < kernels.Count; i++)
        {
            KernelPlan k = kernels[i];
            bool last = i == kernels.Count - 1;
            string input = i % 2 == 0 ? "h0" : "h1", next = i % 2 == 0 ? "h1" : "h0";
            (int inputs, int width) = k.Op.RowWidths;
            string Out(string j) => last ? $"y[(long)s * {width} + {j}]" : $"{next}[{j}]";
            w.Line($"// K{k.Index}: {k.Title}");
            switch (k.Kind)
            {
                case KernelKind.Linear:
                {
                    var l = (LinearOp)k.Op;
                    w.Open($"for (int n = tid; n < {l.N}; n += {WholeThreads})");
                    w.Line("float sum = 0f;");
                    if (int4Places[k.Index] is { } int4) w.Line($"for (int j = 0; j < {l.K}; j++) sum += {input}[j] * {Int4Weight(int4, "n", "j")};");
                    else
                    {
                        w.Line($"long panel = {l.WeightOffset} + (long)(n >> 4) * {l.K * 16} + (n & 15);");
                        w.Line($"for (int j = 0; j < {l.K}; j++) sum += {input}[j] * w[panel + j * 16];");
                    }
                    w.Line($"{Out("n")} = {Chain(k, $"sum + w[{l.BiasOffset} + n]")};");
                    w.Close();
                    break;
                }
                case KernelKind.Elementwise:
                    w.Line($"for (int j = tid; j < {inputs}; j += {WholeThreads}) {Out("j")} = {Chain(k, $"{input}[j]")};");
                    break;
                default:
                {
                    bool log = k.Kind == KernelKind.LogSoftmax;
                    w.Open("if (tid == 0)");
                    w.Line($"float max = {input}[0];");
                    w.Line($"for (int j = 1; j < {inputs}; j++) max = global::System.MathF.Max(max, {input}[j]);");
                    w.Line("float sum = 0f;");
                    w.Line($"for (int j = 0; j < {inputs}; j++) sum += GpuExp({input}[j] - max);");
                    w.Line(log
                        ? $"for (int j = 0; j < {inputs}; j++) {Out("j")} = {input}[j] - (max + GpuLog(sum));"
                        : $"for (int j = 0; j < {inputs}; j++) {Out("j")} = GpuExp({input}[j] - max) / sum;");
                    w.Close();
                    break;
                }
            }
            if (!last) w.Line($"{Ilgpu}Group.Barrier();");
        }
        w.Close();
        w.Line();
    }
}
