using System;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelCompiler.PackagedModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// Third-party ONNX models from public NuGet packages (tests/ModelCompiler.PackagedModels), compiled by the generator and
/// checked against ONNX Runtime running the same file.
/// </summary>
public class PackagedModelTests
{
    /// <summary>ONNX Runtime on one sample of a model whose file fixes the batch at 1.</summary>
    private static float[] OnnxRuntime(string file, float[] input, int offset, int length, int[] shape)
    {
        using var session = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "Models", file));
        var tensor = new DenseTensor<float>(input.AsMemory(offset, length), new[] { 1 }.Concat(shape).ToArray());
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), tensor) });
        return results.Single().AsEnumerable<float>().ToArray();
    }

    [Fact]
    public void ML_NET_ResNet18_compiled_from_its_package_matches_ONNX_Runtime()
    {
        Assert.Equal(new[] { 3, 224, 224 }, ResNet18.InputShape.ToArray());
        Assert.Equal(512, ResNet18.OutputLength);
        // The file fixes the batch at 1; the compiled model takes any batch, each sample as ONNX Runtime computes it alone.
        const int batch = 2;
        int length = ResNet18.InputLength;
        float[] input = Numerics.Random(batch * length, seed: 18);
        var actual = new float[batch * ResNet18.OutputLength];
        ResNet18.Predict(input, actual, batch);
        for (int b = 0; b < batch; b++)
        {
            float[] expected = OnnxRuntime("ResNet18.onnx", input, b * length, length, ResNet18.InputShape.ToArray());
            Assert.Equal(ResNet18.OutputLength, expected.Length);
            Assert.InRange(Numerics.RelativeError(actual.AsSpan(b * ResNet18.OutputLength, ResNet18.OutputLength), expected), 0, Numerics.Tolerance);
        }
    }
}
