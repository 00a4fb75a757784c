using System;
using System.Collections.Generic;
using System.Text;

namespace ModelCompiler.Generator.Import;

/// <summary>A file that is not a readable ONNX model: what is wrong, and where (byte offset).</summary>
internal sealed class OnnxFormatException : Exception
{
    public OnnxFormatException(string message) : base(message) { }
}

/// <summary>
/// Reads the parts of an ONNX <c>ModelProto</c> (onnx/onnx.proto, IR version 3 and later) the compiler lowers: opset
/// imports, the graph's nodes with their attributes, initializers (raw, typed or external data), inputs, outputs and
/// value_info with their shapes. Fields it does not use are skipped by wire type, as protobuf requires.
/// </summary>
/// <remarks>
/// Hand-written rather than Google.Protobuf with classes generated from onnx.proto: the generator runs inside the
/// compiler, where every extra assembly is loaded into the IDE's process, and protoc is not available to the build.
/// The protobuf wire format needs ~150 lines to read. Every length is checked against the bytes left, nesting and
/// counts are bounded, and any malformation is an <see cref="OnnxFormatException"/> (tested on thousands of mutated
/// files), so a broken file becomes a diagnostic, never a compiler crash or hang.
/// </remarks>
internal static class OnnxReader
{
    /// <summary>Graphs nested in attributes (If, Loop, Scan bodies) deeper than this are refused.</summary>
    private const int MaxDepth = 8;

    /// <summary>Most elements of any repeated field (nodes, dims, attribute values, …).</summary>
    private const int MaxCount = 10_000_000;

    public static OnnxModel Read(byte[] bytes)
    {
        if (bytes is null || bytes.Length == 0) throw new OnnxFormatException("the file is empty");
        var reader = new ProtoReader(bytes, 0, bytes.Length);
        var model = new OnnxModel();
        while (reader.More)
        {
            (int field, int wire) = reader.Tag();
            switch (field)
            {
                case 1 when wire == 0: model.IrVersion = reader.Int64(); break;
                case 2 when wire == 2: model.ProducerName = reader.String(); break;
                case 3 when wire == 2: model.ProducerVersion = reader.String(); break;
                case 7 when wire == 2: model.Graph = Graph(reader.Message(), 0); break;
                case 8 when wire == 2:
                {
                    ProtoReader opset = reader.Message();
                    var import = new OnnxOpset();
                    while (opset.More)
                    {
                        (int f, int w) = opset.Tag();
                        if (f == 1 && w == 2) import.Domain = opset.String();
                        else if (f == 2 && w == 0) import.Version = opset.Int64();
                        else opset.Skip(w);
                    }
                    Add(model.Opsets, import, reader);
                    break;
                }
                default: reader.Skip(wire); break;
            }
        }
        if (model.Graph is null) throw new OnnxFormatException("the file has no graph (is it an ONNX model?)");
        return model;
    }

    private static OnnxGraph Graph(ProtoReader reader, int depth)
    {
        if (depth > MaxDepth) throw new OnnxFormatException($"graphs nest deeper than {MaxDepth} at byte {reader.Position}");
        var graph = new OnnxGraph();
        while (reader.More)
        {
            (int field, int wire) = reader.Tag();
            switch (field)
            {
                case 1 when wire == 2: Add(graph.Nodes, Node(reader.Message(), depth), reader); break;
                case 2 when wire == 2: graph.Name = reader.String(); break;
                case 5 when wire == 2: Add(graph.Initializers, Tensor(reader.Message()), reader); break;
                case 11 when wire == 2: Add(graph.Inputs, ValueInfo(reader.Message()), reader); break;
                case 12 when wire == 2: Add(graph.Outputs, ValueInfo(reader.Message()), reader); break;
                case 13 when wire == 2: Add(graph.ValueInfo, ValueInfo(reader.Message()), reader); break;
                default: reader.Skip(wire); break;
            }
        }
        return graph;
    }

    private static OnnxNode Node(ProtoReader reader, int depth)
    {
        var node = new OnnxNode();
        while (reader.More)
        {
            (int field, int wire) = reader.Tag();
            switch (field)
            {
                case 1 when wire == 2: Add(node.Inputs, reader.String(), reader); break;
                case 2 when wire == 2: Add(node.Outputs, reader.String(), reader); break;
                case 3 when wire == 2: node.Name = reader.String(); break;
                case 4 when wire == 2: node.OpType = reader.String(); break;
                case 7 when wire == 2: node.Domain = reader.String(); break;
                case 5 when wire == 2: Add(node.Attributes, Attribute(reader.Message(), depth), reader); break;
                default: reader.Skip(wire); break;
            }
        }
        return node;
    }

