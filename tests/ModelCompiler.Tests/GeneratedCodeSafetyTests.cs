extern alias generator;

using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// Names from a model file end up in generated comments, XML docs and string literals. An ONNX file is input a build
/// may take from anywhere: its names must never become code (a line break ends a <c>//</c> comment) nor break the docs.
/// </summary>
public class GeneratedCodeSafetyTests
{
    [Fact]
    public void Hostile_names_in_an_ONNX_file_stay_text_in_the_generated_code()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string file = Path.Combine(root, "tests/ModelCompiler.TestModels/Models/onnx_hostile_names.onnx");
        const string source = "namespace Demo;\n[ModelCompiler.CompileModel(Onnx = \"onnx_hostile_names.onnx\")]\npublic static partial class Net;\n";
        // XML docs checked as a project with GenerateDocumentationFile checks them (CS1570 and friends are warnings there).
        CSharpParseOptions options = GeneratorHarness.ParseOptions.WithDocumentationMode(DocumentationMode.Diagnose);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new generator::ModelCompiler.Generator.ModelGenerator().AsSourceGenerator() },
            new[] { new GeneratorHarness.BinaryAdditionalText(file) }, options);
        Compilation input = GeneratorHarness.Compilation(("Net.cs", source)).WithOptions(
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        input = input.ReplaceSyntaxTree(input.SyntaxTrees.Single(), CSharpSyntaxTree.ParseText(source, options, "Net.cs"));
        driver = driver.RunGeneratorsAndUpdateCompilation(input, out Compilation output, out var generatorDiagnostics);

        Assert.Empty(generatorDiagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Id != "CS1591"));
        // No type the names tried to declare exists; the names are exact in the constants.
        Assert.DoesNotContain(output.GetSymbolsWithName(n => n.StartsWith("Injected", System.StringComparison.Ordinal)), s => true);
        INamedTypeSymbol net = output.GetTypeByMetadataName("Demo.Net")!;
        Assert.Equal("x\"\n<in> & \u2028", ((IFieldSymbol)net.GetMembers("InputName").Single()).ConstantValue);
        Assert.Equal("y\r\n}class Injected{}//", ((IFieldSymbol)net.GetMembers("OutputName").Single()).ConstantValue);
    }
}
