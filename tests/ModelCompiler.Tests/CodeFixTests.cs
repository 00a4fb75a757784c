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
}
