using System;
using System.IO;
using System.Runtime.Intrinsics;
using ModelCompiler;
using ModelCompiler.TestModels;

// Prints which vector widths this process may use, then, for each test model, the largest relative error
// (max |compiled − eager| / max |eager|) over several seeds and batch sizes. Exit code 1 if any exceeds 1e-5.
Console.WriteLine($"accelerated: v512={Vector512.IsHardwareAccelerated} v256={Vector256.IsHardwareAccelerated} v128={Vector128.IsHardwareAccelerated}");
Console.WriteLine($"int8 dot product: {ModelCompiler.Kernels.QuantizedLinear.PathName}");
string models = Path.Combine(AppContext.BaseDirectory, "Models");
bool ok = true;
ok &= Check("OddMlp", "odd_mlp", OddMlp.InputLength, OddMlp.OutputLength, OddMlp.Predict, OddMlp.PredictEager);
ok &= Check("WideMlp", "wide_mlp", WideMlp.InputLength, WideMlp.OutputLength, WideMlp.Predict, WideMlp.PredictEager);
ok &= Check("Zoo", "zoo", Zoo.InputLength, Zoo.OutputLength, Zoo.Predict, Zoo.PredictEager);
ok &= Check("DigitsClassifier", "digits", Digits.DigitsClassifier.InputLength, Digits.DigitsClassifier.OutputLength,
    Digits.DigitsClassifier.Predict, Digits.DigitsClassifier.PredictEager);
ok &= Check("AttentionBlock", "attention_block", AttentionBlock.InputLength, AttentionBlock.OutputLength, AttentionBlock.Predict, AttentionBlock.PredictEager);
// Attention (float) feeds an int8 layer: one ulp can flip one int8 code, one quantization step (~1/127) at the output.
ok &= Check("AttentionBlockInt8", "attention_block", AttentionBlockInt8.InputLength, AttentionBlockInt8.OutputLength, AttentionBlockInt8.Predict, AttentionBlockInt8.PredictEager, tolerance: 2e-2);
ok &= Check("SmallCnn", "small_cnn", SmallCnn.InputLength, SmallCnn.OutputLength, SmallCnn.Predict, SmallCnn.PredictEager);
ok &= Check("BnCnn", "bn_cnn", BnCnn.InputLength, BnCnn.OutputLength, BnCnn.Predict, BnCnn.PredictEager);
ok &= Check("LeakyClamp", "odd_mlp", LeakyClamp.InputLength, LeakyClamp.OutputLength, LeakyClamp.Predict, LeakyClamp.PredictEager);
ok &= Check("PositiveMath", "odd_mlp", PositiveMath.InputLength, PositiveMath.OutputLength, PositiveMath.Predict, PositiveMath.PredictEager);
ok &= Check("SpecialValues", "odd_mlp", SpecialValues.InputLength, SpecialValues.OutputLength, SpecialValues.Predict, SpecialValues.PredictEager);
ok &= Check("LayoutZoo", "layout_zoo", LayoutZoo.InputLength, LayoutZoo.OutputLength, LayoutZoo.Predict, LayoutZoo.PredictEager);
ok &= Check("GroupedCnn", "grouped_cnn", GroupedCnn.InputLength, GroupedCnn.OutputLength, GroupedCnn.Predict, GroupedCnn.PredictEager);
// A skip connection added in a direct convolution's store (its channel blocks on every width, 4 channels).
ok &= Check("ConvResidual", "small_cnn", ConvResidual.InputLength, ConvResidual.OutputLength, ConvResidual.Predict, ConvResidual.PredictEager);
// 37k multiply-adds per output value in the eager reference (double, scalar): two batch sizes, one seed, or it takes minutes under qemu.
ok &= Check("ResBlock", "res_block", ResBlock.InputLength, ResBlock.OutputLength, ResBlock.Predict, ResBlock.PredictEager, heavy: true);
ok &= Check("TextClassifier", "text_classifier", TextClassifier.TokenCountClassifier.InputLength, TextClassifier.TokenCountClassifier.OutputLength,
    TextClassifier.TokenCountClassifier.Predict, TextClassifier.TokenCountClassifier.PredictEager, tokens: true);
