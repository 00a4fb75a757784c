using ModelCompiler.Generator.Helpers;

namespace ModelCompiler.Generator.Model;

/// <summary>
/// What the weights step needs to print a model's embedded weights, and nothing else: where the class is, the weights
/// buffer's blobs and the image they are laid out from. No source line, kernel or op is in it, so an edit to
/// <c>Forward</c> that leaves the weights buffer as it was (moving it down a line, renaming a local) leaves this value
/// equal, and the step — layout, int8/int4 quantization, base64 of every tensor — cached.
/// </summary>
internal sealed record WeightsJob(
    string? Namespace,
    EquatableArray<ContainingType> ContainingTypes,
    string ClassName,
    string HintName,
    string WeightsFile,
    long WeightsLength,
    string WeightsHash,
    EquatableArray<WeightBlob> Blobs,
    WeightsImage Image);

/// <summary>A generated source file: its hint name and text, or why it could not be generated (then MC0008, InternalError).</summary>
internal sealed record GeneratedFile(string HintName, string Text)
{
    public string? Error { get; init; }
}
