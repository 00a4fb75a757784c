using System.Diagnostics;
using System.IO;
using System.Linq;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>The Digits sample published with NativeAOT: no trim or AOT warnings, and the same results as under the JIT.</summary>
[Collection(DotnetBuilds.Name)]
[Trait(Tier.Name, Tier.Slow)]
public class NativeAotTests
{
    [Fact]
    public void Digits_sample_publishes_with_NativeAOT_and_prints_the_same_accuracy_as_the_JIT()
    {
        if (!File.Exists("/usr/bin/clang") || !System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux))
            Assert.Skip("NativeAOT needs clang (.ci/run installs it: apt-get install clang zlib1g-dev)");
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string output = Path.Combine(GeneratorHarness.TempFolder(), "aot");
        string rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;

        string publish = Run("dotnet", root, "publish", "samples/Digits", "-c", "Release", "-r", rid, "-o", output);
        Assert.DoesNotMatch(@"warning (IL\d{4}|IL3\d{3})", publish); // no trim or AOT warnings
        string aot = Run(Path.Combine(output, "Digits"), output);
        string jit = Run("dotnet", root, "run", "--project", "samples/Digits", "-c", "Release");

        static string[] Accuracy(string text) => text.Split('\n').Where(l => l.Contains("accuracy")).Select(l => l.Trim()).ToArray();
        Assert.Equal(4, Accuracy(jit).Length); // float32 compiled and eager, int8, int4
        Assert.Equal(Accuracy(jit), Accuracy(aot));
    }

    private static string Run(string file, string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(600_000), $"{file} {string.Join(' ', arguments)} did not finish");
        string text = stdout.Result + stderr;
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} failed:\n{text}");
        return text;
    }
}
