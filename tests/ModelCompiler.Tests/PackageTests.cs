using System;
using System.Diagnostics;
using System.IO;
using Xunit;

namespace ModelCompiler.Tests;

/// <summary>
/// The package as a user gets it: `dotnet pack`, then a fresh project that references the package from a local
/// folder feed (not a ProjectReference), lists no AdditionalFiles by hand, builds and runs a model.
/// </summary>
[Collection(DotnetBuilds.Name)]
[Trait(Tier.Name, Tier.Slow)]
public class PackageTests
{
    [Fact]
    public void Packed_library_compiles_and_runs_a_model_in_a_fresh_project()
    {
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string work = GeneratorHarness.TempFolder();
        string feed = Path.Combine(work, "feed"), app = Path.Combine(work, "app");
        Directory.CreateDirectory(app);

        Run(root, "pack", "src/Runtime", "-c", "Release", "-o", feed);
        Assert.True(File.Exists(Path.Combine(feed, "ModelCompiler.0.1.0.nupkg")));
        Assert.InRange(new FileInfo(Path.Combine(feed, "ModelCompiler.0.1.0.nupkg")).Length, 1, 2 * 1024 * 1024);
        // What nuget.org shows a newcomer: the README, the licence, where the project lives, what changed.
        using (var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed, "ModelCompiler.0.1.0.nupkg")))
        {
            using var reader = new StreamReader(package.GetEntry("ModelCompiler.nuspec")!.Open());
            string nuspec = reader.ReadToEnd();
            Assert.Contains("<license type=\"expression\">MIT</license>", nuspec);
            Assert.Contains("<projectUrl>https://github.com/ModelCompiler/ModelCompiler</projectUrl>", nuspec);
            Assert.Contains("<readme>README.md</readme>", nuspec);
            Assert.Contains("<repository type=\"git\" url=\"https://github.com/ModelCompiler/ModelCompiler\"", nuspec);
            Assert.Contains("CHANGELOG.md</releaseNotes>", nuspec);
            Assert.NotNull(package.GetEntry("README.md"));
        }

        WriteProject(app, feed, """
                <PackageReference Include="ModelCompiler" Version="0.1.0" />
                <None Include="*.safetensors" CopyToOutputDirectory="PreserveNewest" />
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using ModelCompiler;

            var test = SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "digits_test.safetensors"));
            float[] pixels = test["pixels"].ToArray(), labels = test["labels"].ToArray();
            var output = new float[labels.Length * Classifier.OutputLength];
            Classifier.Predict(pixels, output, labels.Length);
            int correct = 0;
            for (int i = 0; i < labels.Length; i++)
            {
                var row = output.AsSpan(i * 10, 10);
                if (row.IndexOf(TensorMax(row)) == (int)labels[i]) correct++;
            }
            Console.WriteLine($"accuracy {correct / (double)labels.Length:F4}");

            // An ONNX model whose initializers are read from lenet5.onnx, which the package's targets copy beside the app.
            var image = new float[2 * LeNetFromFile.InputLength];
            for (int i = 0; i < image.Length; i++) image[i] = (i % 29) / 29f;
            var fromFile = new float[2 * LeNetFromFile.OutputLength];
            var embedded = new float[2 * LeNetEmbedded.OutputLength];
            LeNetFromFile.Predict(image, fromFile, 2);
            LeNetEmbedded.Predict(image, embedded, 2);
            Console.WriteLine(fromFile.AsSpan().SequenceEqual(embedded) && File.Exists(Path.Combine(AppContext.BaseDirectory, "lenet5.onnx"))
                ? "ONNX weights from the file match embedded" : "ONNX weights from the file differ");

            static float TensorMax(ReadOnlySpan<float> row) { float m = row[0]; foreach (float v in row) m = Math.Max(m, v); return m; }

            [CompileModel(Weights = "digits.safetensors", Quantize = Quantization.Int8)]
            partial class Classifier
            {
                static Tensor Forward([Shape(64)] Tensor pixels) =>
                    pixels.Linear("fc1").Relu().Linear("fc2").Relu().Linear("out").Softmax();
            }

            [CompileModel(Onnx = "lenet5.onnx", WeightsStorage = WeightsStorage.File)]
            partial class LeNetFromFile;

            [CompileModel(Onnx = "lenet5.onnx")]
            partial class LeNetEmbedded;
            """);
        File.Copy(Path.Combine(root, "samples/Digits/digits.safetensors"), Path.Combine(app, "digits.safetensors"));
        File.Copy(Path.Combine(root, "samples/Digits/digits_test.safetensors"), Path.Combine(app, "digits_test.safetensors"));
        File.Copy(Path.Combine(root, "benchmarks/ModelCompiler.Benchmarks/Models/lenet5.onnx"), Path.Combine(app, "lenet5.onnx"));

        string output = Run(app, "run", "-c", "Release");
        Assert.Contains("accuracy 0.9639", output);
        Assert.Contains("ONNX weights from the file match embedded", output);

        // A NativeAOT publish for a baseline x64 CPU is warned about (the package's targets), unless an instruction set is named.
        string baseline = Run(app, "msbuild", "-t:ModelCompilerCheckInstructionSet", "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-x64");
        Assert.Contains("warning MCAOT01: NativeAOT compiles for a baseline x64 CPU", baseline);
        Assert.Contains("<IlcInstructionSet>x86-64-v3</IlcInstructionSet>", baseline);
        string named = Run(app, "msbuild", "-t:ModelCompilerCheckInstructionSet", "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-x64", "-p:IlcInstructionSet=x86-64-v3");
        Assert.DoesNotContain("MCAOT01", named);
        string arm = Run(app, "msbuild", "-t:ModelCompilerCheckInstructionSet", "-p:PublishAot=true", "-p:RuntimeIdentifier=linux-arm64");
        Assert.DoesNotContain("MCAOT01", arm);
    }

    [Fact]
    public void The_GPU_package_gives_a_packaged_model_a_GPU_entry_point()
    {
        // ModelCompiler.Gpu from the same folder feed (with ILGPU, from the machine's package cache): a fresh project
        // referencing both gets CreateGpu, and its output on ILGPU's CPU accelerator is the CPU output.
        string root = GeneratorDiagnosticsTests.RepositoryRoot();
        string work = GeneratorHarness.TempFolder();
        string feed = Path.Combine(work, "feed"), app = Path.Combine(work, "app");
        Directory.CreateDirectory(app);
        Run(root, "pack", "src/Runtime", "-c", "Release", "-o", feed);
        Run(root, "pack", "src/Runtime.Gpu", "-c", "Release", "-o", feed);
        Assert.True(File.Exists(Path.Combine(feed, "ModelCompiler.Gpu.0.1.0.nupkg")));
        string ilgpu = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"), "ilgpu", "1.5.3", "ilgpu.1.5.3.nupkg");
        File.Copy(ilgpu, Path.Combine(feed, "ilgpu.1.5.3.nupkg"));

        WriteProject(app, feed, """
                <PackageReference Include="ModelCompiler" Version="0.1.0" />
                <PackageReference Include="ModelCompiler.Gpu" Version="0.1.0" />
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using ILGPU;
            using ILGPU.Runtime.CPU;
            using ModelCompiler;

            var input = new float[3 * Classifier.InputLength];
            for (int i = 0; i < input.Length; i++) input[i] = (i % 17) / 4f;
            var cpu = new float[3 * Classifier.OutputLength];
            Classifier.Predict(input, cpu, 3);
            using var context = Context.Create(b => b.CPU(CPUDeviceKind.Nvidia));
            using var accelerator = context.CreateCPUAccelerator(0);
            using var gpu = Classifier.CreateGpu(accelerator, maxBatch: 3);
            var result = new float[cpu.Length];
            gpu.Predict(input, result, 3);
            double worst = 0;
            for (int i = 0; i < cpu.Length; i++) worst = Math.Max(worst, Math.Abs(result[i] - cpu[i]));
            Console.WriteLine(worst < 1e-5 ? "GPU matches CPU" : $"GPU differs by {worst}");

            [CompileModel(Weights = "digits.safetensors")]
            partial class Classifier
            {
                static Tensor Forward([Shape(64)] Tensor pixels) =>
                    pixels.Linear("fc1").Relu().Linear("fc2").Relu().Linear("out").Softmax();
            }
            """);
        File.Copy(Path.Combine(root, "samples/Digits/digits.safetensors"), Path.Combine(app, "digits.safetensors"));

        Assert.Contains("GPU matches CPU", Run(app, "run", "-c", "Release"));
    }

    /// <summary>A console project that restores only from <paramref name="feed"/>, with these items.</summary>
    private static void WriteProject(string app, string feed, string items)
    {
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
            {items}
              </ItemGroup>
            </Project>
            """);
    }

    private static string Run(string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        // A private package cache, so that an older build of the same version can never be picked up.
        start.Environment["NUGET_PACKAGES"] = Path.Combine(Path.GetTempPath(), "mc-tests-nuget-" + Guid.NewGuid().ToString("N"));
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(300_000), $"dotnet {string.Join(' ', arguments)} did not finish");
        string text = stdout.Result + stderr;
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} failed:\n{text}");
        return text;
    }
}
