using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ModelCompiler.CodeFixes;

/// <summary>MC0001: adds <c>partial</c> to the model class (or the class around it) the diagnostic points at.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(MakePartialCodeFix)), Shared]
public sealed class MakePartialCodeFix : CodeFixProvider
{
    /// <summary>The id of "model class must be partial".</summary>
    public const string DiagnosticId = "MC0001";

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds => ImmutableArray.Create(DiagnosticId);

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null) return;
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            TypeDeclarationSyntax? type = root.FindToken(diagnostic.Location.SourceSpan.Start).Parent?.AncestorsAndSelf()
                .OfType<TypeDeclarationSyntax>().FirstOrDefault();
            if (type is null || type.Modifiers.Any(SyntaxKind.PartialKeyword)) continue;
            context.RegisterCodeFix(
                CodeAction.Create($"Make '{type.Identifier.Text}' partial",
                    ct => MakePartialAsync(context.Document, root, type, ct), equivalenceKey: DiagnosticId),
                diagnostic);
        }
    }

    private static Task<Document> MakePartialAsync(Document document, SyntaxNode root, TypeDeclarationSyntax type, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // 'partial' goes last among the modifiers, just before the keyword ('public static partial class').
        SyntaxToken partial = SyntaxFactory.Token(SyntaxKind.PartialKeyword).WithTrailingTrivia(SyntaxFactory.Space);
        TypeDeclarationSyntax fixedType;
        if (type.Modifiers.Count == 0)
        {
            // Keep the keyword's leading trivia (indentation, comments) in front of the new modifier.
            partial = partial.WithLeadingTrivia(type.Keyword.LeadingTrivia);
            fixedType = type.WithKeyword(type.Keyword.WithLeadingTrivia()).WithModifiers(SyntaxFactory.TokenList(partial));
        }
        else
        {
            fixedType = type.WithModifiers(type.Modifiers.Add(partial));
        }
        return Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(type, fixedType)));
    }
}
