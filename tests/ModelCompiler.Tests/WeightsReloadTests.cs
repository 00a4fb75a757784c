using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using ModelCompiler.TestModels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// LoadWeights: a retrained weights file dropped in without a rebuild — checked against the compiled plan, swapped in
/// for new calls, refused with a catchable exception (and the old weights kept) when it does not fit.
/// </summary>
public class WeightsReloadTests
{
    private static string Models => Path.Combine(AppContext.BaseDirectory, "Models");

    [Fact]
    public void A_file_storage_model_takes_retrained_weights_and_computes_what_eager_computes_with_them()
    {
        string original = Path.Combine(Models, "odd_mlp.safetensors");
        string retrained = Retrained(original, seed: 1);
        float[] input = Numerics.Random(ReloadableMlp.InputLength * 300, seed: 5);
        var before = new float[300 * ReloadableMlp.OutputLength];
        ReloadableMlp.Predict(input, before, 300);
        try
        {
            ReloadableMlp.LoadWeights(retrained);
            foreach (int batch in new[] { 1, 300 })
            {
                var compiled = new float[batch * ReloadableMlp.OutputLength];
                var eager = new float[compiled.Length];
                ReloadableMlp.Predict(input.AsSpan(0, batch * ReloadableMlp.InputLength), compiled, batch);
                ReloadableMlp.PredictEager(SafeTensors.Load(retrained), input.AsSpan(0, batch * ReloadableMlp.InputLength), eager, batch);
                Assert.InRange(Numerics.RelativeError(compiled, eager), 0, Numerics.Tolerance);
                Assert.NotEqual(before.AsSpan(0, compiled.Length).ToArray(), compiled);
            }
        }
        finally
        {
            ReloadableMlp.LoadWeights(original);
        }
        var after = new float[before.Length];
        ReloadableMlp.Predict(input, after, 300);
        Assert.Equal(before, after);
    }

    [Fact]
    public void An_embedded_model_takes_retrained_weights_with_its_BatchNorms_folded_again()
    {
        string original = Path.Combine(Models, "bn_cnn.safetensors");
        string retrained = Retrained(original, seed: 2);
        float[] input = Numerics.Random(ReloadableBnCnn.InputLength * 9, seed: 6);
        var compiled = new float[9 * ReloadableBnCnn.OutputLength];
        var eager = new float[compiled.Length];
        try
        {
            ReloadableBnCnn.LoadWeights(retrained);
            ReloadableBnCnn.Predict(input, compiled, 9);
            ReloadableBnCnn.PredictEager(SafeTensors.Load(retrained), input, eager, 9);
            Assert.InRange(Numerics.RelativeError(compiled, eager), 0, 1e-4);
            ReloadableBnCnn.PredictEager(SafeTensors.Load(original), input, eager, 9);
            Assert.True(eager.Zip(compiled).Max(p => Math.Abs(p.First - p.Second)) > 1e-3f, "the retrained weights changed nothing");
        }
        finally
        {
            ReloadableBnCnn.LoadWeights(original);
        }
        ReloadableBnCnn.Predict(input, compiled, 9);
        Assert.InRange(Numerics.RelativeError(compiled, eager), 0, 1e-4);
    }

    [Fact]
    public void A_file_that_does_not_fit_is_refused_with_what_differs_and_the_weights_in_use_stay()
    {
        string original = Path.Combine(Models, "odd_mlp.safetensors");
        float[] input = Numerics.Random(ReloadableMlp.InputLength * 4, seed: 7);
        var before = new float[4 * ReloadableMlp.OutputLength];
        ReloadableMlp.Predict(input, before, 4);

        // A layer resized, one missing, one renamed: every difference is named, with shapes.
        Dictionary<string, (int[] Shape, float[] Values)> tensors = Read(original);
        tensors["l2.weight"] = (new[] { 4, 100 }, new float[400]);
        tensors.Remove("l1.bias");
        tensors["l3.weightt"] = tensors["l3.weight"];
        tensors.Remove("l3.weight");
        string bad = Write(tensors);
        var e = Assert.Throws<InvalidDataException>(() => ReloadableMlp.LoadWeights(bad));
        Assert.Contains("'l2.weight' is [4, 100], the model was compiled for [3, 100]", e.Message);
        Assert.Contains("no tensor 'l1.bias' [100]", e.Message);
        Assert.Matches(@"no tensor 'l3\.weight' \[1, 3\] \(nearest: [^)]*l3\.weightt", e.Message);
        Assert.Contains("The weights in use are unchanged", e.Message);

        string missing = Path.Combine(GeneratorHarness.TempFolder(), "none.safetensors");
        Assert.Equal(missing, Assert.Throws<FileNotFoundException>(() => ReloadableMlp.LoadWeights(missing)).FileName);
        string text = Path.Combine(GeneratorHarness.TempFolder(), "text.safetensors");
        File.WriteAllText(text, "not weights");
        Assert.Contains("is not a safetensors file", Assert.Throws<InvalidDataException>(() => ReloadableMlp.LoadWeights(text)).Message);
        Assert.Throws<ArgumentException>(() => ReloadableMlp.LoadWeights(""));

        var after = new float[before.Length];
        ReloadableMlp.Predict(input, after, 4);
        Assert.Equal(before, after);
    }

