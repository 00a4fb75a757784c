using System;
using System.Diagnostics.CodeAnalysis;

namespace ModelCompiler.Kernels;

/// <summary>Run-time checks of the spans passed to a compiled model's <c>Predict</c>; nothing is written when one fails.</summary>
public static class PredictArguments
{
    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming <c>input</c> or <c>output</c> and the expected length when
    /// the spans do not hold exactly <paramref name="batch"/> samples, and
    /// <see cref="ArgumentOutOfRangeException"/> when <paramref name="batch"/> is not positive.
    /// </summary>
    public static void Validate(ReadOnlySpan<float> input, Span<float> output, int batch, int inputLength, int outputLength)
    {
        if (batch <= 0)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch size must be at least 1.");
        long expectedInput = (long)batch * inputLength, expectedOutput = (long)batch * outputLength;
        if (input.Length != expectedInput) ThrowLength("input", expectedInput, input.Length, batch, inputLength);
        if (output.Length != expectedOutput) ThrowLength("output", expectedOutput, output.Length, batch, outputLength);
        if (input.Overlaps(output))
            throw new ArgumentException("The output span must not overlap the input span.", "output");
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> when <paramref name="batch"/> is not positive.</summary>
    public static void ValidateBatch(int batch)
    {
        if (batch <= 0)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch size must be at least 1.");
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming <paramref name="parameter"/> when <paramref name="span"/> does not hold
    /// exactly <paramref name="batch"/> samples of <paramref name="perSample"/> floats (a model with several inputs or outputs).
    /// </summary>
    public static void ValidateLength(ReadOnlySpan<float> span, int batch, int perSample, string parameter)
    {
        long expected = (long)batch * perSample;
        if (span.Length != expected) ThrowLength(parameter, expected, span.Length, batch, perSample);
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="parameter"/> when the output <paramref name="output"/> overlaps <paramref name="other"/>.</summary>
    public static void ValidateApart(ReadOnlySpan<float> output, ReadOnlySpan<float> other, string parameter)
    {
        if (output.Overlaps(other))
            throw new ArgumentException($"The output span '{parameter}' must not overlap another input or output span.", parameter);
    }

    /// <summary><see cref="ValidateLength(ReadOnlySpan{float}, int, int, string)"/> for a span of another element type (an ONNX model's typed input or output).</summary>
    public static void ValidateLength<T>(ReadOnlySpan<T> span, int batch, int perSample, string parameter)
    {
        long expected = (long)batch * perSample;
        if (span.Length != expected) ThrowLength(parameter, expected, span.Length, batch, perSample);
    }

    /// <summary><see cref="ValidateApart(ReadOnlySpan{float}, ReadOnlySpan{float}, string)"/> for spans of any element types: their bytes must not overlap.</summary>
    public static void ValidateApart<TOutput, TOther>(ReadOnlySpan<TOutput> output, ReadOnlySpan<TOther> other, string parameter)
        where TOutput : unmanaged where TOther : unmanaged
    {
        if (System.Runtime.InteropServices.MemoryMarshal.AsBytes(output).Overlaps(System.Runtime.InteropServices.MemoryMarshal.AsBytes(other)))
            throw new ArgumentException($"The output span '{parameter}' must not overlap another input or output span.", parameter);
    }

    [DoesNotReturn]
    private static void ThrowLength(string parameter, long expected, int actual, int batch, int perSample) =>
        throw new ArgumentException(
            $"Expected {parameter} to hold {expected} floats ({batch} × {perSample}), but it holds {actual}.", parameter);
}
