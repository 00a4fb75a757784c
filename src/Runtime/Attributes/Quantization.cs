namespace ModelCompiler;

/// <summary>How <c>[CompileModel]</c> stores and computes a model's Linear layers.</summary>
public enum Quantization
{
    /// <summary>float32 weights and arithmetic.</summary>
    None = 0,

    /// <summary>
    /// int8 weights, symmetric, one scale per output channel, computed at build time; activations quantized per
    /// row at run time; int32 accumulation; dequantization, bias and activation fused after the dot product.
    /// About a quarter of the weight bytes.
    /// </summary>
    Int8 = 1,
}
