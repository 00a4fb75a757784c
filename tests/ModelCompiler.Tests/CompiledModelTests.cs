using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using ModelCompiler.Kernels;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>End to end: models compiled by the generator, against the eager reference and against PyTorch.</summary>
public class CompiledModelTests
{
    public static TheoryData<string> Models => new(CompiledModel.All.Select(m => m.Name));

    /// <summary>
    /// Every model at batches 1, 3, 17, 64, 100 and 257 (up to its largest): one row, a few, a whole chunk, past a
    /// chunk. The fast tier runs 1, 3, 64 and 257; 17 and 100, whose eager reference on the convolution models takes
    /// the longest, run in the slow tier.
    /// </summary>
    public static TheoryData<string, int> ModelsAndBatches()
    {
        var data = new TheoryData<string, int>();
        foreach (CompiledModel m in CompiledModel.All)
            foreach (int batch in new[] { 1, 3, 17, 64, 100, 257 })
            {
                if (batch > m.MaxBatch) continue;
                var row = new TheoryDataRow<string, int>(m.Name, batch);
                data.Add(batch is 17 or 100 ? Tier.SlowRow(row) : row);
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(ModelsAndBatches))]
    public void Compiled_matches_eager_on_random_inputs(string name, int batch)
    {
        CompiledModel model = CompiledModel.Named(name);
        SafeTensors weights = model.LoadWeights();
        for (int seed = 0; seed < 8; seed++)
        {
            float[] input = model.Inputs(batch * model.InputLength, seed * 7 + batch);
            var compiled = new float[batch * model.OutputLength];
            var eager = new float[batch * model.OutputLength];
            model.Predict(input, compiled, batch, -1);
            model.PredictEager(weights, input, eager, batch);
            Assert.InRange(Numerics.RelativeError(compiled, eager), 0, model.Tolerance);
        }
    }

