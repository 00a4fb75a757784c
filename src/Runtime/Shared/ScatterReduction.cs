// Compiled into both the runtime (Kernels.Scatter reads it) and the generator (which plans it and prints it into
// generated code): how a scatter combines an update with the value already there.
namespace ModelCompiler.Kernels;

/// <summary>How ScatterND and ScatterElements combine an update with the value already there (ONNX's <c>reduction</c>).</summary>
public enum ScatterReduction
{
    /// <summary>The update replaces the value (of several updates of one place, the last in index order).</summary>
    None,
    /// <summary>The update is added.</summary>
    Add,
    /// <summary>The value is multiplied by the update.</summary>
    Mul,
    /// <summary>The larger of the two.</summary>
    Max,
    /// <summary>The smaller of the two.</summary>
    Min,
}
