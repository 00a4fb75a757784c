using System;

namespace ModelCompiler;

/// <summary>
/// Marks a <c>partial</c> class whose static <c>Forward</c> method declares a model. At build time the
/// ModelCompiler source generator compiles that method, with the weights named by <see cref="Weights"/>,
/// into fused SIMD kernels and adds <c>Predict</c> methods to the class.
/// </summary>
/// <remarks>
/// The weights file must also be listed as an <c>AdditionalFiles</c> item of the project, so that the
/// generator can see it: <c>&lt;AdditionalFiles Include="digits.safetensors" /&gt;</c>.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class CompileModelAttribute : Attribute
{
    /// <summary>The safetensors file holding the model's weights, as listed in <c>AdditionalFiles</c>
    /// (a file name, or a path ending that identifies one file).</summary>
    public string? Weights { get; set; }

    /// <summary>How the Linear layers are stored and computed (default: float32).</summary>
    public Quantization Quantize { get; set; }

    /// <summary>Linear layers (by the name given to <c>Linear("…")</c>) kept in float32 when <see cref="Quantize"/> is set,
    /// e.g. the first and last layers.</summary>
    public string[]? FloatLayers { get; set; }

    /// <summary>
    /// For <see cref="Quantization.Int8Static"/> and <see cref="Quantization.Int4Gptq"/>: a safetensors file, also listed
    /// in <c>AdditionalFiles</c>, whose tensor <c>input</c> holds representative samples <c>[N, …sample shape]</c>, or,
    /// for a decoder, <c>N</c> token sequences <c>[N, T]</c> (ids as float32, int32 or int64).
    /// </summary>
    public string? Calibration { get; set; }

    /// <summary>
    /// For <see cref="Quantization.Int4Gptq"/>: round each layer's inputs in order of decreasing Hessian diagonal
    /// (GPTQ's act-order, "desc_act"), with every block's scale fixed from the original weights first (AutoGPTQ's static
    /// groups, so the blocks stay contiguous). Default true; false rounds the inputs in order.
    /// </summary>
    public bool GptqActOrder { get; set; } = true;

    /// <summary>
    /// A LoRA adapter merged into the weights at build time, before any quantization: PEFT's <c>adapter_model.safetensors</c>
    /// with its <c>adapter_config.json</c> beside it, both listed in <c>AdditionalFiles</c>. Each adapted Linear computes
    /// with <c>W + s · B · A</c>; the merged layers are embedded whatever the storage. To switch adapters at run time on
    /// one compiled base instead, load them with <c>LoraAdapter.Load</c> and call <c>SetAdapter</c> on a session.
    /// </summary>
    public string? Adapter { get; set; }

    /// <summary>Whether the weights are embedded in the assembly or read from the file beside the application.</summary>
    public WeightsStorage WeightsStorage { get; set; }

    /// <summary>
    /// An ONNX model to compile instead of a <c>Forward</c> method (listed in <c>AdditionalFiles</c>, like a weights file):
    /// its graph is lowered onto the same kernels, its initializers are the weights, and its first input's shape (the
    /// leading dimension being the batch) is the sample shape. Set either this or <see cref="Weights"/>.
    /// </summary>
    public string? Onnx { get; set; }

    /// <summary>
    /// For an <see cref="Onnx"/> model: values for the file's named (symbolic) dimensions, fixed at build time, as
    /// <c>"name=value"</c>, e.g. <c>Dims = new[] { "height=640", "width=640" }</c>. Every dimension but an input's first
    /// (the batch) must be a number or named here; the build's MC0013 names any that is not.
    /// </summary>
    public string[]? Dims { get; set; }
}