ok &= Check("NormMlp", "norm_mlp", NormMlp.InputLength, NormMlp.OutputLength, NormMlp.Predict, NormMlp.PredictEager);
// Int8: ReluMlpInt8 must equal its eager reference exactly; the others within the float tolerance.
ok &= Check("ReluMlpInt8", "relu_mlp", ReluMlpInt8.InputLength, ReluMlpInt8.OutputLength, ReluMlpInt8.Predict, ReluMlpInt8.PredictEager, tolerance: 0);
ok &= Check("WideMlpInt8", "wide_mlp", WideMlpInt8.InputLength, WideMlpInt8.OutputLength, WideMlpInt8.Predict, WideMlpInt8.PredictEager);
ok &= Check("ZooInt8", "zoo", ZooInt8.InputLength, ZooInt8.OutputLength, ZooInt8.Predict, ZooInt8.PredictEager);
ok &= Check("DigitsClassifierInt8", "digits", Digits.DigitsClassifierInt8.InputLength, Digits.DigitsClassifierInt8.OutputLength,
    Digits.DigitsClassifierInt8.Predict, Digits.DigitsClassifierInt8.PredictEager);
ok &= Check("ReluMlpInt8Static", "relu_mlp", ReluMlpInt8Static.InputLength, ReluMlpInt8Static.OutputLength, ReluMlpInt8Static.Predict, ReluMlpInt8Static.PredictEager, tolerance: 0);
ok &= Check("DigitsInt8Static", "digits", DigitsInt8Static.InputLength, DigitsInt8Static.OutputLength, DigitsInt8Static.Predict, DigitsInt8Static.PredictEager);
ok &= Check("OddMlpFromFile", "odd_mlp", OddMlpFromFile.InputLength, OddMlpFromFile.OutputLength, OddMlpFromFile.Predict, OddMlpFromFile.PredictEager);
ok &= Check("ReluMlpInt8FromFile", "relu_mlp", ReluMlpInt8FromFile.InputLength, ReluMlpInt8FromFile.OutputLength, ReluMlpInt8FromFile.Predict, ReluMlpInt8FromFile.PredictEager, tolerance: 0);
ok &= Check("OddMlpInt4", "odd_mlp", OddMlpInt4.InputLength, OddMlpInt4.OutputLength, OddMlpInt4.Predict, OddMlpInt4.PredictEager);
ok &= Check("DigitsClassifierInt4", "digits", Digits.DigitsClassifierInt4.InputLength, Digits.DigitsClassifierInt4.OutputLength,
    Digits.DigitsClassifierInt4.Predict, Digits.DigitsClassifierInt4.PredictEager);
// Decoders: a session's logits after every token (a prompt of 30, then 20 decode steps: cache lengths 1 to 50) against
// the eager full sequence. The int8 route quantizes activations, so one ulp can move one code: 1e-4.
ok &= CheckSession("TinyLlama", "tiny_llama", n => TinyLlama.CreateSession(n), (w, x, b) => TinyLlama.ForwardEager(w, x, b), 1e-5);
ok &= CheckSession("TinyLlamaInt8", "tiny_llama", n => TinyLlamaInt8.CreateSession(n), (w, x, b) => TinyLlamaInt8.ForwardEager(w, x, b), 1e-4);
ok &= CheckSession("TinyLlamaInt4", "tiny_llama", n => TinyLlamaInt4.CreateSession(n), (w, x, b) => TinyLlamaInt4.ForwardEager(w, x, b), 1e-5);
ok &= CheckSession("TinyGpt2", "tiny_gpt2", n => TinyGpt2.CreateSession(n), (w, x, b) => TinyGpt2.ForwardEager(w, x, b), 1e-5);
ok &= CheckSession("TinyGpt2Int4", "tiny_gpt2", n => TinyGpt2Int4.CreateSession(n), (w, x, b) => TinyGpt2Int4.ForwardEager(w, x, b), 1e-5);
return ok ? 0 : 1;

bool CheckSession(string name, string file, Func<int, DecoderSession> create, Func<IWeightSource, float[], int, Tensor> eager, double tolerance)
{
    SafeTensors weights = SafeTensors.Load(Path.Combine(models, file + ".safetensors"));
    const int tokens = 50, prompt = 30;
    var ids = new int[tokens];
    var random = new Random(7);
    for (int i = 0; i < tokens; i++) ids[i] = random.Next(96); // both toy decoders' vocabulary
    float[] want = eager(weights, Array.ConvertAll(ids, i => (float)i), tokens).ToArray();
    int vocabulary = want.Length / tokens;
    var got = new float[tokens * vocabulary];
    DecoderSession session = create(tokens);
    session.Prefill(ids.AsSpan(0, prompt), got.AsSpan(0, prompt * vocabulary));
    for (int i = prompt; i < tokens; i++) session.Decode(ids[i], got.AsSpan(i * vocabulary, vocabulary));
    double worst = 0;
    for (int t = 0; t < tokens; t++)
    {
        double maxDiff = 0, maxRef = 0;
        for (int j = t * vocabulary; j < (t + 1) * vocabulary; j++)
        {
            maxDiff = Math.Max(maxDiff, float.IsNaN(got[j]) ? double.PositiveInfinity : Math.Abs(got[j] - want[j]));
            maxRef = Math.Max(maxRef, Math.Abs(want[j]));
        }
        worst = Math.Max(worst, maxDiff / Math.Max(maxRef, 1e-30));
    }
    Console.WriteLine($"{name} session_max_relative_error={worst:E3}");
    return worst <= tolerance;
}

