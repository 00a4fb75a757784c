// This file is compiled into both the runtime and the generator (netstandard2.0), so that build time
// and run time read weights files by exactly the same rules. It uses only APIs netstandard2.0 has.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace ModelCompiler.Weights;

/// <summary>A weights file that breaks the safetensors format; the message says what and where.</summary>
#if MODELCOMPILER_GENERATOR
internal
#else
public
#endif
sealed class SafeTensorsFormatException : Exception
{
    /// <summary>Creates the exception with a message that says what is wrong with the file.</summary>
    public SafeTensorsFormatException(string message) : base(message) { }
}

/// <summary>One tensor listed in a safetensors header.</summary>
internal sealed class SafeTensorEntry
{
    public SafeTensorEntry(string name, string dtype, int[] shape, long begin, long end)
    {
        Name = name; DType = dtype; Shape = shape; Begin = begin; End = end;
    }

    private SafeTensorEntry(SafeTensorEntry stored)
    {
        Name = stored.Name + SafeTensorsHeader.TransposedSuffix; DType = stored.DType; Shape = new[] { stored.Shape[1], stored.Shape[0] };
        Begin = stored.Begin; End = stored.End; Transposed = true;
    }

    /// <summary>
    /// Whether this entry is a matrix of the file read transposed (<see cref="SafeTensorsHeader.TransposedSuffix"/>):
    /// <see cref="Shape"/> is then the stored one reversed, and reading it gives the transpose.
    /// </summary>
    public bool Transposed { get; }

    /// <summary>The transposed view of a stored 2-D tensor.</summary>
    internal SafeTensorEntry AsTransposed() => new(this);

    public string Name { get; }
    /// <summary>"F32", "F16" or "BF16".</summary>
    public string DType { get; }
    public int[] Shape { get; }
    /// <summary>Start of the tensor's bytes, relative to the start of the data section.</summary>
    public long Begin { get; }
    /// <summary>End (exclusive) of the tensor's bytes, relative to the start of the data section.</summary>
    public long End { get; }

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }
}

/// <summary>
/// The parsed, validated header of a safetensors file (https://github.com/huggingface/safetensors):
/// an 8-byte little-endian header length, a JSON header, then the tensors' bytes.
/// </summary>
internal sealed class SafeTensorsHeader
{
    /// <summary>Headers larger than this are rejected as not a weights file (the reference reader uses 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private SafeTensorsHeader(List<SafeTensorEntry> entries, long dataStart)
    {
        Entries = entries;
        DataStart = dataStart;
    }

    /// <summary>Tensors sorted by name (ordinal), so that everything derived from them is deterministic.</summary>
    public IReadOnlyList<SafeTensorEntry> Entries { get; }

    /// <summary>File offset of the data section.</summary>
    public long DataStart { get; }

    /// <summary>
    /// A name ending in this suffix names the transpose of the stored 2-D tensor without it: <c>"h.0.attn.c_attn.weightᵀ"</c>
    /// reads GPT-2's <c>Conv1D</c> weight, stored <c>[in, out]</c>, as the <c>[out, in]</c> matrix a Linear uses. Every
    /// reader (shape inference, layout at build time, the file read at start-up, LoadWeights' check) sees the transpose
    /// through <see cref="Find"/>; a tensor stored under the suffixed name itself is found first.
    /// </summary>
    public const string TransposedSuffix = "ᵀ";

    public SafeTensorEntry? Find(string name)
    {
        SafeTensorEntry? stored = FindStored(name);
        if (stored is not null || !name.EndsWith(TransposedSuffix, StringComparison.Ordinal)) return stored;
        SafeTensorEntry? matrix = FindStored(name.Substring(0, name.Length - TransposedSuffix.Length));
        return matrix is { Shape.Length: 2 } ? matrix.AsTransposed() : null;
    }

