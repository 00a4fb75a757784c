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

/// <summary>The IDE's fix for MC0001, applied as the IDE would, and the model then compiles.</summary>
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
}