bool Check(string name, string file, int inLength, int outLength, Compiled compiled, Eager eager, double tolerance = 1e-5, bool tokens = false, bool heavy = false)
{
    SafeTensors weights = SafeTensors.Load(Path.Combine(models, file + ".safetensors"));
    double worst = 0;
    foreach (int batch in heavy ? new[] { 1, 3 } : new[] { 1, 3, 17, 64, 100 })
    {
        for (int seed = 0; seed < (heavy ? 1 : 3); seed++)
        {
            var random = new Random(seed * 1000 + batch);
            var input = new float[batch * inLength];
            for (int i = 0; i < input.Length; i++) input[i] = tokens ? random.Next(16) : (float)(random.NextDouble() * 4 - 2);
            var got = new float[batch * outLength];
            var want = new float[batch * outLength];
            compiled(input, got, batch, 1);
            eager(weights, input, want, batch);
            double maxDiff = 0, maxRef = 0;
            for (int i = 0; i < got.Length; i++)
            {
                // NaN where the reference has NaN (sqrt of a negative) agrees; NaN on one side only is the worst error.
                if (float.IsNaN(want[i]) || float.IsNaN(got[i]))
                {
                    if (float.IsNaN(want[i]) != float.IsNaN(got[i])) maxDiff = double.PositiveInfinity;
                    continue;
                }
                maxDiff = Math.Max(maxDiff, Math.Abs(got[i] - want[i]));
                maxRef = Math.Max(maxRef, Math.Abs(want[i]));
            }
            worst = Math.Max(worst, maxDiff / Math.Max(maxRef, 1e-30));
        }
    }
    Console.WriteLine($"{name} max_relative_error={worst:E3}");
    bool special = tokens || name.Contains("Int8") || name.Contains("Int4") || SpecialValuesAgree(name, inLength, outLength, compiled, eager, weights);
    return worst <= tolerance && special;
}

// NaN, ±Inf, ±0 and denormals fed through the model: compiled and eager agree on which outputs are NaN and which
// infinite (and their signs), and on the rest within the float tolerance. Float models only: int8 quantizes a row by
// its largest magnitude, so one NaN or Inf makes the whole row's codes undefined in both.
bool SpecialValuesAgree(string name, int inLength, int outLength, Compiled compiled, Eager eager, SafeTensors weights)
{
    float[] specials = { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e-40f, -1e-40f, float.Epsilon };
    const int batch = 5;
    bool ok = true;
    for (int round = 0; round < specials.Length; round++)
    {
        var random = new Random(round);
        var input = new float[batch * inLength];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(random.NextDouble() * 4 - 2);
        // Sample 0 untouched; sample s gets the special value at s places (the first feature, and others at random).
        for (int sample = 1; sample < batch; sample++)
            for (int k = 0; k < sample; k++) input[sample * inLength + (k == 0 ? 0 : random.Next(inLength))] = specials[(round + sample) % specials.Length];
        var got = new float[batch * outLength];
        var want = new float[batch * outLength];
        compiled(input, got, batch, 1);
        eager(weights, input, want, batch);
        double scale = 1e-30;
        foreach (float v in want) if (float.IsFinite(v)) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < got.Length; i++)
        {
            bool same = float.IsNaN(want[i]) ? float.IsNaN(got[i])
                : float.IsInfinity(want[i]) ? got[i] == want[i]
                : float.IsFinite(got[i]) && Math.Abs(got[i] - want[i]) <= 1e-4 * scale;
            if (!same)
            {
                Console.WriteLine($"{name} special values: output {i} (sample {i / outLength}, round {round}) is {got[i]}, the eager reference {want[i]}");
                ok = false;
                break;
            }
        }
    }
    Console.WriteLine($"{name} special_values={(ok ? "agree" : "DIFFER")}");
    return ok;
}

delegate void Compiled(ReadOnlySpan<float> input, Span<float> output, int batch, int maxDegreeOfParallelism);
delegate void Eager(IWeightSource weights, ReadOnlySpan<float> input, Span<float> output, int batch);
