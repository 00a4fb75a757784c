using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.Intrinsics;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// Every kernel path: the vector width is fixed when a process starts, so each width runs in a child
/// process (ModelCompiler.WidthCheck) with the runtime's switches set, and checks the compiled models
/// against the eager reference there.
/// </summary>
public class VectorWidthTests
{
    public static TheoryData<string, string, string> Widths => new()
    {
        // name, environment (NAME=value;...), the accelerated widths the child must report
        { "widest", "", "" },
        { "256-bit", "DOTNET_PreferredVectorBitWidth=256", "v512=False v256=True v128=True" },
        { "128-bit", "DOTNET_EnableAVX2=0", "v512=False v256=False v128=True" },
        { "scalar", "DOTNET_EnableHWIntrinsic=0", "v512=False v256=False v128=False" },
    };

    [Theory]
    [MemberData(nameof(Widths))]
    public void Compiled_models_match_eager_at_every_vector_width(string name, string environment, string expectedWidths)
    {
        if (expectedWidths.Contains("v256=True") && !Vector256.IsHardwareAccelerated)
            Assert.Skip($"{name}: this machine has no 256-bit vectors");

        var start = new ProcessStartInfo("dotnet");
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ModelCompiler.WidthCheck.dll"));
        RunWidthCheck(start, environment, expectedWidths);
    }

    /// <summary>Arm64 CPUs: with the dot-product extension (<c>-cpu max</c>), without it (Cortex-A72), and scalar.</summary>
    public static TheoryData<string, string, string> ArmCpus => new()
    {
        { "max", "", "v512=False v256=False v128=True" },
        { "cortex-a72", "", "v512=False v256=False v128=True" },
        { "max", "DOTNET_EnableHWIntrinsic=0", "v512=False v256=False v128=False" },
    };

    /// <summary>
    /// The NEON (AdvSimd) paths, on an emulated Arm64 CPU: .ci/run publishes the width check for linux-arm64 and
    /// names the executable in MODELCOMPILER_ARM64_WIDTHCHECK; qemu-aarch64-static runs it.
    /// </summary>
    [Theory]
    [MemberData(nameof(ArmCpus))]
    public void Compiled_models_match_eager_on_Arm64_under_qemu(string cpu, string environment, string expectedWidths)
    {
        string? executable = Environment.GetEnvironmentVariable("MODELCOMPILER_ARM64_WIDTHCHECK");
        if (string.IsNullOrEmpty(executable) || !File.Exists(executable) || !File.Exists("/usr/bin/qemu-aarch64-static"))
            Assert.Skip("no Arm64 publish under qemu here (.ci/run sets one up)");

        var start = new ProcessStartInfo("/usr/bin/qemu-aarch64-static");
        foreach (string arg in new[] { "-cpu", cpu, executable }) start.ArgumentList.Add(arg);
        RunWidthCheck(start, environment, expectedWidths);
    }

    private static void RunWidthCheck(ProcessStartInfo start, string environment, string expectedWidths)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        foreach (string pair in environment.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=');
            start.Environment[kv[0]] = kv[1];
        }
        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string errors = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(300_000), "the width check did not finish");

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{output}\n{errors}");
        Assert.Contains("accelerated: " + (expectedWidths.Length == 0 ? "" : expectedWidths), output);
        foreach (string model in new[] { "OddMlp", "WideMlp", "Zoo", "DigitsClassifier" })
            Assert.Contains(model + " max_relative_error=", output);
    }
}
