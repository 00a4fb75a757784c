using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The test tiers. The README's command runs the fast tier (the test project's default filter,
/// <c>--filter-not-trait Tier=Slow</c>: every area, a few minutes on two cores); the slow cases — the big models on the
/// GPU path, every model on the GPU path, package and NativeAOT builds, every vector width, Arm64 under qemu, the ONNX
/// conformance suite, the large fuzz runs — are marked <c>[Trait(Tier.Name, Tier.Slow)]</c> (or, for one row of a
/// theory, <see cref="SlowRow{T}"/>) and run with <c>-p:TestTier=all</c>, as <c>.ci/run</c> does.
/// </summary>
internal static class Tier
{
    public const string Name = "Tier";
    public const string Slow = "Slow";

    /// <summary>A theory row marked slow.</summary>
    public static TRow SlowRow<TRow>(TRow row) where TRow : TheoryDataRowBase => row.WithTrait(Name, Slow);
}
