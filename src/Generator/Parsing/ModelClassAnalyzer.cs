using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using ModelCompiler.Generator.Diagnostics;

namespace ModelCompiler.Generator.Parsing;

/// <summary>
/// MC0001 (a model class, or a class around it, is not partial), reported by an analyzer rather than by the generator:
/// <c>dotnet format analyzers --diagnostics MC0001</c> and CI fixers apply code fixes to analyzer diagnostics only, so
/// only this way does the "Make 'X' partial" fix reach the command line. The generator still finds the same classes
/// (ModelParser) and generates nothing for them, but leaves the reporting to this analyzer (ModelGenerator), so the
/// build shows MC0001 once.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ModelClassAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(DiagnosticDescriptors.ClassNotPartial);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterSymbolAction(Analyze, SymbolKind.NamedType);
    }

    private static void Analyze(SymbolAnalysisContext context)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        if (!type.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == ModelParser.AttributeName)) return;
        foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(context.CancellationToken) is not ClassDeclarationSyntax declaration) continue;
            foreach (SyntaxToken name in NotPartial(declaration))
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ClassNotPartial, name.GetLocation(), name.Text));
        }
    }

    /// <summary>The names of the model class and of each class around it that are not partial (ModelParser refuses the same).</summary>
    internal static ImmutableArray<SyntaxToken> NotPartial(ClassDeclarationSyntax declaration)
    {
        var found = ImmutableArray.CreateBuilder<SyntaxToken>();
        if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword)) found.Add(declaration.Identifier);
        for (SyntaxNode? parent = declaration.Parent; parent is TypeDeclarationSyntax outer; parent = parent.Parent)
            if (!outer.Modifiers.Any(SyntaxKind.PartialKeyword)) found.Add(outer.Identifier);
        return found.ToImmutable();
    }
}
