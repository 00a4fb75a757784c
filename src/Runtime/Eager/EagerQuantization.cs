using System;
using System.Collections.Generic;

namespace ModelCompiler;

/// <summary>
/// The quantization the eager reference applies, so that it computes what the compiled model computes: the
/// same mode, the same layers kept in float32. Generated <c>ForwardEager</c> passes the model's own.
/// </summary>
public sealed class EagerQuantization
{
    private readonly HashSet<string> _floatLayers;

    /// <summary>Quantize every Linear layer with <paramref name="mode"/> except <paramref name="floatLayers"/>.</summary>
    public EagerQuantization(Quantization mode, params string[] floatLayers)
    {
        Mode = mode;
        _floatLayers = new HashSet<string>(floatLayers ?? Array.Empty<string>(), StringComparer.Ordinal);
    }

    /// <summary>The mode for quantized layers.</summary>
    public Quantization Mode { get; }

    /// <summary>
    /// <see cref="Quantization.Int8Static"/>: each layer's calibrated input range (the largest magnitude), used in
    /// place of each row's own.
    /// </summary>
    public Dictionary<string, float> InputRanges { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// <see cref="Quantization.Int4Gptq"/>: each layer's weights <c>q · s</c> as GPTQ rounded them at build time
    /// (<c>[out, in]</c>, row-major), used in place of round-to-nearest's.
    /// </summary>
    public Dictionary<string, float[]> Int4Weights { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Int4 layers multiply activations rounded to int8 per block of 32 inputs (<c>Kernels.Int4Activations</c>), as a
    /// decoder's compiled int4 layers do (their decode step multiplies integer codes); otherwise int4 is weight-only.
    /// </summary>
    public bool Int4Activations { get; init; }

    /// <summary>The mode the Linear layer <paramref name="name"/> runs in.</summary>
    public Quantization ModeFor(string name) => _floatLayers.Contains(name) ? Quantization.None : Mode;
}
