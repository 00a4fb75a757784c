using System;
using System.IO;
using ModelCompiler.TestModels;

namespace ModelCompiler.Tests;

/// <summary>The compiled test models behind one interface, so every test runs over all of them.</summary>
public sealed record CompiledModel(
    string Name,
    string WeightsFile,
    int InputLength,
    int OutputLength,
    CompiledModel.PredictBatch Predict,
    CompiledModel.PredictOne PredictSingle,
    CompiledModel.PredictEagerBatch PredictEager)
{
    /// <summary>
    /// Relative tolerance against the eager reference. 1e-5 (the contract) except where float math (here: attention)
    /// feeds an int8 layer: a difference of one float ulp can move a value across a rounding boundary and change one
    /// int8 code, which moves the output by one quantization step (~1/127 of a row's range). Bit-exactness of the int8
    /// kernels themselves is tested separately (QuantizedKernelTests, ReluMlpInt8).
    /// </summary>
    public double Tolerance { get; init; } = Numerics.Tolerance;

    /// <summary>The largest batch the eager comparison runs: smaller for models whose eager reference is slow (double, scalar).</summary>
    public int MaxBatch { get; init; } = int.MaxValue;

    /// <summary>Random inputs for the model: normal values, or valid token ids for models that start with an embedding.</summary>
    public Func<int, int, float[]> Inputs { get; init; } = (count, seed) => Numerics.Random(count, seed);

    private static float[] Tokens(int count, int seed)
    {
        var random = new Random(seed);
        var tokens = new float[count];
        for (int i = 0; i < count; i++) tokens[i] = random.Next(16);
        return tokens;
    }

    public delegate void PredictBatch(ReadOnlySpan<float> input, Span<float> output, int batch, int maxDegreeOfParallelism);
    public delegate void PredictOne(ReadOnlySpan<float> input, Span<float> output);
    public delegate void PredictEagerBatch(IWeightSource weights, ReadOnlySpan<float> input, Span<float> output, int batch);

    public SafeTensors LoadWeights() => SafeTensors.Load(Path.Combine(Numerics.ModelsFolder, WeightsFile));

    public override string ToString() => Name;

    public static readonly CompiledModel[] All =
    {
        new("OddMlp", "odd_mlp.safetensors", OddMlp.InputLength, OddMlp.OutputLength, OddMlp.Predict, OddMlp.Predict, OddMlp.PredictEager),
        new("WideMlp", "wide_mlp.safetensors", WideMlp.InputLength, WideMlp.OutputLength, WideMlp.Predict, WideMlp.Predict, WideMlp.PredictEager),
        new("Zoo", "zoo.safetensors", Zoo.InputLength, Zoo.OutputLength, Zoo.Predict, Zoo.Predict, Zoo.PredictEager),
        new("FunctionZoo", "function_zoo.safetensors", FunctionZoo.InputLength, FunctionZoo.OutputLength, FunctionZoo.Predict, FunctionZoo.Predict, FunctionZoo.PredictEager),
        new("Digits", "digits.safetensors", Digits.DigitsClassifier.InputLength, Digits.DigitsClassifier.OutputLength,
            Digits.DigitsClassifier.Predict, Digits.DigitsClassifier.Predict, Digits.DigitsClassifier.PredictEager),
        new("ReluMlpInt8", "relu_mlp.safetensors", ReluMlpInt8.InputLength, ReluMlpInt8.OutputLength, ReluMlpInt8.Predict, ReluMlpInt8.Predict, ReluMlpInt8.PredictEager),
        new("WideMlpInt8", "wide_mlp.safetensors", WideMlpInt8.InputLength, WideMlpInt8.OutputLength, WideMlpInt8.Predict, WideMlpInt8.Predict, WideMlpInt8.PredictEager),
        new("ZooInt8", "zoo.safetensors", ZooInt8.InputLength, ZooInt8.OutputLength, ZooInt8.Predict, ZooInt8.Predict, ZooInt8.PredictEager),
        new("DigitsInt8", "digits.safetensors", Digits.DigitsClassifierInt8.InputLength, Digits.DigitsClassifierInt8.OutputLength,
            Digits.DigitsClassifierInt8.Predict, Digits.DigitsClassifierInt8.Predict, Digits.DigitsClassifierInt8.PredictEager),
        new("ReluMlpInt8Static", "relu_mlp.safetensors", ReluMlpInt8Static.InputLength, ReluMlpInt8Static.OutputLength, ReluMlpInt8Static.Predict, ReluMlpInt8Static.Predict, ReluMlpInt8Static.PredictEager),
        new("DigitsInt8Static", "digits.safetensors", DigitsInt8Static.InputLength, DigitsInt8Static.OutputLength, DigitsInt8Static.Predict, DigitsInt8Static.Predict, DigitsInt8Static.PredictEager),
        new("NormMlp", "norm_mlp.safetensors", NormMlp.InputLength, NormMlp.OutputLength, NormMlp.Predict, NormMlp.Predict, NormMlp.PredictEager),
        new("AttentionBlock", "attention_block.safetensors", AttentionBlock.InputLength, AttentionBlock.OutputLength, AttentionBlock.Predict, AttentionBlock.Predict, AttentionBlock.PredictEager),
        new("AttentionBlockInt8", "attention_block.safetensors", AttentionBlockInt8.InputLength, AttentionBlockInt8.OutputLength, AttentionBlockInt8.Predict, AttentionBlockInt8.Predict, AttentionBlockInt8.PredictEager)
            { Tolerance = 2e-2 },
        new("SmallCnn", "small_cnn.safetensors", SmallCnn.InputLength, SmallCnn.OutputLength, SmallCnn.Predict, SmallCnn.Predict, SmallCnn.PredictEager),
        new("LayoutZoo", "layout_zoo.safetensors", LayoutZoo.InputLength, LayoutZoo.OutputLength, LayoutZoo.Predict, LayoutZoo.Predict, LayoutZoo.PredictEager),
        new("GroupedCnn", "grouped_cnn.safetensors", GroupedCnn.InputLength, GroupedCnn.OutputLength, GroupedCnn.Predict, GroupedCnn.Predict, GroupedCnn.PredictEager),
        new("ResBlock", "res_block.safetensors", ResBlock.InputLength, ResBlock.OutputLength, ResBlock.Predict, ResBlock.Predict, ResBlock.PredictEager)
            { MaxBatch = 17 },
        new("BnCnn", "bn_cnn.safetensors", BnCnn.InputLength, BnCnn.OutputLength, BnCnn.Predict, BnCnn.Predict, BnCnn.PredictEager),
        new("DigitsCnn", "digits_cnn.safetensors", DigitsCnn.DigitsCnnClassifier.InputLength, DigitsCnn.DigitsCnnClassifier.OutputLength,
            DigitsCnn.DigitsCnnClassifier.Predict, DigitsCnn.DigitsCnnClassifier.Predict, DigitsCnn.DigitsCnnClassifier.PredictEager),
        new("TextClassifier", "text_classifier.safetensors", TextClassifier.TokenCountClassifier.InputLength, TextClassifier.TokenCountClassifier.OutputLength,
            TextClassifier.TokenCountClassifier.Predict, TextClassifier.TokenCountClassifier.Predict, TextClassifier.TokenCountClassifier.PredictEager)
            { Inputs = Tokens },
        new("ReshapeOnly", "odd_mlp.safetensors", ReshapeOnly.InputLength, ReshapeOnly.OutputLength, ReshapeOnly.Predict, ReshapeOnly.Predict, ReshapeOnly.PredictEager),
        new("ElementwiseOnly", "odd_mlp.safetensors", ElementwiseOnly.InputLength, ElementwiseOnly.OutputLength, ElementwiseOnly.Predict, ElementwiseOnly.Predict, ElementwiseOnly.PredictEager),
        new("FoldedConstants", "zoo.safetensors", FoldedConstants.InputLength, FoldedConstants.OutputLength, FoldedConstants.Predict, FoldedConstants.Predict, FoldedConstants.PredictEager),
        new("LeakyClamp", "odd_mlp.safetensors", LeakyClamp.InputLength, LeakyClamp.OutputLength, LeakyClamp.Predict, LeakyClamp.Predict, LeakyClamp.PredictEager),
        new("SpecialValues", "odd_mlp.safetensors", SpecialValues.InputLength, SpecialValues.OutputLength, SpecialValues.Predict, SpecialValues.Predict, SpecialValues.PredictEager),
        new("PositiveMath", "odd_mlp.safetensors", PositiveMath.InputLength, PositiveMath.OutputLength, PositiveMath.Predict, PositiveMath.Predict, PositiveMath.PredictEager),
        new("SqueezeMean", "zoo.safetensors", SqueezeMean.InputLength, SqueezeMean.OutputLength, SqueezeMean.Predict, SqueezeMean.Predict, SqueezeMean.PredictEager),
        new("TwoReaders", "relu_mlp.safetensors", TwoReaders.InputLength, TwoReaders.OutputLength, TwoReaders.Predict, TwoReaders.Predict, TwoReaders.PredictEager),
        new("ResidualLinear", "relu_mlp.safetensors", ResidualLinear.InputLength, ResidualLinear.OutputLength, ResidualLinear.Predict, ResidualLinear.Predict, ResidualLinear.PredictEager),
        new("ResidualLinearInt8", "relu_mlp.safetensors", ResidualLinearInt8.InputLength, ResidualLinearInt8.OutputLength, ResidualLinearInt8.Predict, ResidualLinearInt8.Predict, ResidualLinearInt8.PredictEager),
        new("ConvResidual", "small_cnn.safetensors", ConvResidual.InputLength, ConvResidual.OutputLength, ConvResidual.Predict, ConvResidual.Predict, ConvResidual.PredictEager),
        new("LongAttention", "layout_zoo.safetensors", LongAttention.InputLength, LongAttention.OutputLength, LongAttention.Predict, LongAttention.Predict, LongAttention.PredictEager),
        new("OddMlpFromFile", "odd_mlp.safetensors", OddMlpFromFile.InputLength, OddMlpFromFile.OutputLength, OddMlpFromFile.Predict, OddMlpFromFile.Predict, OddMlpFromFile.PredictEager),
        new("ReluMlpInt8FromFile", "relu_mlp.safetensors", ReluMlpInt8FromFile.InputLength, ReluMlpInt8FromFile.OutputLength, ReluMlpInt8FromFile.Predict, ReluMlpInt8FromFile.Predict, ReluMlpInt8FromFile.PredictEager),
        new("OddMlpInt4", "odd_mlp.safetensors", OddMlpInt4.InputLength, OddMlpInt4.OutputLength, OddMlpInt4.Predict, OddMlpInt4.Predict, OddMlpInt4.PredictEager),
        new("DigitsInt4", "digits.safetensors", Digits.DigitsClassifierInt4.InputLength, Digits.DigitsClassifierInt4.OutputLength,
            Digits.DigitsClassifierInt4.Predict, Digits.DigitsClassifierInt4.Predict, Digits.DigitsClassifierInt4.PredictEager),
    };

    public static CompiledModel Named(string name) => Array.Find(All, m => m.Name == name)!;
}