    private SafeTensorEntry? FindStored(string name)
    {
        foreach (SafeTensorEntry e in Entries)
        {
            if (string.Equals(e.Name, name, StringComparison.Ordinal)) return e;
        }
        return null;
    }

#if MODELCOMPILER_GENERATOR
    /// <summary>A header of the given tensors, with no file behind it: what the ONNX importer knows while it still lays the file out.</summary>
    public static SafeTensorsHeader Of(IEnumerable<SafeTensorEntry> entries)
    {
        var sorted = new List<SafeTensorEntry>(entries);
        sorted.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new SafeTensorsHeader(sorted, 0);
    }

#endif
    /// <summary>Reads and validates the header of a whole file; throws <see cref="SafeTensorsFormatException"/>.</summary>
    public static SafeTensorsHeader Parse(byte[] file)
    {
        if (file.Length < 8)
            throw new SafeTensorsFormatException($"the file is {file.Length} bytes long; a safetensors file starts with an 8-byte header length");
        ulong headerLength = BitConverter.ToUInt64(file, 0);
        if (!BitConverter.IsLittleEndian) headerLength = ReverseBytes(headerLength);
        if (headerLength > MaxHeaderBytes)
            throw new SafeTensorsFormatException($"the header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit; this is not a safetensors file");
        if ((long)headerLength > file.Length - 8)
            throw new SafeTensorsFormatException($"the header length {headerLength} runs past the end of the file ({file.Length} bytes)");
        if (headerLength < 2)
            throw new SafeTensorsFormatException("the JSON header is empty");

        string json;
        try
        {
            json = new UTF8Encoding(false, true).GetString(file, 8, (int)headerLength);
        }
        catch (DecoderFallbackException)
        {
            throw new SafeTensorsFormatException("the header is not valid UTF-8");
        }

        object? root = new JsonReader(json).ReadDocument();
        if (root is not Dictionary<string, object?> tensors)
            throw new SafeTensorsFormatException("the header is not a JSON object");

        long dataStart = 8 + (long)headerLength;
        long dataLength = file.Length - dataStart;
        var entries = new List<SafeTensorEntry>();
        foreach (KeyValuePair<string, object?> pair in tensors)
        {
            if (pair.Key == "__metadata__") continue;
            entries.Add(ReadEntry(pair.Key, pair.Value, dataLength));
        }

        // Tensors may not share bytes.
        var byOffset = new List<SafeTensorEntry>(entries);
        byOffset.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        for (int i = 1; i < byOffset.Count; i++)
        {
            SafeTensorEntry prev = byOffset[i - 1], cur = byOffset[i];
            if (cur.Begin < prev.End && cur.End > cur.Begin)
                throw new SafeTensorsFormatException($"tensors '{prev.Name}' and '{cur.Name}' overlap (bytes {prev.Begin}..{prev.End} and {cur.Begin}..{cur.End})");
        }

        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new SafeTensorsHeader(entries, dataStart);
    }

