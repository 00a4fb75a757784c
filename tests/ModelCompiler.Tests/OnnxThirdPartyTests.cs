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

    /// <summary>
    /// A page of dark text-like strokes on light paper, normalized as PaddleOCR does ((v/255 − mean) / std per channel):
    /// something for the detector to find, so that its map is not all near zero.
    /// </summary>
    private static float[] Page(int batch, int height, int width)
    {
        float[] mean = { 0.485f, 0.456f, 0.406f }, std = { 0.229f, 0.224f, 0.225f };
        var x = new float[batch * 3 * height * width];
        var random = new Random(batch);
        for (int b = 0; b < batch; b++)
        {
            var ink = new bool[height, width];
            for (int line = 0; line < height / 24; line++)
            {
                int top = line * 24 + 6 + random.Next(4), left = 4 + random.Next(10), right = width - 4 - random.Next(width / 3);
                for (int c = left; c < right; c += 3 + random.Next(5))
                    for (int r = top; r < Math.Min(height, top + 8 + random.Next(5)); r++)
                        ink[r, c] = ink[r, Math.Min(width - 1, c + 1)] = true;
            }
            for (int ch = 0; ch < 3; ch++)
                for (int r = 0; r < height; r++)
                    for (int c = 0; c < width; c++)
                        x[((b * 3 + ch) * height + r) * width + c] = ((ink[r, c] ? 0.1f : 0.95f) - mean[ch]) / std[ch];
        }
        return x;
    }

    /// <summary>ONNX Runtime on one input, all outputs' first.</summary>
    private static float[] Reference(string file, string input, float[] x, int[] shape)
    {
        using var session = new InferenceSession(Path.Combine(Numerics.ModelsFolder, file));
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(x, shape)) });
        return results.First().AsEnumerable<float>().ToArray();
    }

    /// <summary>PaddleOCR's text detector (Resize, ConvTranspose, HardSigmoid, BatchNormalization) and orientation classifier at batches 1 and 8, the batch free.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void PaddleOCR_detection_and_orientation_match_ONNX_Runtime(int batch)
    {
        float[] page = Page(batch, 320, 320);
        var map = new float[batch * OcrDetection.OutputLength];
        OcrDetection.Predict(page, map, batch);
        float[] expected = Reference("ch_PP-OCRv3_det_infer.onnx", "x", page, new[] { batch, 3, 320, 320 });
        Assert.Equal(new[] { 1, 320, 320 }, OcrDetection.OutputShape.ToArray());
        Assert.True(expected.Max() > 0.5f, "the page has text the detector finds");
        Assert.InRange(Numerics.RelativeError(map, expected), 0, 1e-4);

        float[] crops = Page(batch, 48, 192);
        var classes = new float[batch * OcrOrientation.OutputLength];
        OcrOrientation.Predict(crops, classes, batch);
        Assert.InRange(Numerics.RelativeError(classes, Reference("ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", crops, new[] { batch, 3, 48, 192 })), 0, 1e-4);
    }

    /// <summary>
    /// openWakeWord's feature pipeline: the mel front-end on a clip each (its batch fixed to 1: the 80 dB floor is taken over
    /// the batch), then the speech embedding on 76 frames, at batches 1 and 8; ONNX Runtime runs the front-end clip by clip.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void OpenWakeWord_features_match_ONNX_Runtime(int batch)
    {
        var audio = new float[batch * 1760];
        for (int i = 0; i < audio.Length; i++) audio[i] = (float)(3000 * Math.Sin(i * 0.07 * (1 + i / 1760)) + 400 * Math.Sin(i * 0.31));
        var mel = new float[batch * MelSpectrogram.OutputLength];
        MelSpectrogram.Predict(audio, mel, batch);
        var expected = new float[mel.Length];
        for (int b = 0; b < batch; b++)
            Reference("melspectrogram.onnx", "input", audio.AsSpan(b * 1760, 1760).ToArray(), new[] { 1, 1760 }).CopyTo(expected, b * MelSpectrogram.OutputLength);
        Assert.Equal(new[] { 1, 1, 8, 32 }, MelSpectrogram.OutputShape.ToArray());
        Assert.InRange(Numerics.RelativeError(mel, expected), 0, 1e-4);

        float[] frames = Numerics.Random(batch * 76 * 32, seed: batch, scale: 2);
        var embedding = new float[batch * SpeechEmbedding.OutputLength];
        SpeechEmbedding.Predict(frames, embedding, batch);
        Assert.InRange(Numerics.RelativeError(embedding, Reference("speech_embedding.onnx", "input_1", frames, new[] { batch, 76, 32, 1 })), 0, 1e-4);
    }

    /// <summary>
    /// nn.TransformerEncoderLayer as torch.onnx.export writes it (make_encoder_layer.py), sequence-first and batch-first:
    /// each sequence a set (the batch fixed to 1), 1 and 8 of them, against ONNX Runtime sequence by sequence.
    /// </summary>
    [Theory]
    [InlineData("encoder_layer_sf.onnx", 1)]
    [InlineData("encoder_layer_sf.onnx", 8)]
    [InlineData("encoder_layer_bf.onnx", 1)]
    [InlineData("encoder_layer_bf.onnx", 8)]
    public void TransformerEncoderLayer_exports_match_ONNX_Runtime(string file, int sequences)
    {
        const int length = 10 * 64;
        bool batchFirst = file.Contains("_bf", StringComparison.Ordinal);
        float[] x = Numerics.Random(sequences * length, seed: sequences);
        var y = new float[sequences * length];
        if (batchFirst) EncoderLayerBatchFirst.Predict(x, y, sequences);
        else EncoderLayerSequenceFirst.Predict(x, y, sequences);
        var expected = new float[y.Length];
        for (int s = 0; s < sequences; s++)
            Reference(file, "x", x.AsSpan(s * length, length).ToArray(), batchFirst ? new[] { 1, 10, 64 } : new[] { 10, 1, 64 }).CopyTo(expected, s * length);
        Assert.InRange(Numerics.RelativeError(y, expected), 0, 1e-4);
    }
}
