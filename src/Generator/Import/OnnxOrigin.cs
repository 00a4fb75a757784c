namespace ModelCompiler.Generator.Import;

/// <summary>
/// Where a float32 weight's bytes lie in the model's own files: a range of the ONNX file (<see cref="Location"/> null)
/// or of an external data file, <see cref="Rows"/> × <see cref="Columns"/> little-endian floats from
/// <see cref="Offset"/>, stored as they are or transposed into [Columns, Rows] (a MatMul's B, a Gemm's B without
/// transB). A weight with an origin need not be embedded: the runtime can read it from the file beside the application
/// (the file route safetensors weights have). A weight computed at build time has none.
/// </summary>
internal sealed record OnnxOrigin(string? Location, long Offset, long Rows, long Columns, bool Transposed)
{
    public long Count => Rows * Columns;

    /// <summary>
    /// The origin of the transpose of the [<paramref name="rows"/>, <paramref name="columns"/>] matrix these bytes read as:
    /// stored bytes read transposed, or a transposed read transposed back (the stored order again).
    /// </summary>
    public OnnxOrigin? Transpose(long rows, long columns) =>
        rows < 0 || columns < 0 || rows * columns != Count ? null
        : !Transposed ? this with { Rows = rows, Columns = columns, Transposed = true }
        : rows == Columns && columns == Rows ? this with { Rows = 1, Columns = Count, Transposed = false }
        : null;

    /// <summary><paramref name="count"/> elements from element <paramref name="start"/>; null when transposed or out of range.</summary>
    public OnnxOrigin? Slice(long start, long count) =>
        Transposed || start < 0 || count < 0 || start > Count - count ? null : this with { Offset = checked(Offset + 4 * start), Rows = 1, Columns = count };
}
