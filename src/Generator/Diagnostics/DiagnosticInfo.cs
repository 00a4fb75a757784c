using Microsoft.CodeAnalysis;
using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Diagnostics;

/// <summary>A diagnostic as a value: descriptor, by-value location and message arguments (ComputeSharp style).</summary>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        new(descriptor, location, new EquatableArray<string>(arguments));

    public Diagnostic ToDiagnostic(Compilation? compilation = null) =>
        Diagnostic.Create(Descriptor, Location?.ToLocation(compilation), Arguments.ToArray());
}
