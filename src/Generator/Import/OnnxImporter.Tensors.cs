// Tensor data: initializers and Constant values, raw or listed, in the file or in an external data file.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace ModelCompiler.Generator.Import;

internal static partial class OnnxImporter
{
    private sealed partial class Lowering
    {
        /// <summary>
        /// A tensor's data: float32 and float64 as floats, every integer type and bool as int64s; raw bytes, typed lists,
        /// or a range of an external data file beside the model. Other types are kept unread: only an error if a node
        /// reads them.
        /// </summary>
        private OnnxConstant Read(OnnxTensor t, OnnxNode? node)
        {
            OnnxConstant c = ReadData(t, node, out OnnxOrigin? origin);
            return new OnnxConstant(c.Dims, c.Floats, c.Longs, c.Batch) { Type = t.DataType, Origin = origin };
        }

        /// <param name="origin">Where raw float32 data lies in the model's files (for the file route), else null.</param>
        private OnnxConstant ReadData(OnnxTensor t, OnnxNode? node, out OnnxOrigin? origin)
        {
            long[] dims = t.Dims.ToArray();
            long count = 1;
            foreach (long d in dims)
            {
                if (d < 0) throw Fail($"tensor '{t.Name}' has a negative dimension");
                count *= d;
                if (count > int.MaxValue / 8) throw Fail($"tensor '{t.Name}' is too large");
            }
            int size = t.DataType switch
            {
                OnnxDataType.Float or OnnxDataType.Int32 or OnnxDataType.UInt32 => 4,
                OnnxDataType.Double or OnnxDataType.Int64 or OnnxDataType.UInt64 => 8,
                OnnxDataType.Int8 or OnnxDataType.UInt8 or OnnxDataType.Bool => 1,
                OnnxDataType.Int16 or OnnxDataType.UInt16 => 2,
                _ => 0,
            };
            origin = null;
            if (size == 0) return new OnnxConstant(dims, null, null);
            byte[] data = _bytes;
            int offset = t.RawOffset, length = t.RawLength;
            string? location = null;
            if (t.External || t.ExternalData.Count > 0)
            {
                (data, offset, length, location) = External(t);
                if (length != count * size) throw Fail($"tensor '{t.Name}' has {length} bytes in its external file, but [{string.Join(", ", dims)}] {t.DataType} take {count * size}");
            }
            else if (offset >= 0 && length != count * size) throw Fail($"tensor '{t.Name}' holds {length} bytes, but [{string.Join(", ", dims)}] {t.DataType} take {count * size}");
            int n = (int)count;
            if (offset >= 0)
            {
                switch (t.DataType)
                {
                    case OnnxDataType.Float:
                    {
                        var values = new float[n];
                        Buffer.BlockCopy(data, offset, values, 0, length);
                        origin = new OnnxOrigin(location, offset, 1, n, false);
                        return new OnnxConstant(dims, values, null);
                    }
                    case OnnxDataType.Double:
                        return new OnnxConstant(dims, Enumerable.Range(0, n).Select(i => (float)BitConverter.ToDouble(data, offset + 8 * i)).ToArray(), null);
                    default:
                        return new OnnxConstant(dims, null, Enumerable.Range(0, n).Select(i => t.DataType switch
                        {
                            OnnxDataType.Int64 or OnnxDataType.UInt64 => BitConverter.ToInt64(data, offset + 8 * i),
                            OnnxDataType.Int32 => BitConverter.ToInt32(data, offset + 4 * i),
                            OnnxDataType.UInt32 => (long)BitConverter.ToUInt32(data, offset + 4 * i),
                            OnnxDataType.Int16 => BitConverter.ToInt16(data, offset + 2 * i),
                            OnnxDataType.UInt16 => BitConverter.ToUInt16(data, offset + 2 * i),
                            OnnxDataType.Int8 => unchecked((sbyte)data[offset + i]),
                            _ => (long)data[offset + i],
                        }).ToArray());
                }
            }
            // Typed lists: floats in float_data, doubles in double_data, 64-bit integers in int64_data, the rest in int32_data.
            int listed = t.DataType switch
            {
                OnnxDataType.Float => t.FloatData.Count,
                OnnxDataType.Double => t.DoubleData.Count,
                OnnxDataType.Int64 or OnnxDataType.UInt64 => t.Int64Data.Count,
                _ => t.Int32Data.Count,
            };
            if (listed != count) throw Fail($"tensor '{t.Name}' lists {listed} values, but [{string.Join(", ", dims)}] takes {count}");
            if (t.DataType == OnnxDataType.Float && t.FloatDataOffset >= 0) origin = new OnnxOrigin(null, t.FloatDataOffset, 1, n, false);
            return t.DataType switch
            {
                OnnxDataType.Float => new OnnxConstant(dims, t.FloatData.ToArray(), null),
                OnnxDataType.Double => new OnnxConstant(dims, t.DoubleData.Select(v => (float)v).ToArray(), null),
                OnnxDataType.Int64 or OnnxDataType.UInt64 => new OnnxConstant(dims, null, t.Int64Data.ToArray()),
                // int32_data holds each small integer widened; a value out of its type's range is read as the bits it keeps (as protobuf does).
                OnnxDataType.Int8 => new OnnxConstant(dims, null, t.Int32Data.Select(v => unchecked((long)(sbyte)v)).ToArray()),
                _ => new OnnxConstant(dims, null, t.Int32Data.Select(v => t.DataType == OnnxDataType.Int32 ? unchecked((long)(int)v) : v).ToArray()),
            };
        }

        /// <summary>Where an external tensor's bytes are: the file's bytes, offset, length and location (relative to the model).</summary>
        private (byte[] Data, int Offset, int Length, string Location) External(OnnxTensor t)
        {
            string? location = null;
            long offset = 0, length = -1;
            foreach (KeyValuePair<string, string> pair in t.ExternalData)
            {
                switch (pair.Key)
                {
                    case "location": location = pair.Value; break;
                    case "offset" when long.TryParse(pair.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long o): offset = o; break;
                    case "length" when long.TryParse(pair.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long l): length = l; break;
                    case "offset" or "length": throw Fail($"tensor '{t.Name}' has external {pair.Key} '{pair.Value}', not a number");
                }
            }
            if (location is null || location.Length == 0) throw Fail($"tensor '{t.Name}' keeps its data in an external file but names none");
            if (_external is null) throw Fail($"tensor '{t.Name}' keeps its data in '{location}', which cannot be read here");
            byte[] file;
            try
            {
                file = _external(location);
            }
            catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw Fail($"tensor '{t.Name}' keeps its data in '{location}': {e.Message}");
            }
            if (length < 0) length = file.Length - offset;
            if (offset < 0 || offset > file.Length || length > file.Length - offset)
                throw Fail($"tensor '{t.Name}' reads bytes {offset}..{offset + length} of '{location}', which has {file.Length}");
            return (file, (int)offset, (int)length, location);
        }

        /// <summary>A float32 matrix transposed; where its bytes lie in the model's files goes with it.</summary>
        private static OnnxConstant TransposedMatrix(OnnxConstant c) =>
            new(new[] { c.Dims[1], c.Dims[0] }, Transpose(c.Floats!, (int)c.Dims[0], (int)c.Dims[1]), null) { Origin = c.Origin?.Transpose(c.Dims[0], c.Dims[1]) };

        private static float[] Transpose(float[] values, int rows, int columns)
        {
            var result = new float[values.Length];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++) result[c * rows + r] = values[r * columns + c];
            return result;
        }
    }
}
