using Microsoft.CodeAnalysis;
using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Diagnostics;

/// <summary>A diagnostic as a value: descriptor, by-value location and message arguments (ComputeSharp style).</summary>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> Arguments)
{
    /// <summary>
    /// An unexpected exception as MC0008's second argument: its type, message and the generator method it came from, so
    /// a user's bug report says where to look.
    /// </summary>
    public static string Describe(System.Exception e)
    {
        // The first frame of the generator's own code (the throw itself may sit in a runtime helper).
        System.Reflection.MethodBase? site = null;
        foreach (System.Diagnostics.StackFrame frame in new System.Diagnostics.StackTrace(e).GetFrames() ?? System.Array.Empty<System.Diagnostics.StackFrame>())
        {
            System.Reflection.MethodBase? method = frame.GetMethod();
            if (method?.DeclaringType?.Namespace?.StartsWith("ModelCompiler", System.StringComparison.Ordinal) == true) { site = method; break; }
        }
        string where = site is null ? "" : $" (in {site.DeclaringType!.Name}.{site.Name})";
        return e.GetType().Name + ": " + e.Message + where;
    }

    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        new(descriptor, location, new EquatableArray<string>(arguments));

    public Diagnostic ToDiagnostic(Compilation? compilation = null) =>
        Diagnostic.Create(Descriptor, Location?.ToLocation(compilation), Arguments.ToArray());
}
