using System;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// Models published by others (tests/ModelCompiler.TestModels/Models/THIRD-PARTY.md), compiled unchanged and run as their
/// users run them, against ONNX Runtime on the same files.
/// </summary>
public class OnnxThirdPartyTests
{
    private const int Window = 576, State = 2 * 128;

    /// <summary>A window of audio-like samples: a tone that changes pitch per stream and step, with noise.</summary>
    private static float[] Audio(int streams, int step)
    {
        var random = new Random(streams * 100 + step);
        var x = new float[streams * Window];
        for (int s = 0; s < streams; s++)
            for (int i = 0; i < Window; i++)
                x[s * Window + i] = (float)(0.3 * Math.Sin((step * Window + i) * 0.02 * (1 + s)) + 0.05 * (random.NextDouble() - 0.5));
        return x;
    }

    /// <summary>
    /// Silero VAD streamed over four windows, its state carried from one call to the next, for 1 and 8 streams (a set each:
    /// the file's batch is fixed to 1). The If-less export picks its 16 kHz or 8 kHz network per stream by the sample rate,
    /// a data-dependent If: each rate alone, then both mixed in one call. Against ONNX Runtime run stream by stream (it
    /// takes one rate a call), probability and state within 1e-4.
    /// </summary>
    [Theory]
    [InlineData("silero_vad_op18_ifless.onnx", 1)]
    [InlineData("silero_vad_op18_ifless.onnx", 8)]
    [InlineData("silero_vad_16k_op15.onnx", 1)]
    [InlineData("silero_vad_16k_op15.onnx", 8)]
    public void Silero_VAD_streams_match_ONNX_Runtime(string file, int streams)
    {
        bool both = file.Contains("ifless", StringComparison.Ordinal);
        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, file));
        long[][] cases = both
            ? new[] { Enumerable.Repeat(16000L, streams).ToArray(), Enumerable.Repeat(8000L, streams).ToArray(), Enumerable.Range(0, streams).Select(s => s % 2 == 0 ? 16000L : 8000L).ToArray() }
            : new[] { Enumerable.Repeat(16000L, streams).ToArray() };
        foreach (long[] rates in cases)
        {
            var state = new float[streams * State];
            var reference = new float[streams * State];
            for (int step = 0; step < 4; step++)
            {
                float[] x = Audio(streams, step);
                var probability = new float[streams];
                var next = new float[streams * State];
                if (both) SileroVad.Predict(x, rates, state, probability, next, streams);
                else SileroVad16k.Predict(x, state, rates, probability, next, streams);

                var expected = new float[streams];
                for (int s = 0; s < streams; s++)
                {
                    using var results = session.Run(new[]
                    {
                        NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x.AsMemory(s * Window, Window), new[] { 1, Window })),
                        NamedOnnxValue.CreateFromTensor("state", new DenseTensor<float>(reference.AsMemory(s * State, State), new[] { 2, 1, 128 })),
                        NamedOnnxValue.CreateFromTensor("sr", new DenseTensor<long>(new[] { rates[s] }, Array.Empty<int>())),
                    });
                    expected[s] = results.Single(r => r.Name == "output").AsEnumerable<float>().Single();
                    results.Single(r => r.Name == "stateN").AsEnumerable<float>().ToArray().CopyTo(reference, s * State);
                }
                Assert.InRange(Numerics.RelativeError(probability, expected), 0, 1e-4);
                Assert.InRange(Numerics.RelativeError(next, reference), 0, 1e-4);
                Assert.True(expected.All(p => p is > 0f and < 1f)); // probabilities
                state = next;
            }
        }
        Assert.Equal(both ? new[] { "input", "sr", "state" } : new[] { "input", "state", "sr" }, both ? SileroVad.InputNames : SileroVad16k.InputNames);
    }
}
