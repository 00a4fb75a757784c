using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace ModelCompiler.Generator.Diagnostics;

/// <summary>A source location captured by value, so models that carry it stay cacheable (no syntax tree is kept).</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    /// <summary>A location in the compilation's own syntax tree when it has this file, else an external-file location.</summary>
    public Location ToLocation(Compilation? compilation = null)
    {
        if (compilation is not null)
        {
            foreach (SyntaxTree tree in compilation.SyntaxTrees)
            {
                if (tree.FilePath == FilePath && Span.End <= tree.Length) return Location.Create(tree, Span);
            }
        }
        return Location.Create(FilePath, Span, LineSpan);
    }

    /// <summary>1-based line, as people and the generated comments count.</summary>
    public int Line => LineSpan.Start.Line + 1;

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null) return null;
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    public static LocationInfo? From(SyntaxNode? node) => From(node?.GetLocation());

    public static LocationInfo? From(SyntaxTree tree, TextSpan span) =>
        From(Location.Create(tree, span));
}
