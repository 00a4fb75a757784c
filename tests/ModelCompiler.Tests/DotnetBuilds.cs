using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// Tests that run `dotnet build`/`publish`/`pack` on the repository's projects share their obj/ and bin/ folders,
/// so they run one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DotnetBuilds
{
    public const string Name = "dotnet builds";
}
