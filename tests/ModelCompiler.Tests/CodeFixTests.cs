using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using ModelCompiler.CodeFixes;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>The IDE's fixes for MC0001 and MC0002, applied as the IDE would, and the model then compiles.</summary>
public class CodeFixTests
{
    [Theory]
    [InlineData("public static class Net", "public static partial class Net")]
    [InlineData("class Net", "partial class Net")]
    public async Task MC0001_fix_makes_the_class_partial(string declaration, string expected)
    {
        string weights = Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "samples/Digits/digits.safetensors");
        string source = $$"""
            using ModelCompiler;
            namespace Demo;
            [CompileModel(Weights = "digits.safetensors")]
            {{declaration}}
            {
                static Tensor Forward([Shape(64)] Tensor x) => x.Linear("fc1").Relu();
            }
            """;
        Diagnostic reported = Assert.Single(GeneratorHarness.Run(source, weights).Diagnostics);
        Assert.Equal("MC0001", reported.Id);

        using var workspace = new AdhocWorkspace();
        Document document = workspace.AddProject("Demo", LanguageNames.CSharp).AddDocument("Model.cs", source);
        SyntaxTree tree = (await document.GetSyntaxTreeAsync())!;
        Diagnostic diagnostic = Diagnostic.Create(reported.Descriptor, Location.Create(tree, reported.Location.SourceSpan));
        var actions = new List<CodeAction>();
        await new MakePartialCodeFix().RegisterCodeFixesAsync(new CodeFixContext(document, diagnostic, (a, _) => actions.Add(a), CancellationToken.None));

        CodeAction action = Assert.Single(actions);
        Assert.Equal("Make 'Net' partial", action.Title);
        var apply = (ApplyChangesOperation)(await action.GetOperationsAsync(CancellationToken.None)).Single();
        string fixedSource = (await apply.ChangedSolution.GetDocument(document.Id)!.GetTextAsync()).ToString();

        Assert.Equal(source.Replace(declaration, expected), fixedSource);
        Assert.Empty(GeneratorHarness.Run(fixedSource, weights).Diagnostics);
    }

    [Fact]
    public async Task MC0002_fix_lists_the_file_in_the_project_and_the_model_then_compiles()
    {
        // A weights file outside what the package's targets include (here: a project without the package), found
        // under the project folder by the name the attribute gives, and added to the project file as an item.
        string folder = GeneratorHarness.TempFolder();
        string project = Path.Combine(folder, "App.csproj");
        const string projectText = "<Project Sdk=\"Microsoft.NET.Sdk\">\n  <PropertyGroup>\n    <TargetFramework>net10.0</TargetFramework>\n  </PropertyGroup>\n</Project>\n";
        File.WriteAllText(project, projectText);
        Directory.CreateDirectory(Path.Combine(folder, "Models"));
        string weights = Path.Combine(folder, "Models", "digits.safetensors");
        File.Copy(Path.Combine(GeneratorDiagnosticsTests.RepositoryRoot(), "samples/Digits/digits.safetensors"), weights);
        const string source = """
            using ModelCompiler;
            namespace Demo;
            [CompileModel(Weights = "digits.safetensors")]
            public static partial class Net
            {
                static Tensor Forward([Shape(64)] Tensor x) => x.Linear("fc1").Relu();
            }
            """;
        Diagnostic reported = Assert.Single(GeneratorHarness.Run(source).Diagnostics);
        Assert.Equal("MC0002", reported.Id);

        using var workspace = new AdhocWorkspace();
        ProjectInfo info = ProjectInfo.Create(ProjectId.CreateNewId(), VersionStamp.Default, "App", "App", LanguageNames.CSharp, filePath: project);
        Document document = workspace.AddProject(info).AddDocument("Model.cs", source);
        SyntaxTree tree = (await document.GetSyntaxTreeAsync())!;
        Diagnostic diagnostic = Diagnostic.Create(reported.Descriptor, Location.Create(tree, reported.Location.SourceSpan));
        var actions = new List<CodeAction>();
        await new AddAdditionalFileCodeFix().RegisterCodeFixesAsync(new CodeFixContext(document, diagnostic, (a, _) => actions.Add(a), CancellationToken.None));

        CodeAction action = Assert.Single(actions);
        Assert.Equal("Add 'Models/digits.safetensors' to AdditionalFiles", action.Title);
        Assert.Empty(await action.GetPreviewOperationsAsync(CancellationToken.None)); // previewing writes nothing
        Assert.Equal(projectText, File.ReadAllText(project));
        foreach (CodeActionOperation operation in await action.GetOperationsAsync(CancellationToken.None)) operation.Apply(workspace, CancellationToken.None);

        Assert.Equal(projectText.Replace("</Project>", "  <ItemGroup>\n    <AdditionalFiles Include=\"Models/digits.safetensors\" />\n  </ItemGroup>\n</Project>"),
            File.ReadAllText(project));
        Assert.Empty(GeneratorHarness.Run(source, weights).Diagnostics); // listed, the model compiles

        // A name no file under the project has: no fix (nothing to add).
        actions.Clear();
        Document other = document.WithText(Microsoft.CodeAnalysis.Text.SourceText.From(source.Replace("digits.safetensors", "missing.safetensors")));
        SyntaxTree otherTree = (await other.GetSyntaxTreeAsync())!;
        int at = source.IndexOf("\"digits.safetensors\"", System.StringComparison.Ordinal);
        await new AddAdditionalFileCodeFix().RegisterCodeFixesAsync(new CodeFixContext(other,
            Diagnostic.Create(reported.Descriptor, Location.Create(otherTree, new Microsoft.CodeAnalysis.Text.TextSpan(at, "\"missing.safetensors\"".Length))),
            (a, _) => actions.Add(a), CancellationToken.None));
        Assert.Empty(actions);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Slow)]
    public async Task dotnet_format_applies_the_MC0001_fix_from_the_command_line()
    {
        // MC0001 comes from an analyzer (ModelClassAnalyzer), so command-line fixers see it: a project with the generator
        // and the code fixes as analyzers (the package's layout), fixed by `dotnet format analyzers`.
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string work = GeneratorHarness.TempFolder();
        string Release(string project, string dll) => Path.Combine(root, "src", project, "bin", "Release", dll);
        File.WriteAllText(Path.Combine(work, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
              <ItemGroup>
                <Reference Include="{Release("Runtime", "net10.0/ModelCompiler.Runtime.dll")}" />
                <Analyzer Include="{Release("Generator", "netstandard2.0/ModelCompiler.Generator.dll")}" />
                <Analyzer Include="{Release("CodeFixes", "netstandard2.0/ModelCompiler.CodeFixes.dll")}" />
                <AdditionalFiles Include="digits.safetensors" />
              </ItemGroup>
            </Project>
            """);
        File.Copy(Path.Combine(root, "samples/Digits/digits.safetensors"), Path.Combine(work, "digits.safetensors"));
        string model = Path.Combine(work, "Model.cs");
        File.WriteAllText(model, "using ModelCompiler;\nnamespace Demo;\n[CompileModel(Weights = \"digits.safetensors\")]\npublic static class Net\n{\n"
            + "    static Tensor Forward([Shape(64)] Tensor x) => x.Linear(\"fc1\").Relu();\n}\n");

        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in new[] { "format", "analyzers", "App.csproj", "--diagnostics", "MC0001", "--severity", "error" }) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = System.Diagnostics.Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        string errors = await process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(System.TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await output + errors);
        Assert.Contains("public static partial class Net", File.ReadAllText(model));
    }
}
