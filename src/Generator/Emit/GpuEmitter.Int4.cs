// The GPU emitter's int4 weights: kept at 4 bits a weight on the device and dequantized in the kernels that read them.
using ModelCompiler.Generator.Helpers;
using ModelCompiler.Generator.Model;

namespace ModelCompiler.Generator.Emit;

internal static partial class GpuEmitter
{
    /// <summary>Weight (output <paramref name="n"/>, input <paramref name="i"/>: local names) of an int4 Linear, dequantized where it is read.</summary>
    private static string Int4Weight(Int4Place q, string n, string i) =>
        $"GpuInt4(w, {q.Codes} + (long){n} * {q.Words} + ({i} >> 3), {i}, {q.Scales} + (long){n} * {q.Blocks} + ({i} >> 5))";

    /// <summary>The GPU weights buffer, built once from the embedded weights (a part of CompiledWeights, which holds them).</summary>
    private static void WriteDeviceWeights(SourceWriter w, DeviceWeights device)
    {
        w.Line("// The GPU's weights: the float32 ones, then the int4 ones in their device form (4 bits a weight, one scale per 32).");
        w.Open("private static partial class CompiledWeights");
        w.Open("internal static float[] DeviceWeights()");
        w.Line($"var weights = new float[{device.Total}];");
        w.Line($"Buffer.Span.Slice(0, {device.Prefix}).CopyTo(weights);");
        foreach (DeviceBlob blob in device.Blobs)
            w.Line($"global::ModelCompiler.Gpu.DeviceInt4.Write({blob.Identifier}, {blob.N}, {blob.K}, new global::System.Span<float>(weights, {blob.Offset}, {GpuPlan.DeviceLength(blob.N, blob.K)})); // {blob.Tensor} [{blob.N}, {blob.K}]");
        w.Line("return weights;");
        w.Close();
        w.Close();
    }
}
