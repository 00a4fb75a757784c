namespace ModelCompiler;

/// <summary>Which form of GELU to compute; the same choice as PyTorch's <c>approximate</c> argument.</summary>
public enum GeluApproximation
{
    /// <summary><c>0.5 · x · (1 + erf(x / √2))</c>, PyTorch's <c>approximate='none'</c>.</summary>
    None = 0,

    /// <summary><c>0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))</c>, PyTorch's <c>approximate='tanh'</c>.</summary>
    Tanh = 1,
}