    private static SafeTensorEntry ReadEntry(string name, object? value, long dataLength)
    {
        if (value is not Dictionary<string, object?> fields)
            throw new SafeTensorsFormatException($"tensor '{name}': its header entry is not a JSON object");

        if (!fields.TryGetValue("dtype", out object? dtypeValue) || dtypeValue is not string dtype)
            throw new SafeTensorsFormatException($"tensor '{name}': 'dtype' is missing or not a string");
        // Every safetensors dtype is accepted in the header (a PyTorch state_dict carries int64 counters beside the
        // weights); only F32, F16 and BF16 tensors can be read as weights (ReadFloat32 says so for the others).
        int elementSize = dtype switch
        {
            "F64" or "I64" or "U64" => 8,
            "F32" or "I32" or "U32" => 4,
            "F16" or "BF16" or "I16" or "U16" => 2,
            "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
            _ => 0,
        };
        if (elementSize == 0)
            throw new SafeTensorsFormatException($"tensor '{name}' has dtype {dtype}, which is not a safetensors dtype");

        if (!fields.TryGetValue("shape", out object? shapeValue) || shapeValue is not List<object?> shapeList)
            throw new SafeTensorsFormatException($"tensor '{name}': 'shape' is missing or not an array");
        var shape = new int[shapeList.Count];
        long elements = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shapeList[i] is not long d || d < 0 || d > int.MaxValue)
                throw new SafeTensorsFormatException($"tensor '{name}': shape dimension {i} is not a non-negative integer");
            shape[i] = (int)d;
            elements = d == 0 || elements == 0 ? 0 : (elements > long.MaxValue / d ? -1 : elements * d);
            if (elements < 0)
                throw new SafeTensorsFormatException($"tensor '{name}': its shape has too many elements");
        }

        if (!fields.TryGetValue("data_offsets", out object? offsetsValue) || offsetsValue is not List<object?> offsets
            || offsets.Count != 2 || offsets[0] is not long begin || offsets[1] is not long end)
            throw new SafeTensorsFormatException($"tensor '{name}': 'data_offsets' is missing or not two integers");
        if (begin < 0 || end < begin || end > dataLength)
            throw new SafeTensorsFormatException($"tensor '{name}': data_offsets [{begin}, {end}] lie outside the data section ({dataLength} bytes)");
        if (elements > (end - begin) / elementSize || elements * elementSize != end - begin)
            throw new SafeTensorsFormatException($"tensor '{name}': {dtype} [{string.Join(", ", shape)}] needs {elements} × {elementSize} bytes but data_offsets span {end - begin}");

        return new SafeTensorEntry(name, dtype, shape, begin, end);
    }

    /// <summary>Whether a tensor can be read as weights.</summary>
    public static bool IsFloat(SafeTensorEntry entry) => entry.DType is "F32" or "F16" or "BF16";

    /// <summary>Converts one tensor's bytes to float32 (F16 and BF16 are widened exactly).</summary>
    public float[] ReadFloat32(byte[] file, SafeTensorEntry entry)
    {
        if (!IsFloat(entry))
            throw new SafeTensorsFormatException($"tensor '{entry.Name}' has dtype {entry.DType}; ModelCompiler reads F32, F16 and BF16 weights");
        long start = DataStart + entry.Begin;
        var result = new float[entry.ElementCount];
        switch (entry.DType)
        {
            case "F32":
                Buffer.BlockCopy(file, (int)start, result, 0, result.Length * 4);
                break;
            case "F16":
                for (int i = 0; i < result.Length; i++)
                    result[i] = HalfToSingle((ushort)(file[start + 2 * i] | (file[start + 2 * i + 1] << 8)));
                break;
            case "BF16":
                for (int i = 0; i < result.Length; i++)
                    result[i] = BitsToSingle((file[start + 2 * i] | (file[start + 2 * i + 1] << 8)) << 16);
                break;
        }
        return entry.Transposed ? Transpose(result, entry.Shape[1], entry.Shape[0]) : result;
    }

    /// <summary>The transpose of a row-major <paramref name="rows"/> × <paramref name="columns"/> matrix (the transposed view's, and the eager reference's).</summary>
    internal static float[] Transpose(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++) result[(long)c * rows + r] = values[(long)r * columns + c];
        }
        return result;
    }

    /// <summary>
    /// Samples or token ids as float32: F32, F16 and BF16 as <see cref="ReadFloat32"/>; I32 and I64 converted (a calibration
    /// file's token sequences are often integers; ids past 2^24 lose precision, and are past any vocabulary anyway).
    /// </summary>
    public float[] ReadValues(byte[] file, SafeTensorEntry entry)
    {
        if (entry.DType is not ("I32" or "I64")) return ReadFloat32(file, entry);
        if (entry.Transposed) throw new SafeTensorsFormatException($"tensor '{entry.Name}' is {entry.DType}; only float tensors are read transposed");
        long start = DataStart + entry.Begin;
        var result = new float[entry.ElementCount];
        for (int i = 0; i < result.Length; i++)
            result[i] = entry.DType == "I32" ? BitConverter.ToInt32(file, (int)(start + 4 * i)) : BitConverter.ToInt64(file, (int)(start + 8 * i));
        return result;
    }

    private static float BitsToSingle(int bits) => BitConverter.ToSingle(BitConverter.GetBytes(bits), 0);

    /// <summary>IEEE 754 binary16 to binary32, exact for every value including subnormals, infinities and NaN.</summary>
    internal static float HalfToSingle(ushort h)
    {
        int sign = (h >> 15) & 1, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
        float magnitude;
        if (exponent == 0) magnitude = mantissa * (1f / 16777216f); // 2^-24 × mantissa
        else if (exponent == 31) magnitude = mantissa == 0 ? float.PositiveInfinity : float.NaN;
        else magnitude = BitsToSingle(((exponent - 15 + 127) << 23) | (mantissa << 13));
        return sign == 1 ? -magnitude : magnitude;
    }

    private static ulong ReverseBytes(ulong v)
    {
        ulong r = 0;
        for (int i = 0; i < 8; i++) { r = (r << 8) | (v & 0xFF); v >>= 8; }
        return r;
    }

    /// <summary>
    /// The small JSON subset a safetensors header uses: objects, arrays, strings, integers (as long),
    /// other numbers (as double), true/false/null. Depth is bounded, so a hostile file cannot blow the stack.
    /// Hand-written because the generator runs inside the compiler, where no JSON library can be relied on.
    /// </summary>
    internal sealed class JsonReader
    {
        private const int MaxDepth = 64;
        private readonly string _s;
        private int _i;

        public JsonReader(string s) => _s = s;

        public object? ReadDocument()
        {
            object? value = ReadValue(0);
            SkipWhitespace();
            if (_i != _s.Length) throw Error("unexpected text after the JSON value");
            return value;
        }

        private SafeTensorsFormatException Error(string what) =>
            new SafeTensorsFormatException($"the JSON header is malformed at character {_i}: {what}");

        private void SkipWhitespace()
        {
            while (_i < _s.Length && (_s[_i] == ' ' || _s[_i] == '\t' || _s[_i] == '\n' || _s[_i] == '\r')) _i++;
        }

        private object? ReadValue(int depth)
        {
            if (depth > MaxDepth) throw Error("nested too deeply");
            SkipWhitespace();
            if (_i >= _s.Length) throw Error("unexpected end");
            char c = _s[_i];
            switch (c)
            {
                case '{': return ReadObject(depth);
                case '[': return ReadArray(depth);
                case '"': return ReadString();
                case 't': return ReadLiteral("true", true);
                case 'f': return ReadLiteral("false", false);
                case 'n': return ReadLiteral("null", null);
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                    throw Error($"unexpected character '{c}'");
            }
        }

        private object? ReadLiteral(string word, object? value)
        {
            if (string.CompareOrdinal(_s, _i, word, 0, word.Length) != 0) throw Error("unknown literal");
            _i += word.Length;
            return value;
        }

        private Dictionary<string, object?> ReadObject(int depth)
        {
            var result = new Dictionary<string, object?>(StringComparer.Ordinal);
            _i++; // {
            SkipWhitespace();
            if (_i < _s.Length && _s[_i] == '}') { _i++; return result; }
            while (true)
            {
                SkipWhitespace();
                if (_i >= _s.Length || _s[_i] != '"') throw Error("expected a property name");
                string key = ReadString();
                SkipWhitespace();
                if (_i >= _s.Length || _s[_i] != ':') throw Error("expected ':'");
                _i++;
                object? value = ReadValue(depth + 1);
                if (result.ContainsKey(key)) throw Error($"the name '{key}' appears twice");
                result.Add(key, value);
                SkipWhitespace();
                if (_i >= _s.Length) throw Error("unexpected end");
                if (_s[_i] == ',') { _i++; continue; }
                if (_s[_i] == '}') { _i++; return result; }
                throw Error("expected ',' or '}'");
            }
        }

        private List<object?> ReadArray(int depth)
        {
            var result = new List<object?>();
            _i++; // [
            SkipWhitespace();
            if (_i < _s.Length && _s[_i] == ']') { _i++; return result; }
            while (true)
            {
                result.Add(ReadValue(depth + 1));
                SkipWhitespace();
                if (_i >= _s.Length) throw Error("unexpected end");
                if (_s[_i] == ',') { _i++; continue; }
                if (_s[_i] == ']') { _i++; return result; }
                throw Error("expected ',' or ']'");
            }
        }

        private string ReadString()
        {
            _i++; // opening quote
            var sb = new StringBuilder();
            while (true)
            {
                if (_i >= _s.Length) throw Error("unterminated string");
                char c = _s[_i++];
                if (c == '"') return sb.ToString();
                if (c != '\\') { sb.Append(c); continue; }
                if (_i >= _s.Length) throw Error("unterminated escape");
                char e = _s[_i++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (_i + 4 > _s.Length || !int.TryParse(_s.Substring(_i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
                            throw Error("bad \\u escape");
                        sb.Append((char)code);
                        _i += 4;
                        break;
                    default: throw Error($"unknown escape '\\{e}'");
                }
            }
        }

        private object ReadNumber()
        {
            int start = _i;
            if (_s[_i] == '-') _i++;
            while (_i < _s.Length && "0123456789.eE+-".IndexOf(_s[_i]) >= 0) _i++;
            string text = _s.Substring(start, _i - start);
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
            throw Error($"bad number '{text}'");
        }
    }
}