    private static OnnxAttribute Attribute(ProtoReader reader, int depth)
    {
        var attribute = new OnnxAttribute();
        while (reader.More)
        {
            (int field, int wire) = reader.Tag();
            switch (field)
            {
                case 1 when wire == 2: attribute.Name = reader.String(); break;
                case 20 when wire == 0: attribute.Type = (OnnxAttributeType)reader.Int32(); break;
                case 2 when wire == 5: attribute.F = reader.Float(); break;
                case 3 when wire == 0: attribute.I = reader.Int64(); break;
                case 4 when wire == 2: attribute.S = reader.Bytes(); break;
                case 5 when wire == 2: attribute.T = Tensor(reader.Message()); break;
                case 6 when wire == 2: attribute.G = Graph(reader.Message(), depth + 1); break;
                case 7: reader.Floats(wire, attribute.Floats); break;
                case 8: reader.Int64s(wire, attribute.Ints); break;
                case 9 when wire == 2: Add(attribute.Strings, reader.Bytes(), reader); break;
                default: reader.Skip(wire); break;
            }
        }
        return attribute;
    }

    private static OnnxTensor Tensor(ProtoReader reader)
    {
        var tensor = new OnnxTensor();
        while (reader.More)
        {
            (int field, int wire) = reader.Tag();
            switch (field)
            {
                case 1: reader.Int64s(wire, tensor.Dims); break;
                case 2 when wire == 0: tensor.DataType = (OnnxDataType)reader.Int32(); break;
                case 4:
                    // One packed run (what onnx.helper writes) is contiguous little-endian floats in the file, as raw data is.
                    tensor.FloatDataOffset = tensor.FloatData.Count == 0 ? reader.Floats(wire, tensor.FloatData) : Discard(reader.Floats(wire, tensor.FloatData));
                    break;
                case 5: reader.Int64s(wire, tensor.Int32Data); break;
                case 7: reader.Int64s(wire, tensor.Int64Data); break;
                case 8 when wire == 2: tensor.Name = reader.String(); break;
                case 9 when wire == 2: (tensor.RawOffset, tensor.RawLength) = reader.Span(); break;
                case 10: reader.Doubles(wire, tensor.DoubleData); break;
                case 13 when wire == 2:
                {
                    ProtoReader entry = reader.Message();
                    string key = "", value = "";
                    while (entry.More)
                    {
                        (int f, int w) = entry.Tag();
                        if (f == 1 && w == 2) key = entry.String();
                        else if (f == 2 && w == 2) value = entry.String();
                        else entry.Skip(w);
                    }
                    Add(tensor.ExternalData, new KeyValuePair<string, string>(key, value), reader);
                    break;
                }
                case 14 when wire == 0: tensor.External = reader.Int32() == 1; break;
                default: reader.Skip(wire); break;
            }
        }
        foreach (long d in tensor.Dims)
            if (d < 0) throw new OnnxFormatException($"tensor '{tensor.Name}' has a negative dimension ({d})");
        return tensor;
    }

    private static OnnxValueInfo ValueInfo(ProtoReader reader)
    {
        var info = new OnnxValueInfo();
        while (reader.More)
        {
            (int field, int wire) = reader.Tag();
            if (field == 1 && wire == 2) info.Name = reader.String();
            else if (field == 2 && wire == 2)
            {
                ProtoReader type = reader.Message();
                while (type.More)
                {
                    (int f, int w) = type.Tag();
                    if (f != 1 || w != 2) { type.Skip(w); continue; } // sequences, maps, optionals: not tensors
                    ProtoReader tensorType = type.Message();
                    while (tensorType.More)
                    {
                        (int tf, int tw) = tensorType.Tag();
                        if (tf == 1 && tw == 0) info.ElementType = (OnnxDataType)tensorType.Int32();
                        else if (tf == 2 && tw == 2)
                        {
                            info.Shape = new List<OnnxDimension>();
                            ProtoReader shape = tensorType.Message();
                            while (shape.More)
                            {
                                (int sf, int sw) = shape.Tag();
                                if (sf != 1 || sw != 2) { shape.Skip(sw); continue; }
                                ProtoReader dim = shape.Message();
                                var dimension = new OnnxDimension();
                                while (dim.More)
                                {
                                    (int df, int dw) = dim.Tag();
                                    if (df == 1 && dw == 0) dimension.Value = dim.Int64();
                                    else if (df == 2 && dw == 2) dimension.Parameter = dim.String();
                                    else dim.Skip(dw);
                                }
                                Add(info.Shape, dimension, shape);
                            }
                        }
                        else tensorType.Skip(tw);
                    }
                }
            }
            else reader.Skip(wire);
        }
        return info;
    }

