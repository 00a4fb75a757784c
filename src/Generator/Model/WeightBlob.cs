using ModelCompiler.Generator.Helpers;
using ModelCompiler.Kernels;

namespace ModelCompiler.Generator.Model;

/// <summary>A weight tensor's place in the weights buffer; the emitter reads its values from the file and lays them out.</summary>
internal sealed record WeightBlob(string Identifier, WeightLayoutKind Kind, string Tensor, int Offset, int Floats, int N, int K)
{
    /// <summary>A BatchNorm folded into this weight or bias (or, for its scale and shift, the BatchNorm itself).</summary>
    public string? Norm { get; init; }

    /// <summary>A constant folded at build time (<see cref="Tensor"/> is then the expression it came from): its values.</summary>
    public EquatableArray<float> Folded { get; init; } = EquatableArray<float>.Empty;

    /// <summary>Whether this blob holds folded values rather than a tensor of the weights file.</summary>
    public bool IsFolded => Folded.Count > 0;
    public float Epsilon { get; init; }

    /// <summary>Int4 weights GPTQ rounded (Int4Quantization's encoding), laid out instead of round-to-nearest's; empty otherwise.</summary>
    public EquatableArray<byte> Int4Encoded { get; init; } = EquatableArray<byte>.Empty;

    /// <summary>
    /// Whether the tensor this blob lays out had a LoRA adapter merged into it at build time: its values exist only then, so
    /// the blob is embedded whatever the storage (<see cref="ModelPlan.Embeds"/>).
    /// </summary>
    public bool Merged { get; init; }

    /// <summary>A zero bias with nothing folded into it: the buffer starts zeroed, nothing is embedded or read.</summary>
    public bool IsZero => Tensor.Length == 0 && Norm is null;

    /// <summary>The weights file's tensors laying this blob out reads: its own, and a folded BatchNorm's four.</summary>
    public System.Collections.Generic.IEnumerable<string> ReadTensors()
    {
        if (IsFolded) yield break;
        if (Tensor.Length > 0) yield return Tensor;
        if (Norm is null) yield break;
        foreach (string part in new[] { ".weight", ".bias", ".running_mean", ".running_var" }) yield return Norm + part;
    }

    /// <summary>Bytes the blob takes in the assembly (int4 weights are smaller embedded than loaded; a zero bias takes none).</summary>
    public int EmbeddedBytes => Kind == WeightLayoutKind.Int4Linear ? Int4Quantization.EncodedBytes(N, K) : IsZero ? 0 : Floats * 4;
}
