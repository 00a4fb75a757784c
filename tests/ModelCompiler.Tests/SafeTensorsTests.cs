using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using ModelCompiler.Weights;
using Xunit;

namespace ModelCompiler.Tests;

public class SafeTensorsTests
{
    /// <summary>A safetensors file from a literal header and data section.</summary>
    internal static byte[] File(string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BitConverter.GetBytes((ulong)json.Length).CopyTo(bytes, 0);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }

    internal static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    [Fact]
    public void A_name_with_the_transposed_suffix_reads_a_stored_matrix_transposed()
    {
        var data = new List<byte>(Floats(1, 2, 3, 4, 5, 6, 7, 8));
        data.AddRange(new byte[] { 0x00, 0x3C, 0x00, 0x40, 0x00, 0x42, 0x00, 0x44 }); // F16 [2, 2]: 1, 2, 3, 4
        data.AddRange(Floats(9, 10, 11, 12));
        byte[] file = File("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
            + "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
            + "\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[32,40]},"
            + "\"sᵀ\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[40,48]},"
            + "\"s\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[48,56]}}", data.ToArray());
        SafeTensorsHeader header = SafeTensorsHeader.Parse(file);

        SafeTensorEntry w = header.Find("w" + SafeTensorsHeader.TransposedSuffix)!;

        Assert.True(w.Transposed);
        Assert.Equal("wᵀ", w.Name);
        Assert.Equal(new[] { 3, 2 }, w.Shape);
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, header.ReadFloat32(file, w));
        Assert.Equal(new float[] { 1, 3, 2, 4 }, header.ReadFloat32(file, header.Find("hᵀ")!));
        Assert.Null(header.Find("vᵀ"));                    // not a matrix
        Assert.Null(header.Find("xᵀ"));                    // not there
        Assert.False(header.Find("sᵀ")!.Transposed);       // a tensor stored under the suffixed name is read as it is
        Assert.Equal(new float[] { 9, 10 }, header.ReadFloat32(file, header.Find("sᵀ")!));
        Assert.False(header.Find("w")!.Transposed);
    }

    [Fact]
    public void Reads_F32_F16_and_BF16_tensors_as_float32()
    {
        var data = new List<byte>(Floats(1.5f, -2f, 0.25f, 3f, 4f, 5f));
        data.AddRange(new byte[] { 0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C }); // F16: 1, -2, 2^-24, +inf
        data.AddRange(new byte[] { 0x80, 0x3F, 0x49, 0x40 });                         // BF16: 1, 3.140625
        byte[] file = File("{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
            + "\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
            + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[32,36]}}", data.ToArray());

        SafeTensors weights = SafeTensors.Parse(file);

        Assert.Equal(new[] { "a", "b", "h" }, weights.Names);
        Assert.Equal(new[] { 2, 3 }, weights["a"].Shape.ToArray());
        Assert.Equal(new[] { 1.5f, -2f, 0.25f, 3f, 4f, 5f }, weights["a"].ToArray());
        Assert.Equal(new[] { 1f, -2f, MathF.Pow(2, -24), float.PositiveInfinity }, weights["h"].ToArray());
        Assert.Equal(new[] { 1f, 3.140625f }, weights["b"].ToArray());
    }

    [Fact]
    public void Half_to_single_is_exact_for_every_finite_value()
    {
        for (int bits = 0; bits < 0x10000; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            float actual = SafeTensorsHeader.HalfToSingle((ushort)bits);
            Assert.True(float.IsNaN(expected) ? float.IsNaN(actual) : expected.Equals(actual), $"bits 0x{bits:X4}");
        }
    }

    public static TheoryData<string, byte[], string> MalformedFiles => new()
    {
        { "too short", new byte[] { 1, 2, 3 }, "8-byte header length" },
        { "header larger than limit", BitConverter.GetBytes(200_000_000UL), "exceeds" },
        { "header past the end", File("{}", Array.Empty<byte>())[..9], "runs past the end" },
        { "not JSON", File("{\"a\":", Array.Empty<byte>()), "malformed" },
        { "not an object", File("[1, 2]", Array.Empty<byte>()), "not a JSON object" },
        { "unknown dtype", File("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]), "not a safetensors dtype" },
        { "offsets outside", File("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[8]), "outside the data section" },
        { "size mismatch", File("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]), "needs 3 × 4 bytes" },
        { "overlap", File("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]), "overlap" },
        { "duplicate name", File("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "appears twice" },
        { "negative dimension", File("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", new byte[4]), "non-negative integer" },
        { "deep nesting", File("{\"__metadata__\":" + new string('[', 500) + new string(']', 500) + "}", Array.Empty<byte>()), "nested too deeply" },
    };

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void Rejects_a_malformed_file_with_a_message_that_says_why(string what, byte[] file, string expected)
    {
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Parse(file));
        Assert.Contains(expected, e.Message);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void Integer_tensors_beside_the_weights_are_listed_but_not_read()
    {
        // A PyTorch state_dict with BatchNorm carries an int64 num_batches_tracked.
        byte[] file = File("{\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
            + "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", new byte[8].Concat(Floats(1f, 2f)).ToArray());
        SafeTensors weights = SafeTensors.Parse(file);
        Assert.Equal(new[] { "bn.num_batches_tracked", "fc.weight" }, weights.Names);
        Assert.Equal(new[] { 1f, 2f }, weights["fc.weight"].ToArray());
        Assert.False(weights.TryGetTensor("bn.num_batches_tracked", out _));
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsHeader.Parse(file).ReadFloat32(file, SafeTensorsHeader.Parse(file).Find("bn.num_batches_tracked")!));
        Assert.Contains("dtype I64", e.Message);
    }

    [Fact]
    public void Missing_tensor_names_the_nearest_ones()
    {
        byte[] file = File("{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"fc2.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]);
        var e = Assert.Throws<KeyNotFoundException>(() => SafeTensors.Parse(file)["fc3.weight"]);
        Assert.Equal("Weight 'fc3.weight' not found. Nearest names: fc1.weight, fc2.weight.", e.Message);
    }
}

public class SafeTensorsFuzzTests
{
    /// <summary>
    /// Thousands of corrupted weights files (bytes flipped, truncated, header length rewritten, JSON spliced): the
    /// reader either reads the file or refuses it with <see cref="SafeTensorsFormatException"/>; nothing else escapes,
    /// so the generator can always turn a bad file into MC0003.
    /// </summary>
    [Fact]
    public void Corrupted_files_are_read_or_refused_with_a_format_error()
    {
        byte[] original = System.IO.File.ReadAllBytes(System.IO.Path.Combine(Numerics.ModelsFolder, "digits.safetensors"));
        int headerLength = (int)BitConverter.ToUInt64(original, 0);
        var random = new Random(2026);
        int refused = 0, read = 0;
        for (int round = 0; round < 3000; round++)
        {
            byte[] bytes = (byte[])original.Clone();
            switch (round % 4)
            {
                case 0: // flip a few bytes in the header
                    for (int i = 0; i < 1 + random.Next(4); i++) bytes[8 + random.Next(headerLength)] = (byte)random.Next(256);
                    break;
                case 1: // truncate anywhere
                    bytes = bytes[..random.Next(bytes.Length)];
                    break;
                case 2: // a different header length
                    BitConverter.GetBytes((ulong)random.NextInt64(0, 1L << random.Next(1, 63))).CopyTo(bytes, 0);
                    break;
                default: // splice a run of header bytes to another place in the header
                    int from = 8 + random.Next(headerLength), to = 8 + random.Next(headerLength), count = random.Next(1, 24);
                    Array.Copy(original, from, bytes, to, Math.Min(count, Math.Min(8 + headerLength - from, 8 + headerLength - to)));
                    break;
            }
            try
            {
                SafeTensors weights = SafeTensors.Parse(bytes);
                foreach (string name in weights.Names) _ = weights[name].Data.Length;
                read++;
            }
            catch (SafeTensorsFormatException)
            {
                refused++;
            }
        }
        Assert.True(refused > 1000, $"{refused} refused, {read} read");
    }
}
