namespace ModelCompiler.Kernels;

/// <summary>
/// A file an ONNX model compiled without embedding its weights reads them from at start-up (the model file, or an
/// external data file): its name beside the application, and the length and FNV-1a hash it had at build time.
/// </summary>
public readonly record struct OnnxWeightsPart(string FileName, long Length, string Hash);

/// <summary>
/// A weight tensor of an ONNX model read from its file: <paramref name="Rows"/> × <paramref name="Columns"/>
/// little-endian float32 at byte <paramref name="Offset"/> of part <paramref name="File"/> (an initializer's raw data),
/// read as they are or, with <paramref name="Transposed"/>, as the [Columns, Rows] transpose the compiled model uses
/// (a MatMul's weight is stored [in, out], a Linear layer reads [out, in]).
/// </summary>
public readonly record struct OnnxWeightsTensor(string Name, int File, long Offset, int Rows, int Columns, bool Transposed);
