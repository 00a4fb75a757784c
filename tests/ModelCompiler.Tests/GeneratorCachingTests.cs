extern alias generator;

using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;
using Steps = generator::ModelCompiler.Generator.ModelGenerator.Steps;

namespace ModelCompiler.Tests;

/// <summary>The incremental pipeline: what an edit re-runs, and that no model holds compiler objects.</summary>
public class GeneratorCachingTests
{
    private static readonly string Root = GeneratorDiagnosticsTests.RepositoryRoot();
    private static readonly string Source = File.ReadAllText(Path.Combine(Root, "samples/Digits/DigitsClassifier.cs"));
    private static readonly string Weights = Path.Combine(Root, "samples/Digits/digits.safetensors");

    private static (GeneratorDriver, CSharpCompilation) FirstRun()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation(("DigitsClassifier.cs", Source), ("Other.cs", "namespace Demo; public class Other { public int Value => 1; }"));
        GeneratorDriver driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(Weights) });
        return (driver.RunGenerators(compilation), compilation);
    }

    private static IncrementalStepRunReason[] Reasons(GeneratorDriver driver, string step) =>
        driver.GetRunResult().Results.Single().TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();

    private static CSharpCompilation Replace(CSharpCompilation compilation, string file, string text)
    {
        SyntaxTree old = compilation.SyntaxTrees.Single(t => t.FilePath == file);
        return compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(text, GeneratorHarness.ParseOptions, file));
    }

    [Fact]
    public void Running_twice_on_the_same_input_is_fully_cached()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        driver = driver.RunGenerators(compilation);
        foreach (string step in new[] { Steps.Declarations, Steps.WeightsFiles, Steps.Models, Steps.Plans, Steps.Diagnostics, Steps.WeightsJobs, Steps.Weights })
            Assert.All(Reasons(driver, step), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void An_unrelated_edit_leaves_the_model_cached()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        driver = driver.RunGenerators(Replace(compilation, "Other.cs", "namespace Demo; public class Other { public int Value => 2; }"));
        Assert.All(Reasons(driver, Steps.Models), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
        Assert.All(Reasons(driver, Steps.Plans), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void A_comment_in_the_model_file_does_not_regenerate_code()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        driver = driver.RunGenerators(Replace(compilation, "DigitsClassifier.cs", Source.Replace("namespace Digits;", "namespace Digits; // a comment")));
        // The declaration is re-parsed (its locations moved), but the plan the emitter sees is unchanged.
        // (An edit that moves Forward to other lines does regenerate: the generated comments cite source lines.)
        Assert.All(Reasons(driver, Steps.Plans), r => Assert.True(r is IncrementalStepRunReason.Unchanged or IncrementalStepRunReason.Cached, r.ToString()));
    }

    [Fact]
    public void Moving_Forward_down_a_line_re_emits_the_model_but_runs_no_weights_step()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        // Every weights blob is laid out and printed once: three models (float32, int8, int4) embed their weights.
        Assert.Equal(3, Reasons(driver, Steps.Weights).Length);
        string moved = Source.Replace("    static Tensor Forward([Shape(64)] Tensor pixels) => Network(pixels);",
            "\n    static Tensor Forward([Shape(64)] Tensor pixels) => Network(pixels);");
        Assert.NotEqual(Source, moved);
        driver = driver.RunGenerators(Replace(compilation, "DigitsClassifier.cs", moved));
        // The kernels' comments cite the lines they came from, so the plans change ...
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(driver, Steps.Plans));
        // ... but not the weights buffer: the jobs compare equal and the layout, quantization and base64 do not run again.
        Assert.All(Reasons(driver, Steps.WeightsJobs), r => Assert.True(r is IncrementalStepRunReason.Unchanged or IncrementalStepRunReason.Cached, r.ToString()));
        IncrementalStepRunReason[] weights = Reasons(driver, Steps.Weights);
        Assert.Equal(3, weights.Length);
        Assert.All(weights, r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void A_changed_weight_layout_re_runs_the_weights_step()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        // Int8 instead of float32 for the first model: its blobs are new, the other two models' are not.
        driver = driver.RunGenerators(Replace(compilation, "DigitsClassifier.cs",
            Source.Replace("[CompileModel(Weights = \"digits.safetensors\")]", "[CompileModel(Weights = \"digits.safetensors\", Quantize = Quantization.Int8)]")));
        IncrementalStepRunReason[] weights = Reasons(driver, Steps.Weights);
        Assert.Equal(1, weights.Count(r => r == IncrementalStepRunReason.Modified));
        Assert.Equal(2, weights.Count(r => r == IncrementalStepRunReason.Cached));
    }

    [Fact]
    public void A_real_change_regenerates_code()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        driver = driver.RunGenerators(Replace(compilation, "DigitsClassifier.cs", Source.Replace(".Linear(\"fc2\").Relu()", ".Linear(\"fc2\").Tanh()")));
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(driver, Steps.Plans));
    }

    [Fact]
    public void Pipeline_models_hold_no_symbols_syntax_or_compilations()
    {
        (GeneratorDriver driver, _) = FirstRun();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        string[] ours = { Steps.Declarations, Steps.WeightsFiles, Steps.Models, Steps.Plans, Steps.Diagnostics, Steps.WeightsJobs, Steps.Weights };
        foreach (var step in driver.GetRunResult().Results.Single().TrackedSteps.Where(s => ours.Contains(s.Key)))
        {
            foreach (var output in step.Value.SelectMany(s => s.Outputs))
                Walk(output.Value, step.Key, seen);
        }
    }

    private static void Walk(object? value, string path, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || !seen.Add(value)) return;
        Assert.False(value is ISymbol or SyntaxNode or Compilation or SemanticModel or SyntaxTree or Location,
            $"{path} holds a {value.GetType().Name}: it would root a compilation and defeat caching");
        if (value is DiagnosticDescriptor) return;
        if (value is IEnumerable items)
        {
            int i = 0;
            foreach (object? item in items) Walk(item, $"{path}[{i++}]", seen);
            return;
        }
        if (value.GetType().Namespace?.StartsWith("ModelCompiler", StringComparison.Ordinal) != true
            && !value.GetType().Name.StartsWith("ValueTuple", StringComparison.Ordinal)) return;
        foreach (PropertyInfo p in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length == 0) Walk(p.GetValue(value), path + "." + p.Name, seen);
        }
        foreach (FieldInfo f in value.GetType().GetFields(BindingFlags.Public | BindingFlags.Instance))
            Walk(f.GetValue(value), path + "." + f.Name, seen);
    }
}