    [Fact]
    public void A_GPT2_takes_retrained_weights_with_its_Conv1D_layers_read_transposed_again()
    {
        string original = Path.Combine(Models, "tiny_gpt2.safetensors");
        string retrained = Retrained(original, seed: 3);
        Dictionary<string, (int[] Shape, float[] Values)> tensors = Read(original);
        tensors.Remove("h.1.mlp.c_fc.weight");
        string missing = Write(tensors);
        int[] tokens = Enumerable.Range(0, 70).Select(i => (i * 29 + 3) % ReloadableGpt2.VocabularySize).ToArray();
        var compiled = new float[tokens.Length * ReloadableGpt2.OutputLength];
        try
        {
            ReloadableGpt2.LoadWeights(retrained);
            ReloadableGpt2.CreateSession(maxTokens: tokens.Length).Prefill(tokens, compiled);
            float[] eager = ReloadableGpt2.ForwardEager(SafeTensors.Load(retrained), tokens.Select(t => (float)t).ToArray(), tokens.Length).ToArray();
            Assert.InRange(Numerics.RelativeError(compiled, eager), 0, Numerics.Tolerance);

            var e = Assert.Throws<InvalidDataException>(() => ReloadableGpt2.LoadWeights(missing));
            Assert.Contains("it has no tensor 'h.1.mlp.c_fc.weight' [64, 256]", e.Message); // named as the file stores it
        }
        finally
        {
            ReloadableGpt2.LoadWeights(original);
        }
    }

    [Fact]
    public void Weights_calibrated_at_build_time_cannot_be_replaced_and_say_why()
    {
        var e = Assert.Throws<NotSupportedException>(() => ReluMlpInt8Static.LoadWeights(Path.Combine(Models, "relu_mlp.safetensors")));
        Assert.Contains("calibrated at build time", e.Message);
    }

    [Fact]
    public void A_call_runs_on_one_set_of_weights_while_another_thread_swaps_them()
    {
        // 300 rows are several chunks: a call that switched weights between chunks would mix the two outputs.
        string a = Path.Combine(Models, "odd_mlp.safetensors"), b = Retrained(a, seed: 3);
        const int batch = 300;
        float[] input = Numerics.Random(ReloadableMlp.InputLength * batch, seed: 8);
        float[] withA = Run(), withB;
        try
        {
            ReloadableMlp.LoadWeights(b);
            withB = Run();
            using var stop = new CancellationTokenSource();
            var swapper = new Thread(() =>
            {
                for (int i = 0; !stop.IsCancellationRequested; i++) ReloadableMlp.LoadWeights(i % 2 == 0 ? a : b);
            });
            swapper.Start();
            for (int call = 0; call < 200; call++)
            {
                float[] output = Run();
                Assert.True(output.AsSpan().SequenceEqual(withA) || output.AsSpan().SequenceEqual(withB), $"call {call} mixed the two sets of weights");
            }
            stop.Cancel();
            swapper.Join();
        }
        finally
        {
            ReloadableMlp.LoadWeights(a);
        }

        float[] Run()
        {
            var output = new float[batch * ReloadableMlp.OutputLength];
            ReloadableMlp.Predict(input, output, batch, maxDegreeOfParallelism: 1);
            return output;
        }
    }

    /// <summary>A copy of a weights file with every tensor changed (as retraining would), written to a temporary file.</summary>
    private static string Retrained(string path, int seed)
    {
        var random = new Random(seed);
        Dictionary<string, (int[] Shape, float[] Values)> tensors = Read(path);
        foreach (string name in tensors.Keys.ToList())
        {
            (int[] shape, float[] values) = tensors[name];
            // Variances stay positive; everything else moves by up to ±30 %.
            tensors[name] = (shape, values.Select(v => name.EndsWith("running_var", StringComparison.Ordinal) ? v * (0.5f + (float)random.NextDouble())
                : v * (0.7f + 0.6f * (float)random.NextDouble()) + 0.05f * (float)(random.NextDouble() - 0.5)).ToArray());
        }
        return Write(tensors);
    }

    private static Dictionary<string, (int[] Shape, float[] Values)> Read(string path)
    {
        SafeTensors file = SafeTensors.Load(path);
        return file.Names.ToDictionary(n => n, n => (file[n].Shape.ToArray(), file[n].ToArray()));
    }

    /// <summary>A float32 safetensors file (the format's header: JSON of dtype, shape and byte offsets, then the data).</summary>
    private static string Write(Dictionary<string, (int[] Shape, float[] Values)> tensors)
    {
        var json = new StringBuilder("{");
        long offset = 0;
        foreach ((string name, (int[] shape, float[] values)) in tensors)
        {
            if (json.Length > 1) json.Append(',');
            json.Append($"\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{offset},{offset + values.Length * 4L}]}}");
            offset += values.Length * 4L;
        }
        json.Append('}');
        byte[] header = Encoding.UTF8.GetBytes(json.ToString());
        string path = Path.Combine(GeneratorHarness.TempFolder(), "weights.safetensors");
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes((long)header.Length));
        stream.Write(header);
        foreach ((int[] _, float[] values) in tensors.Values)
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        return path;
    }
}
