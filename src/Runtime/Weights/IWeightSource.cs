using System.Collections.Generic;

namespace ModelCompiler;

/// <summary>Named weight tensors, as the eager reference looks them up (<c>"fc1.weight"</c>, <c>"fc1.bias"</c>).</summary>
public interface IWeightSource
{
    /// <summary>Every tensor name, sorted ordinally.</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>Finds a tensor by its exact name.</summary>
    bool TryGetTensor(string name, out Tensor tensor);
}
