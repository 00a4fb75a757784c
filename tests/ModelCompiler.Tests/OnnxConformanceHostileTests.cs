extern alias generator;

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// Every model of the ONNX conformance suite (Debian's libonnx-testdata: 1,072 real files of every operator, type and
/// shape the standard has) through the whole generator: each ends in a model or in diagnostics, never an internal error
/// (MC0008), an exception or more than a few seconds. Whether the models compile correctly is issue 15's tier; this one
/// is about never breaking on a file.
/// </summary>
public class OnnxConformanceHostileTests
{
    private const string Suite = "/usr/share/libonnx-testdata/data";
    private const string Source = "using ModelCompiler;\nnamespace Demo;\n[CompileModel(Onnx = \"model.onnx\")]\npublic static partial class Net;\n";

    [Fact]
    public void Every_conformance_model_ends_in_a_model_or_diagnostics()
    {
        if (!Directory.Exists(Suite)) Assert.Skip("libonnx-testdata is not installed (.ci/run installs it: apt-get install libonnx-testdata)");
        string[] models = Directory.GetFiles(Suite, "model.onnx", SearchOption.AllDirectories).OrderBy(p => p, StringComparer.Ordinal).ToArray();
        Assert.True(models.Length > 1000, $"only {models.Length} models found");
        var failures = new List<string>();
        int compiled = 0;
        var slowest = (Time: TimeSpan.Zero, Model: "");
        foreach (string model in models)
        {
            var clock = Stopwatch.StartNew();
            GeneratorDriver driver = GeneratorHarness.Driver(new[] { new GeneratorHarness.BinaryAdditionalText(model) });
            try
            {
                driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(("Model.cs", Source)), out Compilation output, out _);
                GeneratorRunResult run = driver.GetRunResult().Results.Single();
                if (run.Exception is not null) failures.Add($"{model}: {run.Exception.GetType().Name}: {run.Exception.Message}");
                foreach (Diagnostic d in run.Diagnostics.Where(d => d.Id == "MC0008")) failures.Add($"{model}: {d.GetMessage()}");
                if (run.Diagnostics.IsEmpty)
                {
                    // A model the generator accepted must be code the C# compiler accepts.
                    compiled++;
                    foreach (Diagnostic e in output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Take(2))
                        failures.Add($"{model}: generated code does not compile: {e}");
                }
            }
            catch (Exception e)
            {
                failures.Add($"{model}: {e.GetType().Name}: {e.Message}");
            }
            if (clock.Elapsed > slowest.Time) slowest = (clock.Elapsed, model);
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {models.Length} models broke the generator:\n" + string.Join("\n", failures.Take(40)));
        Assert.True(slowest.Time < TimeSpan.FromSeconds(10), $"{slowest.Model} took {slowest.Time}");
        Assert.True(compiled > 0, "no conformance model compiled");
    }
}
