namespace ModelCompiler;

/// <summary>How <c>[CompileModel]</c> stores and computes a model's Linear layers.</summary>
#if MODELCOMPILER_GENERATOR
internal // linked into the generator, which reads the attribute's values as this enum (not as bare numbers)
#else
public
#endif
enum Quantization
{
    /// <summary>float32 weights and arithmetic.</summary>
    None = 0,

    /// <summary>
    /// int8 weights, symmetric, one scale per output channel, computed at build time; activations quantized per
    /// row at run time; int32 accumulation; dequantization, bias and activation fused after the dot product.
    /// About a quarter of the weight bytes.
    /// </summary>
    Int8 = 1,

    /// <summary>
    /// int4 weights, block-wise along the input dimension (32 weights per fp16 scale): about an eighth of the
    /// weight bytes in the assembly. Weight-only: at start-up the weights are expanded to float32 once, and the
    /// model computes in float32 with the quantized values.
    /// </summary>
    Int4 = 2,

    /// <summary>
    /// Like <see cref="Int8"/>, but each layer's activation range is calibrated at build time: the generator runs
    /// the float32 model on the inputs in <c>CompileModelAttribute.Calibration</c> and records the largest input
    /// magnitude of every quantized layer. No range scan at run time; values beyond the range saturate.
    /// </summary>
    Int8Static = 3,

    /// <summary>
    /// Like <see cref="Int4"/>, but each layer is rounded by GPTQ (error-compensated rounding, Frantar et al. 2022) at
    /// build time: the generator runs the float32 model on the token sequences (or samples) in
    /// <c>CompileModelAttribute.Calibration</c>, collects each layer's input Hessian and rounds its weights one input
    /// at a time, moving each rounding error onto the inputs not yet rounded. Same format and kernels as
    /// <see cref="Int4"/> (32 weights per scale); the weights are embedded, whatever the storage.
    /// </summary>
    Int4Gptq = 4,
}
