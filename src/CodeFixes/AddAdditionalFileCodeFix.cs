using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ModelCompiler.CodeFixes;

/// <summary>
/// MC0002: lists the weights (or ONNX) file among the project's AdditionalFiles. The package's targets already include
/// every <c>*.safetensors</c> and <c>*.onnx</c> under the project folder, so this is for files outside it or excluded.
/// Roslyn's own route — <c>Project.AddAdditionalDocument</c> — would write the document's text over the file, which for
/// a binary weights file destroys it (Roslyn has no binary AdditionalFiles, roslyn#47292); so the fix edits the project
/// file instead, adding one <c>&lt;AdditionalFiles Include="…" /&gt;</c> item, and the project system reloads it.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(AddAdditionalFileCodeFix)), Shared]
public sealed class AddAdditionalFileCodeFix : CodeFixProvider
{
    /// <summary>The id of "weights file not found".</summary>
    public const string DiagnosticId = "MC0002";

    /// <summary>Candidate files offered at most (a name that matches more is better typed out).</summary>
    private const int MaxCandidates = 3;

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds => ImmutableArray.Create(DiagnosticId);

    /// <inheritdoc/>
    public override FixAllProvider? GetFixAllProvider() => null; // each file is its own decision

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        string? project = context.Document.Project.FilePath;
        if (project is null || !File.Exists(project)) return;
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null) return;
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            // The diagnostic is on the Weights/Onnx argument: its string literal names the file.
            SyntaxNode node = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
            LiteralExpressionSyntax? literal = node.DescendantNodesAndSelf().OfType<LiteralExpressionSyntax>().FirstOrDefault(l => l.IsKind(SyntaxKind.StringLiteralExpression));
            if (literal is null) continue;
            string wanted = literal.Token.ValueText;
            foreach (string file in Candidates(Path.GetDirectoryName(project)!, wanted, context.CancellationToken))
            {
                string include = Relative(Path.GetDirectoryName(project)!, file);
                context.RegisterCodeFix(new AddItemAction(project, include), diagnostic);
            }
        }
    }

    /// <summary>Files under the project folder (not bin/ or obj/) whose path ends with the named one, whole segments.</summary>
    private static IEnumerable<string> Candidates(string folder, string wanted, CancellationToken cancellationToken)
    {
        string tail = wanted.Replace('\\', '/').TrimStart('.', '/');
        if (tail.Length == 0) yield break;
        int found = 0;
        foreach (string file in SafeFiles(folder, Path.GetFileName(tail)))
        {
            cancellationToken.ThrowIfCancellationRequested();
            string relative = Relative(folder, file);
            if (relative.StartsWith("bin/", StringComparison.OrdinalIgnoreCase) || relative.StartsWith("obj/", StringComparison.OrdinalIgnoreCase)) continue;
            if (!relative.Equals(tail, StringComparison.OrdinalIgnoreCase) && !relative.EndsWith("/" + tail, StringComparison.OrdinalIgnoreCase)) continue;
            yield return file;
            if (++found == MaxCandidates) yield break;
        }
    }

#pragma warning disable RS1035 // File IO: a code fix runs in the IDE, not in the compiler, and edits a project file.
    private static IEnumerable<string> SafeFiles(string folder, string name)
    {
        try
        {
            return Directory.EnumerateFiles(folder, name, SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Array.Empty<string>();
        }
    }

    /// <summary>Adds the item to the project file: a new ItemGroup before <c>&lt;/Project&gt;</c>, other text untouched.</summary>
    internal static void AddItem(string projectFile, string include)
    {
        string text = File.ReadAllText(projectFile);
        int end = text.LastIndexOf("</Project>", StringComparison.Ordinal);
        if (end < 0) throw new InvalidOperationException($"{projectFile} has no </Project>");
        string newline = text.Contains("\r\n") ? "\r\n" : "\n";
        string item = $"  <ItemGroup>{newline}    <AdditionalFiles Include=\"{System.Security.SecurityElement.Escape(include)}\" />{newline}  </ItemGroup>{newline}";
        File.WriteAllText(projectFile, text.Substring(0, end) + item + text.Substring(end));
    }
#pragma warning restore RS1035

    private static string Relative(string folder, string file)
    {
        string root = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar, '/') + Path.DirectorySeparatorChar;
        string full = Path.GetFullPath(file);
        return (full.StartsWith(root, StringComparison.Ordinal) ? full.Substring(root.Length) : full).Replace('\\', '/');
    }

    /// <summary>The fix: one operation that edits the project file (nothing to preview in a document).</summary>
    private sealed class AddItemAction : CodeAction
    {
        private readonly string _project;
        private readonly string _include;

        public AddItemAction(string project, string include)
        {
            _project = project;
            _include = include;
        }

        public override string Title => $"Add '{_include}' to AdditionalFiles";

        public override string? EquivalenceKey => DiagnosticId + ":" + _include;

        protected override Task<IEnumerable<CodeActionOperation>> ComputeOperationsAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IEnumerable<CodeActionOperation>>(new CodeActionOperation[] { new EditProjectOperation(_project, _include) });

        protected override Task<IEnumerable<CodeActionOperation>> ComputePreviewOperationsAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IEnumerable<CodeActionOperation>>(Array.Empty<CodeActionOperation>());
    }

    /// <summary>Writes the item into the project file when the fix is applied.</summary>
    internal sealed class EditProjectOperation : CodeActionOperation
    {
        public EditProjectOperation(string project, string include)
        {
            Project = project;
            Include = include;
        }

        public string Project { get; }

        public string Include { get; }

        public override string Title => $"Add '{Include}' to AdditionalFiles in {Path.GetFileName(Project)}";

        public override void Apply(Workspace workspace, CancellationToken cancellationToken) => AddItem(Project, Include);
    }
}
