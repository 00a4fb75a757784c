extern alias generator;

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using ModelGenerator = generator::ModelCompiler.Generator.ModelGenerator;
using ModelClassAnalyzer = generator::ModelCompiler.Generator.Parsing.ModelClassAnalyzer;

namespace ModelCompiler.Tests;

/// <summary>Runs the generator in-process on source text and weights files, as the compiler would.</summary>
internal static class GeneratorHarness
{
    private static readonly Lazy<MetadataReference[]> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Append(typeof(Tensor).Assembly.Location)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToArray());

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    /// <summary>A binary AdditionalFile: only its path is used (as in the compiler, GetText is not for binaries).</summary>
    public sealed class BinaryAdditionalText : AdditionalText
    {
        public BinaryAdditionalText(string path) => Path = path;
        public override string Path { get; }
        public override SourceText? GetText(CancellationToken cancellationToken = default) => null;
    }

    public static string TempFolder()
    {
        string folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mc-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    public static CSharpCompilation Compilation(params (string path, string source)[] sources) =>
        CSharpCompilation.Create("ModelTests",
            sources.Select(s => CSharpSyntaxTree.ParseText(s.source, ParseOptions, s.path)),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver(IEnumerable<AdditionalText> files, Dictionary<string, string>? globalOptions = null) =>
        CSharpGeneratorDriver.Create(new[] { new ModelGenerator().AsSourceGenerator() }, files, ParseOptions,
            globalOptions is null ? null : new GlobalOptionsProvider(globalOptions),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>MSBuild properties as the compiler hands them to generators (<c>build_property.X</c>).</summary>
    private sealed class GlobalOptionsProvider : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptionsProvider
    {
        private readonly Options _global;
        public GlobalOptionsProvider(Dictionary<string, string> values) => _global = new Options(values);
        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GlobalOptions => _global;
        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Options.Empty;
        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Options.Empty;

        private sealed class Options : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions
        {
            public static readonly Options Empty = new(new Dictionary<string, string>());
            private readonly Dictionary<string, string> _values;
            public Options(Dictionary<string, string> values) => _values = values;
            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) => _values.TryGetValue(key, out value);
        }
    }

    /// <summary>Runs the generator once; returns the generator's diagnostics, its sources, and the compiler's errors on the result.</summary>
    public static (ImmutableArray<Diagnostic> Diagnostics, GeneratorRunResult Run, ImmutableArray<Diagnostic> CompileErrors) Run(
        string source, params string[] additionalFiles)
    {
        GeneratorDriver driver = Driver(additionalFiles.Select(f => new BinaryAdditionalText(f)));
        driver = driver.RunGeneratorsAndUpdateCompilation(Compilation(("Model.cs", source)), out Compilation output, out _);
        GeneratorRunResult run = driver.GetRunResult().Results.Single();
        ImmutableArray<Diagnostic> errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray();
        // What the build shows: the generator's diagnostics and its analyzer's (MC0001 is reported by ModelClassAnalyzer).
        ImmutableArray<Diagnostic> analyzed = output.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new ModelClassAnalyzer()))
            .GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        return (run.Diagnostics.AddRange(analyzed), run, errors);
    }
}
