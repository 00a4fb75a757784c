using System.Collections.Generic;
using System.Linq;

namespace ModelCompiler.Tests;

/// <summary>Weights held in memory, for driving the eager reference directly.</summary>
internal sealed class TestWeights : IWeightSource
{
    private readonly Dictionary<string, Tensor> _tensors = new();

    public TestWeights Add(string name, int[] shape, float[] data)
    {
        _tensors[name] = new Tensor(shape, data);
        return this;
    }

    public IReadOnlyList<string> Names => _tensors.Keys.OrderBy(k => k, System.StringComparer.Ordinal).ToList();

    public bool TryGetTensor(string name, out Tensor tensor) => _tensors.TryGetValue(name, out tensor!);
}
