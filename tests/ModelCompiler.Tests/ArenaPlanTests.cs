using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The memory plan: every test and sample model's arena holds no more than the intermediate values that are live at
/// the same time (the least any plan can use), as the generated header reports, plus the kernels' fixed scratch.
/// </summary>
public class ArenaPlanTests
{
    public static TheoryData<string, string> Models() => new()
    {
        { "tests/ModelCompiler.TestModels/Zoo.cs", "tests/ModelCompiler.TestModels/Models/zoo.safetensors" },
        { "tests/ModelCompiler.TestModels/AttentionBlock.cs", "tests/ModelCompiler.TestModels/Models/attention_block.safetensors" },
        { "tests/ModelCompiler.TestModels/LayoutZoo.cs", "tests/ModelCompiler.TestModels/Models/layout_zoo.safetensors" },
        { "tests/ModelCompiler.TestModels/GroupedCnn.cs", "tests/ModelCompiler.TestModels/Models/grouped_cnn.safetensors" },
        { "tests/ModelCompiler.TestModels/BnCnn.cs", "tests/ModelCompiler.TestModels/Models/bn_cnn.safetensors" },
        { "tests/ModelCompiler.TestModels/ResBlock.cs", "tests/ModelCompiler.TestModels/Models/res_block.safetensors" },
        { "tests/ModelCompiler.TestModels/NormMlp.cs", "tests/ModelCompiler.TestModels/Models/norm_mlp.safetensors" },
        { "samples/DigitsCnn/DigitsCnn.cs", "samples/DigitsCnn/digits_cnn.safetensors" },
        { "samples/TextClassifier/TextClassifier.cs", "samples/TextClassifier/text_classifier.safetensors" },
        { "benchmarks/ModelCompiler.Benchmarks/Yardsticks.cs", "benchmarks/ModelCompiler.Benchmarks/Models/lenet5.safetensors" },
        { "benchmarks/ModelCompiler.Benchmarks/Yardsticks.cs", "benchmarks/ModelCompiler.Benchmarks/Models/encoder_block.safetensors" },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void The_arena_holds_no_more_than_the_values_live_at_once_plus_scratch(string sourceFile, string weightsFile)
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        var run = GeneratorHarness.Run(File.ReadAllText(Path.Combine(root, sourceFile)), Path.Combine(root, weightsFile));
        string weights = Path.GetFileName(weightsFile);
        string[] models = run.Run.GeneratedSources.Select(s => s.SourceText.ToString())
            .Where(s => s.Contains($"compiled with the weights in {weights}.") && !s.Contains("did not compile")).ToArray();
        Assert.NotEmpty(models);
        foreach (string code in models) Check(code);
    }

    private static void Check(string code)
    {
        Match arena = Regex.Match(code, @"Scratch arena: ([\d,]+) floats per row × (\d+) rows(?: \+ ([\d,]+) floats of kernel scratch)? = ([\d,]+) bytes per thread;");
        Match live = Regex.Match(code, @"the most intermediate values live at once take ([\d,]+) floats per row");
        Assert.True(arena.Success && live.Success, "the generated header reports the arena and the live values");
        long Number(Group g) => g.Success ? long.Parse(g.Value.Replace(",", "")) : 0;
        long perRow = Number(arena.Groups[1]), rows = Number(arena.Groups[2]), scratch = Number(arena.Groups[3]), total = Number(arena.Groups[4]);

        Assert.Equal(perRow, Number(live.Groups[1])); // first-fit placement left no gaps
        Assert.Equal((perRow * rows + scratch) * 4, total);
        Assert.Contains($"public const long ArenaBytes = {total}L;", code);
    }
}
