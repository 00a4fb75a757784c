using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>
/// An element-wise function of one float, at every width a kernel may run at (TensorPrimitives style).
/// Kernels take the operator as a generic struct argument, so the JIT compiles a copy of the kernel with
/// the operator inlined into its loop: this is how generated epilogues (bias, then activations) are fused.
/// </summary>
public interface IUnaryOperator
{
    /// <summary>The scalar form; the reference for the vector forms.</summary>
    static abstract float Invoke(float x);
    /// <summary>Four lanes (SSE, NEON).</summary>
    static abstract Vector128<float> Invoke(Vector128<float> x);
    /// <summary>Eight lanes (AVX2).</summary>
    static abstract Vector256<float> Invoke(Vector256<float> x);
    /// <summary>Sixteen lanes (AVX-512).</summary>
    static abstract Vector512<float> Invoke(Vector512<float> x);
}

/// <summary>An element-wise function of two floats, at every width.</summary>
public interface IBinaryOperator
{
    static abstract float Invoke(float x, float y);
    static abstract Vector128<float> Invoke(Vector128<float> x, Vector128<float> y);
    static abstract Vector256<float> Invoke(Vector256<float> x, Vector256<float> y);
    static abstract Vector512<float> Invoke(Vector512<float> x, Vector512<float> y);
}