    private static int Discard(int _) => -1;

    private static void Add<T>(List<T> list, T item, ProtoReader at)
    {
        if (list.Count >= MaxCount) throw new OnnxFormatException($"more than {MaxCount} elements in one field at byte {at.Position}");
        list.Add(item);
    }

    /// <summary>The protobuf wire format over a range of the file: every read is checked against the range's end.</summary>
    private struct ProtoReader
    {
        private readonly byte[] _bytes;
        private readonly int _end;
        private int _position;

        public ProtoReader(byte[] bytes, int start, int end)
        {
            _bytes = bytes;
            _position = start;
            _end = end;
        }

        public bool More => _position < _end;
        public int Position => _position;

        public (int Field, int Wire) Tag()
        {
            ulong tag = Varint();
            if (tag >> 3 == 0 || tag >> 3 > int.MaxValue) throw Error($"field number {tag >> 3}");
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_position >= _end) throw Error("a number runs past the end");
                byte b = _bytes[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0) return value;
            }
            throw Error("a number longer than 10 bytes");
        }

        public long Int64() => unchecked((long)Varint()); // protobuf's int64: the varint's bits, negative numbers included

        public int Int32() => unchecked((int)(long)Varint());

        public float Float()
        {
            Need(4);
            float value = BitConverter.ToSingle(_bytes, _position); // protobuf is little-endian, as are .NET's targets here
            _position += 4;
            return value;
        }

        public double Double()
        {
            Need(8);
            double value = BitConverter.ToDouble(_bytes, _position);
            _position += 8;
            return value;
        }

        /// <summary>A length-delimited field's range of the file.</summary>
        public (int Offset, int Length) Span()
        {
            ulong length = Varint();
            if (length > (ulong)(_end - _position)) throw Error($"a field of {length} bytes runs past the end");
            int offset = _position;
            _position += (int)length;
            return (offset, (int)length);
        }

        public ProtoReader Message()
        {
            (int offset, int length) = Span();
            return new ProtoReader(_bytes, offset, offset + length);
        }

        public byte[] Bytes()
        {
            (int offset, int length) = Span();
            var result = new byte[length];
            Array.Copy(_bytes, offset, result, 0, length);
            return result;
        }

        public string String()
        {
            (int offset, int length) = Span();
            return Encoding.UTF8.GetString(_bytes, offset, length);
        }

        /// <summary>A repeated float field: packed (wire type 2) or one value (wire type 5).</summary>
        /// <summary>A repeated float field: packed (wire type 2; returns where its floats start in the file) or one float (wire type 5; returns −1).</summary>
        public int Floats(int wire, List<float> into)
        {
            if (wire == 5) { Add(into, Float(), this); return -1; }
            if (wire != 2) throw Error($"a float list with wire type {wire}");
            ProtoReader packed = Message();
            int start = packed.Position;
            while (packed.More) Add(into, packed.Float(), this);
            return start;
        }

        public void Doubles(int wire, List<double> into)
        {
            if (wire == 1) { Add(into, Double(), this); return; }
            if (wire != 2) throw Error($"a double list with wire type {wire}");
            ProtoReader packed = Message();
            while (packed.More) Add(into, packed.Double(), this);
        }

        /// <summary>A repeated integer field: packed (wire type 2) or one varint (wire type 0).</summary>
        public void Int64s(int wire, List<long> into)
        {
            if (wire == 0) { Add(into, Int64(), this); return; }
            if (wire != 2) throw Error($"an integer list with wire type {wire}");
            ProtoReader packed = Message();
            while (packed.More) Add(into, packed.Int64(), this);
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Need(8); _position += 8; break;
                case 2: Span(); break;
                case 5: Need(4); _position += 4; break;
                default: throw Error($"wire type {wire}"); // 3 and 4 (groups) are not used by ONNX
            }
        }

        private void Need(int count)
        {
            if (_end - _position < count) throw Error($"{count} bytes needed, {_end - _position} left");
        }

        private OnnxFormatException Error(string what) => new($"malformed protobuf at byte {_position}: {what}");
    }
}

