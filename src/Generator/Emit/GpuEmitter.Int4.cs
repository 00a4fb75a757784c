// The GPU emitter's int4 weights: kept at 4 bits a weight on the device and dequantized in the kernels that read them.
using System.Collections.Generic;
using System.Linq;
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Emit;

internal static partial class GpuEmitter
{
    /// <summary>Where an int4 Linear's device form is in the GPU weights buffer: its words of codes, its scales, and their counts per output.</summary>
    private sealed record Int4Place(int Codes, int Scales, int Words, int Blocks);

    /// <summary>
    /// The GPU weights buffer of a model with embedded int4 weights: the CPU buffer up to its int4 weights (LowerToPlan puts
    /// them last: float32 panels the GPU does not need), then each int4 weight in its device form, from
    /// <see cref="Offsets"/> (by blob identifier) to <see cref="Total"/>.
    /// </summary>
    private sealed record DeviceWeights(int Prefix, int Total, Dictionary<string, int> Offsets);

    /// <summary>Floats an <c>[n, k]</c> int4 weight takes on the device: ⌈k/8⌉ words and ⌈k/32⌉ scales per output (ModelCompiler.Gpu.DeviceInt4.Length).</summary>
    private static int DeviceLength(int n, int k) => n * ((k + 7) / 8 + (k + 31) / 32);

    /// <summary>
    /// The device weights of a model with int4 weights; null when it has none, or reads its weights from a file (then the
    /// GPU reads the float32 panels, as the CPU: the encoded form is embedded only).
    /// </summary>
    private static DeviceWeights? DeviceLayout(ModelPlan plan)
    {
        if (!plan.EmbedWeights) return null;
        List<WeightBlob> int4 = plan.Blobs.Where(b => b.Kind == WeightLayoutKind.Int4Linear).ToList();
        if (int4.Count == 0) return null;
        int prefix = int4.Min(b => b.Offset), at = prefix;
        var offsets = new Dictionary<string, int>(System.StringComparer.Ordinal);
        foreach (WeightBlob blob in int4)
        {
            offsets.Add(blob.Identifier, at);
            at += DeviceLength(blob.N, blob.K);
        }
        return new DeviceWeights(prefix, at, offsets);
    }

    /// <summary>The device form of each kernel's int4 weights (by kernel index), null for kernels that read float32 panels.</summary>
    private static Int4Place?[] Int4Places(ModelPlan plan, DeviceWeights? device) => plan.Kernels.Select(k =>
    {
        if (device is null || k.Op is not LinearOp { Weights: LinearWeights.Int4 } l) return null;
        WeightBlob? blob = plan.Blobs.FirstOrDefault(b => b.Kind == WeightLayoutKind.Int4Linear && b.Offset == l.WeightOffset);
        if (blob is null) return null;
        int codes = device.Offsets[blob.Identifier], words = (l.K + 7) / 8;
        return new Int4Place(codes, codes + l.N * words, words, (l.K + 31) / 32);
    }).ToArray();

    /// <summary>Weight (output <paramref name="n"/>, input <paramref name="i"/>: local names) of an int4 Linear, dequantized where it is read.</summary>
    private static string Int4Weight(Int4Place q, string n, string i) =>
        $"GpuInt4(w, {q.Codes} + (long){n} * {q.Words} + ({i} >> 3), {i}, {q.Scales} + (long){n} * {q.Blocks} + ({i} >> 5))";

    /// <summary>The GPU weights buffer, built once from the embedded weights (a part of CompiledWeights, which holds them).</summary>
    private static void WriteDeviceWeights(SourceWriter w, ModelPlan plan, DeviceWeights device)
    {
        w.Line("// The GPU's weights: the float32 ones, then the int4 ones in their device form (4 bits a weight, one scale per 32).");
        w.Open("private static partial class CompiledWeights");
        w.Open("internal static float[] DeviceWeights()");
        w.Line($"var weights = new float[{device.Total}];");
        w.Line($"Buffer.Span.Slice(0, {device.Prefix}).CopyTo(weights);");
        foreach (WeightBlob blob in plan.Blobs.Where(b => b.Kind == WeightLayoutKind.Int4Linear))
            w.Line($"global::ModelCompiler.Gpu.DeviceInt4.Write({blob.Identifier}, {blob.N}, {blob.K}, new global::System.Span<float>(weights, {device.Offsets[blob.Identifier]}, {DeviceLength(blob.N, blob.K)})); // {blob.Tensor} [{blob.N}, {blob.K}]");
        w.Line("return weights;");
        w.Close();
        w.Close();
    }
}