    [Theory]
    [InlineData("OddMlp", "odd_mlp")]
    [InlineData("WideMlp", "wide_mlp")]
    [InlineData("Zoo", "zoo")]
    [InlineData("FunctionZoo", "function_zoo")]
    [InlineData("NormMlp", "norm_mlp")]
    [InlineData("AttentionBlock", "attention_block")]
    [InlineData("SmallCnn", "small_cnn")]
    [InlineData("LayoutZoo", "layout_zoo")]
    [InlineData("GroupedCnn", "grouped_cnn")]
    [InlineData("ResBlock", "res_block")]
    [InlineData("BnCnn", "bn_cnn")]
    public void Compiled_matches_outputs_exported_from_PyTorch(string name, string file)
    {
        CompiledModel model = CompiledModel.Named(name);
        SafeTensors reference = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, file + ".reference.safetensors"));
        float[] input = reference["input"].ToArray();
        float[] expected = reference["output"].ToArray();
        int batch = input.Length / model.InputLength;
        var actual = new float[expected.Length];

        model.Predict(input, actual, batch, -1);

        Assert.Equal(batch * model.OutputLength, expected.Length);
        Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
    }

    [Fact]
    public void Digits_sample_matches_PyTorch_and_classifies_the_held_out_set() =>
        AssertMatchesPyTorchAndClassifies("digits_test.safetensors", "pixels", 10, (x, y, n) => Digits.DigitsClassifier.Predict(x, y, n));

    /// <summary>A sample's held-out set, exported by its train.py: outputs within tolerance of PyTorch's, and ≥ 95 % accuracy.</summary>
    private static void AssertMatchesPyTorchAndClassifies(string file, string inputName, int classes, Action<float[], float[], int> predict)
    {
        SafeTensors test = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, file));
        float[] input = test[inputName].ToArray(), labels = test["labels"].ToArray(), expected = test["probabilities"].ToArray();
        var actual = new float[expected.Length];

        predict(input, actual, labels.Length);

        Assert.InRange(Numerics.RelativeError(actual, expected), 0, Numerics.Tolerance);
        double accuracy = Accuracy(actual, labels, classes);
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy:F4}");
    }

    /// <summary>The class with the largest output in row <paramref name="i"/>.</summary>
    private static int Top(float[] outputs, int i, int classes) =>
        Array.IndexOf(outputs, outputs.Skip(i * classes).Take(classes).Max(), i * classes, classes) - i * classes;

    private static double Accuracy(float[] outputs, float[] labels, int classes) =>
        Enumerable.Range(0, labels.Length).Count(i => Top(outputs, i, classes) == (int)labels[i]) / (double)labels.Length;

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    [InlineData(101)]
    public void Int8_model_equals_its_eager_int8_reference_bit_for_bit(int batch)
    {
        // Only ReLU between the layers, so every float the two compute is the same float.
        foreach (string name in new[] { "ReluMlpInt8", "ReluMlpInt8Static", "ReluMlpInt8FromFile" })
            AssertBitExact(CompiledModel.Named(name), batch);
    }

    private static void AssertBitExact(CompiledModel model, int batch)
    {
        SafeTensors weights = model.LoadWeights();
        for (int seed = 0; seed < 5; seed++)
        {
            float[] input = model.Inputs(batch * model.InputLength, seed + 100 * batch);
            var compiled = new float[batch * model.OutputLength];
            var eager = new float[batch * model.OutputLength];
            model.Predict(input, compiled, batch, -1);
            model.PredictEager(weights, input, eager, batch);
            Assert.Equal(eager, compiled);
        }
    }

    [Fact]
    public void TextClassifier_sample_matches_PyTorch_and_classifies_the_held_out_set() =>
        AssertMatchesPyTorchAndClassifies("text_classifier_test.safetensors", "tokens", 3, (x, y, n) => TextClassifier.TokenCountClassifier.Predict(x, y, n));

    [Fact]
    public void A_token_id_out_of_range_is_refused_naming_the_input()
    {
        var tokens = new float[12];
        tokens[5] = 16f; // the vocabulary has 16 tokens: 0–15
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TextClassifier.TokenCountClassifier.Predict(tokens, new float[3]));
        Assert.Equal("input", e.ParamName);
    }

    [Fact]
    public void DigitsCnn_sample_matches_PyTorch_and_classifies_the_held_out_set() =>
        AssertMatchesPyTorchAndClassifies("digits_cnn_test.safetensors", "pixels", 10, (x, y, n) => DigitsCnn.DigitsCnnClassifier.Predict(x, y, n));

    [Theory]
    [InlineData("DigitsInt8")]
    [InlineData("DigitsInt8Static")]
    public void Digits_int8_agrees_with_float32_on_the_held_out_set(string name)
    {
        CompiledModel model = CompiledModel.Named(name);
        SafeTensors test = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "digits_test.safetensors"));
        float[] pixels = test["pixels"].ToArray(), labels = test["labels"].ToArray();
        int samples = labels.Length;
        var f32 = new float[samples * 10];
        var int8 = new float[samples * 10];
        Digits.DigitsClassifier.Predict(pixels, f32, samples);
        model.Predict(pixels, int8, samples, -1);

        int agree = Enumerable.Range(0, samples).Count(i => Top(f32, i, 10) == Top(int8, i, 10));
        double accuracyF32 = Accuracy(f32, labels, 10), accuracyInt8 = Accuracy(int8, labels, 10);

        Assert.True(agree >= 0.99 * samples, $"top-1 agreement {agree}/{samples}");
        Assert.True(accuracyF32 - accuracyInt8 <= 0.005, $"accuracy f32 {accuracyF32:F4}, int8 {accuracyInt8:F4}");
    }

    [Fact]
    public void Digits_int4_loses_at_most_two_points_of_accuracy()
    {
        SafeTensors test = SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, "digits_test.safetensors"));
        float[] pixels = test["pixels"].ToArray(), labels = test["labels"].ToArray();
        int samples = labels.Length;
        var f32 = new float[samples * 10];
        var int4 = new float[samples * 10];
        Digits.DigitsClassifier.Predict(pixels, f32, samples);
        Digits.DigitsClassifierInt4.Predict(pixels, int4, samples);

        double accuracyF32 = Accuracy(f32, labels, 10), accuracyInt4 = Accuracy(int4, labels, 10);
        Assert.True(accuracyF32 - accuracyInt4 <= 0.02, $"accuracy f32 {accuracyF32:F4}, int4 {accuracyInt4:F4}");
    }

    [Fact]
    public void Weights_read_from_the_file_give_the_same_outputs_as_embedded_ones()
    {
        float[] input = Numerics.Random(9 * 17, 5);
        var embedded = new float[9];
        var fromFile = new float[9];
        ModelCompiler.TestModels.OddMlp.Predict(input, embedded, 9);
        ModelCompiler.TestModels.OddMlpFromFile.Predict(input, fromFile, 9);
        Assert.Equal(embedded, fromFile);
    }

    [Fact]
    public void A_weights_file_that_is_not_the_compiled_one_is_refused()
    {
        string folder = AppContext.BaseDirectory;
        var missing = Assert.Throws<FileNotFoundException>(() => ModelCompiler.Kernels.WeightsFile.Open("no_such.safetensors", 10, "0"));
        Assert.Contains("copy no_such.safetensors to the output directory", missing.Message);
        var changed = Assert.Throws<InvalidOperationException>(() => ModelCompiler.Kernels.WeightsFile.Open("odd_mlp.safetensors", 8776, "0000000000000000"));
        Assert.Contains("is not the weights file the model was compiled with", changed.Message);
        Assert.True(File.Exists(Path.Combine(folder, "odd_mlp.safetensors")));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Single_sample_Predict_equals_the_batched_one(string name)
    {
        CompiledModel model = CompiledModel.Named(name);
        float[] input = model.Inputs(5 * model.InputLength, 99);
        var batched = new float[5 * model.OutputLength];
        model.Predict(input, batched, 5, 1);
        for (int i = 0; i < 5; i++)
        {
            var one = new float[model.OutputLength];
            model.PredictSingle(input.AsSpan(i * model.InputLength, model.InputLength), one);
            Assert.Equal(batched.AsSpan(i * model.OutputLength, model.OutputLength).ToArray(), one);
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void A_few_samples_shared_among_cores_equal_one_core_bit_for_bit(string name)
    {
        // Below MinRowsPerWorker rows per core the batch is not split by samples: a model with work enough shares each
        // kernel among the process's workers instead (ResBlock, LongAttention, …), which must not change a bit.
        CompiledModel model = CompiledModel.Named(name);
        foreach (int batch in new[] { 1, 3 })
        {
            float[] input = model.Inputs(batch * model.InputLength, 11 + batch);
            var alone = new float[batch * model.OutputLength];
            model.Predict(input, alone, batch, 1);
            foreach (int cores in new[] { 2, -1 })
            {
                var shared = new float[batch * model.OutputLength];
                model.Predict(input, shared, batch, cores);
                Assert.Equal(alone, shared);
            }
        }
    }

    [Fact]
    public void Shared_workers_go_to_one_call_at_a_time()
    {
        Assert.Null(KernelWorkers.Rent(1)); // one thread: nothing to share
        Assert.Equal(Environment.ProcessorCount, KernelWorkers.ThreadsFor(-1));
        Assert.Equal(Environment.ProcessorCount, KernelWorkers.ThreadsFor(Environment.ProcessorCount + 5)); // never more threads than cores
        // The process-wide workers may be held by another test's Predict: the taking is checked on a set of our own.
        using var workers = new KernelWorkers(2);
        Assert.True(workers.TryTake());
        Assert.False(workers.TryTake()); // held: a second caller runs alone rather than wait
        workers.Return();
        Assert.True(workers.TryTake());
        workers.Return();
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Wrong_lengths_throw_naming_the_parameter_and_leave_the_output_untouched(string name)
    {
        CompiledModel model = CompiledModel.Named(name);
        int n = model.InputLength, m = model.OutputLength;
        var output = Enumerable.Repeat(42f, 3 * m).ToArray();

        var tooShort = Assert.Throws<ArgumentException>(() => model.Predict(new float[3 * n - 1], output, 3, -1));
        Assert.Equal("input", tooShort.ParamName);
        Assert.Contains($"{3 * n} floats (3 × {n})", tooShort.Message);

        var badOutput = Assert.Throws<ArgumentException>(() => model.Predict(new float[3 * n], new float[3 * m + 1], 3, -1));
        Assert.Equal("output", badOutput.ParamName);
        Assert.Contains($"{3 * m} floats", badOutput.Message);

        var single = Assert.Throws<ArgumentException>(() => model.PredictSingle(new float[n + 1], output.AsSpan(0, m)));
        Assert.Equal("input", single.ParamName);

        var zero = Assert.Throws<ArgumentOutOfRangeException>(() => model.Predict(Array.Empty<float>(), Array.Empty<float>(), 0, -1));
        Assert.Equal("batch", zero.ParamName);

        var shared = new float[Math.Max(n, m) * 2];
        var overlap = Assert.Throws<ArgumentException>(() => model.PredictSingle(shared.AsSpan(0, n), shared.AsSpan(1, m)));
        Assert.Equal("output", overlap.ParamName);

        Assert.All(output, v => Assert.Equal(42f, v));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Many_threads_get_the_same_results_as_one(string name)
    {
        CompiledModel model = CompiledModel.Named(name);
        const int samples = 64;
        float[] input = model.Inputs(samples * model.InputLength, 3);
        var sequential = new float[samples * model.OutputLength];
        model.Predict(input, sequential, samples, 1);

        var failures = 0;
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            var output = new float[model.OutputLength];
            for (int round = 0; round < 50; round++)
            {
                int i = (worker * 13 + round * 7) % samples;
                model.PredictSingle(input.AsSpan(i * model.InputLength, model.InputLength), output);
                if (!output.AsSpan().SequenceEqual(sequential.AsSpan(i * model.OutputLength, model.OutputLength)))
                    System.Threading.Interlocked.Increment(ref failures);
            }
            var batch = new float[samples * model.OutputLength];
            model.Predict(input, batch, samples, 1);
            if (!batch.AsSpan().SequenceEqual(sequential)) System.Threading.Interlocked.Increment(ref failures);
        });
        Assert.Equal(0, failures);

        // The multi-core path splits the batch; every row must still come out the same.
        var parallel = new float[samples * model.OutputLength];
        model.Predict(input, parallel, samples, 2);
        Assert.Equal(sequential, parallel);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Predict_allocates_nothing_after_the_first_call(string name)
    {
        // A property of optimized code: unoptimized (Debug) builds of the runtime box in places.
        var debuggable = (System.Diagnostics.DebuggableAttribute?)Attribute.GetCustomAttribute(typeof(Tensor).Assembly, typeof(System.Diagnostics.DebuggableAttribute));
        Assert.SkipWhen(debuggable?.IsJITOptimizerDisabled == true, "the runtime was built without optimization; run the tests with -c Release");
        CompiledModel model = CompiledModel.Named(name);
        float[] input = model.Inputs(10 * model.InputLength, 4);
        var output = new float[10 * model.OutputLength];
        model.PredictSingle(input.AsSpan(0, model.InputLength), output.AsSpan(0, model.OutputLength));
        model.Predict(input, output, 10, 1);

        // Steady state: a per-call allocation shows in every round; a one-time one (a method reaching its next
        // JIT tier while other tests run) does not, so the quietest of three rounds must allocate nothing.
        long least = long.MaxValue;
        for (int round = 0; round < 3 && least != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++)
            {
                model.PredictSingle(input.AsSpan(0, model.InputLength), output.AsSpan(0, model.OutputLength));
                model.Predict(input, output, 10, 1);
            }
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, least);
    }
}