/// <summary>An ONNX model as <see cref="OnnxReader"/> reads it.</summary>
internal sealed class OnnxModel
{
    public long IrVersion { get; set; }
    public string ProducerName { get; set; } = "";
    public string ProducerVersion { get; set; } = "";
    public List<OnnxOpset> Opsets { get; } = new();
    public OnnxGraph Graph { get; set; } = null!;

    /// <summary>The default domain's opset version (0 when the model names none).</summary>
    public long DefaultOpset
    {
        get
        {
            foreach (OnnxOpset o in Opsets) if (o.Domain is "" or "ai.onnx") return o.Version;
            return 0;
        }
    }
}

internal sealed class OnnxOpset
{
    public string Domain { get; set; } = "";
    public long Version { get; set; }
}

internal sealed class OnnxGraph
{
    public string Name { get; set; } = "";
    public List<OnnxNode> Nodes { get; } = new();
    public List<OnnxTensor> Initializers { get; } = new();
    public List<OnnxValueInfo> Inputs { get; } = new();
    public List<OnnxValueInfo> Outputs { get; } = new();
    public List<OnnxValueInfo> ValueInfo { get; } = new();
}

internal sealed class OnnxNode
{
    public string Name { get; set; } = "";
    public string OpType { get; set; } = "";
    public string Domain { get; set; } = "";
    public List<string> Inputs { get; } = new();
    public List<string> Outputs { get; } = new();
    public List<OnnxAttribute> Attributes { get; } = new();
}

/// <summary>onnx.proto's AttributeProto.AttributeType.</summary>
internal enum OnnxAttributeType { Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5, Floats = 6, Ints = 7, Strings = 8, Tensors = 9, Graphs = 10, SparseTensor = 11, SparseTensors = 12, TypeProto = 13, TypeProtos = 14 }

internal sealed class OnnxAttribute
{
    public string Name { get; set; } = "";
    public OnnxAttributeType Type { get; set; }
    public float F { get; set; }
    public long I { get; set; }
    public byte[] S { get; set; } = Array.Empty<byte>();
    public OnnxTensor? T { get; set; }
    public OnnxGraph? G { get; set; }
    public List<float> Floats { get; } = new();
    public List<long> Ints { get; } = new();
    public List<byte[]> Strings { get; } = new();
}

/// <summary>onnx.proto's TensorProto.DataType (the ones a model's tensors commonly use).</summary>
internal enum OnnxDataType { Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9, Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, BFloat16 = 16 }

/// <summary>A TensorProto: its data stays in the file (<see cref="RawOffset"/>) unless it was written as typed lists.</summary>
internal sealed class OnnxTensor
{
    public string Name { get; set; } = "";
    public List<long> Dims { get; } = new();
    public OnnxDataType DataType { get; set; }
    public int RawOffset { get; set; } = -1;
    public int RawLength { get; set; }
    public List<float> FloatData { get; } = new();

    /// <summary>Where <see cref="FloatData"/> lies in the file when it was written as one packed run, else −1.</summary>
    public int FloatDataOffset { get; set; } = -1;
    public List<long> Int32Data { get; } = new();
    public List<long> Int64Data { get; } = new();
    public List<double> DoubleData { get; } = new();
    public bool External { get; set; }
    public List<KeyValuePair<string, string>> ExternalData { get; } = new();
}

internal sealed class OnnxValueInfo
{
    public string Name { get; set; } = "";
    public OnnxDataType ElementType { get; set; }

    /// <summary>The shape, or null when the model does not give one.</summary>
    public List<OnnxDimension>? Shape { get; set; }
}

/// <summary>A dimension: a number, or a symbolic name such as "batch" (<see cref="Parameter"/>), or neither (unknown).</summary>
internal sealed class OnnxDimension
{
    public long? Value { get; set; }
    public string? Parameter { get; set; }
}
