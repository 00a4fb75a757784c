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
[Trait(Tier.Name, Tier.Slow)]
public class VectorWidthTests
{
    public static TheoryData<string, string, string, string> Widths => new()
    {
        // name, environment (NAME=value;...), the accelerated widths the child must report, the int8 dot product it must use
        { "widest", "", "", "" },
        { "256-bit", "DOTNET_PreferredVectorBitWidth=256", "v512=False v256=True v128=True", "" },
        { "128-bit", "DOTNET_EnableAVX2=0", "v512=False v256=False v128=True", "Portable128" },
        { "scalar", "DOTNET_EnableHWIntrinsic=0", "v512=False v256=False v128=False", "Scalar" },
        // The int8 kernel's x86 forms besides AVX-VNNI: AVX-512BW and AVX2 vpmaddwd.
        { "int8 AVX-512BW", "DOTNET_EnableAVXVNNI=0", "", "Madd512" },
        { "int8 AVX2", "DOTNET_EnableAVXVNNI=0;DOTNET_PreferredVectorBitWidth=256", "v512=False v256=True v128=True", "Madd256" },
    };

    [Theory]
    [MemberData(nameof(Widths))]
    public void Compiled_models_match_eager_at_every_vector_width(string name, string environment, string expectedWidths, string int8Path)
    {
        if (expectedWidths.Contains("v256=True") && !Vector256.IsHardwareAccelerated)
            Assert.Skip($"{name}: this machine has no 256-bit vectors");
        if (int8Path == "Madd512" && !System.Runtime.Intrinsics.X86.Avx512BW.IsSupported)
            Assert.Skip($"{name}: this machine has no AVX-512BW");

        var start = new ProcessStartInfo("dotnet");
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ModelCompiler.WidthCheck.dll"));
        RunWidthCheck(start, environment, expectedWidths, int8Path);
    }

    /// <summary>Arm64 CPUs: with the dot-product extension (<c>-cpu max</c>), without it (Cortex-A72), and scalar.</summary>
    public static TheoryData<string, string, string, string> ArmCpus => new()
    {
        { "max", "", "v512=False v256=False v128=True", "Sdot" },
        { "cortex-a72", "", "v512=False v256=False v128=True", "Portable128" },
        { "max", "DOTNET_EnableHWIntrinsic=0", "v512=False v256=False v128=False", "Scalar" },
    };

    /// <summary>
    /// The NEON (AdvSimd) paths, on an emulated Arm64 CPU: .ci/run publishes the width check for linux-arm64 and
    /// names the executable in MODELCOMPILER_ARM64_WIDTHCHECK; qemu-aarch64-static runs it.
    /// </summary>
    [Theory]
    [MemberData(nameof(ArmCpus))]
    public void Compiled_models_match_eager_on_Arm64_under_qemu(string cpu, string environment, string expectedWidths, string int8Path)
    {
        string? executable = Environment.GetEnvironmentVariable("MODELCOMPILER_ARM64_WIDTHCHECK");
        if (string.IsNullOrEmpty(executable) || !File.Exists(executable) || !File.Exists("/usr/bin/qemu-aarch64-static"))
            Assert.Skip("no Arm64 publish under qemu here (.ci/run sets one up)");

        var start = new ProcessStartInfo("/usr/bin/qemu-aarch64-static");
        foreach (string arg in new[] { "-cpu", cpu, executable }) start.ArgumentList.Add(arg);
        RunWidthCheck(start, environment, expectedWidths, int8Path);
    }

    private static void RunWidthCheck(ProcessStartInfo start, string environment, string expectedWidths, string int8Path)
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
        Assert.Contains("int8 dot product: " + int8Path, output);
        foreach (string model in new[] { "OddMlp", "WideMlp", "Zoo", "NormMlp", "AttentionBlock", "SmallCnn", "BnCnn", "LeakyClamp", "PositiveMath", "LayoutZoo", "GroupedCnn", "ConvResidual", "ResBlock", "TextClassifier", "AttentionBlockInt8", "DigitsClassifier", "WideMlpInt8", "ZooInt8", "DigitsClassifierInt8", "OddMlpInt4", "DigitsClassifierInt4" })
            Assert.Contains(model + " max_relative_error=", output);
        // NaN, ±Inf, ±0 and denormals through every float model, SpecialValues applying each op to the input itself.
        foreach (string model in new[] { "OddMlp", "Zoo", "NormMlp", "AttentionBlock", "SmallCnn", "LeakyClamp", "PositiveMath", "SpecialValues", "LayoutZoo", "GroupedCnn", "ConvResidual", "DigitsClassifier" })
            Assert.Contains(model + " special_values=agree", output);
        Assert.Contains("ReluMlpInt8 max_relative_error=0.000E+000", output); // int8 equals its reference exactly
        Assert.Contains("ReluMlpInt8Static max_relative_error=0.000E+000", output);
        Assert.Contains("ReluMlpInt8FromFile max_relative_error=0.000E+000", output);
        Assert.Contains("OddMlpFromFile max_relative_error=", output);
        Assert.Contains("DigitsInt8Static max_relative_error=", output);
        foreach (string decoder in new[] { "TinyLlama", "TinyLlamaInt8", "TinyLlamaInt4" })
            Assert.Contains(decoder + " session_max_relative_error=", output); // logits after every token, prefill and decode, against the eager sequence
    }
}
