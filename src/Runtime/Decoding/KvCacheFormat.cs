namespace ModelCompiler;

/// <summary>How a session's key/value cache stores each value.</summary>
public enum KvCacheFormat
{
    /// <summary>4 bytes a value: what the attention computes with, exactly.</summary>
    Float32,

    /// <summary>2 bytes a value (IEEE binary16, rounded to nearest even): half the memory, about 3 significant digits.</summary>
    Float16,

    /// <summary>
    /// 1 byte a value plus a float32 scale per head and position (symmetric, <c>max |x| / 127</c>, codes rounded to
    /// nearest): a quarter of the memory (plus 4 / head size), about 2 significant digits.
    /// </summary>
    Int8,
}
