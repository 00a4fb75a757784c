namespace ModelCompiler;

/// <summary>Where a compiled model keeps its weights.</summary>
#if MODELCOMPILER_GENERATOR
internal // linked into the generator, which reads the attribute's values as this enum (not as bare numbers)
#else
public
#endif
enum WeightsStorage
{
    /// <summary>
    /// Embedded in the assembly while they take at most the project's <c>ModelCompilerEmbedLimit</c> (16 MB by
    /// default), read from a file beside the application above it.
    /// </summary>
    Auto = 0,

    /// <summary>
    /// Embedded in the assembly, already in the layout the kernels read (and quantized, when the model is). Costs
    /// about 0.5 s of compile time per MB embedded (docs/performance.md).
    /// </summary>
    Embedded = 1,

    /// <summary>
    /// Read at start-up from the weights file beside the application (copied to the output directory), checked
    /// against the file the model was compiled with, and laid out then. Costs no compile time.
    /// </summary>
    File = 2,
}
