using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelCompiler.Kernels;

/// <summary>A binary element-wise op between two tensors with NumPy broadcasting.</summary>
public static class Broadcast
{
    /// <summary>
    /// Effectively computes <c>c[r, i…] = TOperator(a[r·aStrides[0] + i·aStrides[1..]], b[…])</c> for every row
    /// <c>r &lt; rows</c> and every index <c>i</c> of <paramref name="sampleShape"/>; a stride of 0 broadcasts that
    /// dimension (a weight tensor has row stride 0). <paramref name="c"/> is dense (row-major). The innermost
    /// dimension is vectorized when both operands are contiguous there or one of them is broadcast.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Run<TOperator>(ref float a, ReadOnlySpan<int> aStrides, ref float b, ReadOnlySpan<int> bStrides,
        ref float c, nint rows, ReadOnlySpan<int> sampleShape)
        where TOperator : struct, IBinaryOperator =>
        Run<TOperator, IdentityOperator>(ref a, aStrides, ref b, bStrides, ref c, rows, sampleShape);

    /// <summary>
    /// <see cref="Run{TOperator}"/> with <typeparamref name="TEpilogue"/> applied to each result as it is stored (a
    /// residual connection's ReLU, say): <c>c = TEpilogue(TOperator(a, b))</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Run<TOperator, TEpilogue>(ref float a, ReadOnlySpan<int> aStrides, ref float b, ReadOnlySpan<int> bStrides,
        ref float c, nint rows, ReadOnlySpan<int> sampleShape, KernelWorkers? workers = null)
        where TOperator : struct, IBinaryOperator
        where TEpilogue : struct, IUnaryOperator
    {
        nint perSample = 1;
        foreach (int d in sampleShape) perSample *= d;
        workers = sampleShape.Length == 0 ? null : KernelWorkers.For(workers, rows * perSample);
        if (workers is not null)
        {
            // Shared among threads by runs of the outermost dimension (of every row): pinned, as the parts hold pointers.
            fixed (float* pa = &a, pb = &b, pc = &c)
            fixed (int* sa = aStrides, sb = bStrides, shape = sampleShape)
            {
                var outer = new Outer<TOperator, TEpilogue> { A = pa, B = pb, C = pc, AStrides = sa, BStrides = sb, Shape = shape, Dims = sampleShape.Length, PerSample = perSample };
                KernelWorkers.Split(workers, checked((int)(rows * sampleShape[0])), outer, null, 0);
            }
            return;
        }
        for (nint r = 0; r < rows; r++)
        {
            Dimension<TOperator, TEpilogue>(ref Unsafe.Add(ref a, r * aStrides[0]), aStrides.Slice(1), ref Unsafe.Add(ref b, r * bStrides[0]), bStrides.Slice(1),
                ref Unsafe.Add(ref c, r * perSample), sampleShape);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dimension<TOperator, TEpilogue>(ref float a, ReadOnlySpan<int> aStrides, ref float b, ReadOnlySpan<int> bStrides,
        ref float c, ReadOnlySpan<int> shape)
        where TOperator : struct, IBinaryOperator
        where TEpilogue : struct, IUnaryOperator
    {
        if (shape.Length == 0)
        {
            c = TEpilogue.Invoke(TOperator.Invoke(a, b));
            return;
        }
        if (shape.Length == 1 && aStrides[0] == 0 && bStrides[0] == 0)
        {
            MemoryMarshal.CreateSpan(ref c, shape[0]).Fill(TEpilogue.Invoke(TOperator.Invoke(a, b)));
            return;
        }
        if (shape.Length == 1)
        {
            Inner<TOperator, TEpilogue>(ref a, aStrides[0], ref b, bStrides[0], ref c, shape[0]);
            return;
        }
        if (aStrides[0] == 0 && bStrides[0] == 0 && shape[0] > 1)
        {
            // Neither operand moves along this dimension (an upsampling's repeat, once its zeros are read as one value): the
            // first slice computed, then copied.
            nint slice = 1;
            for (int d = 1; d < shape.Length; d++) slice *= shape[d];
            Dimension<TOperator, TEpilogue>(ref a, aStrides.Slice(1), ref b, bStrides.Slice(1), ref c, shape.Slice(1));
            var first = MemoryMarshal.CreateReadOnlySpan(ref c, checked((int)slice));
            for (nint i = 1; i < shape[0]; i++) first.CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref c, i * slice), (int)slice));
            return;
        }
        if (shape.Length == 2 && (shape[1] < ShortRow || IsRepeat(aStrides[0], aStrides[1], bStrides[0], bStrides[1], shape[1])))
        {
            // Rows shorter than a vector (a nearest-neighbour upsampling written as a broadcast against [.., s, 1, s]
            // zeros, say): one flat loop over both dimensions, not a call per row.
            Short<TOperator, TEpilogue>(ref a, aStrides[0], aStrides[1], ref b, bStrides[0], bStrides[1], ref c, shape[0], shape[1]);
            return;
        }
        nint inner = 1;
        for (int d = 1; d < shape.Length; d++) inner *= shape[d];
        for (nint i = 0; i < shape[0]; i++)
        {
            Dimension<TOperator, TEpilogue>(ref Unsafe.Add(ref a, i * aStrides[0]), aStrides.Slice(1), ref Unsafe.Add(ref b, i * bStrides[0]), bStrides.Slice(1),
                ref Unsafe.Add(ref c, i * inner), shape.Slice(1));
        }
    }

    /// <summary>
    /// Units <c>[first, last)</c> of a shared call, unit u being row u / shape[0]'s index u % shape[0] of the outermost
    /// dimension: consecutive units of one row go to <see cref="Dimension"/> as one run.
    /// </summary>
    private unsafe struct Outer<TOperator, TEpilogue> : KernelWorkers.IChunks
        where TOperator : struct, IBinaryOperator
        where TEpilogue : struct, IUnaryOperator
    {
        public float* A, B, C;
        public int* AStrides, BStrides, Shape;
        public int Dims;
        public nint PerSample;

        public readonly void Run(int first, int last, float* scratch)
        {
            var aStrides = new ReadOnlySpan<int>(AStrides, Dims + 1);
            var bStrides = new ReadOnlySpan<int>(BStrides, Dims + 1);
            Span<int> run = stackalloc int[Dims];
            new ReadOnlySpan<int>(Shape, Dims).CopyTo(run);
            int outer = run[0];
            nint inner = PerSample / outer;
            for (int u = first; u < last;)
            {
                int r = u / outer, i = u % outer, count = Math.Min(last - u, outer - i);
                run[0] = count;
                Dimension<TOperator, TEpilogue>(ref *(A + r * (nint)aStrides[0] + i * (nint)aStrides[1]), aStrides.Slice(1),
                    ref *(B + r * (nint)bStrides[0] + i * (nint)bStrides[1]), bStrides.Slice(1), ref *(C + r * PerSample + i * inner), run);
                u += count;
            }
        }
    }

    /// <summary>Innermost rows shorter than this go through <see cref="Short{TOperator, TEpilogue}"/>.</summary>
    private const int ShortRow = 8;

    /// <summary>
    /// Whether rows of <paramref name="s"/> repeat one value of a against the same s values of b (strides 1, 0 and 0, 1) or
    /// against one value of b (0, 0), with s 2 or a multiple of 4 up to 64, so that <see cref="Short"/> writes them a vector
    /// at a time.
    /// </summary>
    private static bool IsRepeat(nint pa, nint qa, nint pb, nint qb, nint s) =>
        Vector128.IsHardwareAccelerated && pa == 1 && qa == 0 && pb == 0 && qb is 0 or 1 && (s == 2 || s % 4 == 0 && s <= 64);

    /// <summary><c>c[i, j] = TEpilogue(TOperator(a[i·pa + j·qa], b[i·pb + j·qb]))</c> over <c>[m, s]</c>, <c>c</c> dense.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Short<TOperator, TEpilogue>(ref float a, nint pa, nint qa, ref float b, nint pb, nint qb, ref float c, nint m, nint s)
        where TOperator : struct, IBinaryOperator
        where TEpilogue : struct, IUnaryOperator
    {
        nint i = 0;
        if (IsRepeat(pa, qa, pb, qb, s))
        {
            // Each value of a repeated s times against the same s values of b (a nearest-neighbour upsampling by 2, 4, 8, …:
            // x [.., W, 1] + zeros [.., 1, s]): whole vectors of outputs, each value spread by a shuffle or a broadcast.
            Vector128<float> pattern = qb == 0 ? Vector128.Create(b) : s == 2 ? Vector128.Create(b, Unsafe.Add(ref b, 1), b, Unsafe.Add(ref b, 1)) : Vector128.LoadUnsafe(ref b);
            if (s == 2)
            {
                for (; i + 4 <= m; i += 4)
                {
                    Vector128<float> v = Vector128.LoadUnsafe(ref a, (nuint)i);
                    TEpilogue.Invoke(TOperator.Invoke(Vector128.Shuffle(v, Vector128.Create(0, 0, 1, 1)), pattern)).StoreUnsafe(ref c, (nuint)(2 * i));
                    TEpilogue.Invoke(TOperator.Invoke(Vector128.Shuffle(v, Vector128.Create(2, 2, 3, 3)), pattern)).StoreUnsafe(ref c, (nuint)(2 * i + 4));
                }
            }
            else
            {
                for (; i < m; i++)
                {
                    Vector128<float> v = Vector128.Create(Unsafe.Add(ref a, i));
                    for (nint t = 0; t < s; t += 4)
                        TEpilogue.Invoke(TOperator.Invoke(v, qb == 0 ? pattern : Vector128.LoadUnsafe(ref b, (nuint)t))).StoreUnsafe(ref c, (nuint)(s * i + t));
                }
            }
        }
        for (; i < m; i++)
        {
            ref float ai = ref Unsafe.Add(ref a, i * pa);
            ref float bi = ref Unsafe.Add(ref b, i * pb);
            ref float ci = ref Unsafe.Add(ref c, i * s);
            for (nint j = 0; j < s; j++)
                Unsafe.Add(ref ci, j) = TEpilogue.Invoke(TOperator.Invoke(Unsafe.Add(ref ai, j * qa), Unsafe.Add(ref bi, j * qb)));
        }
    }

    /// <summary>
    /// One row: vectorized when each operand is contiguous (stride 1) or one value (stride 0), each case its own loop so
    /// no lane tests a stride.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Inner<TOperator, TEpilogue>(ref float a, nint sa, ref float b, nint sb, ref float c, nint n)
        where TOperator : struct, IBinaryOperator
        where TEpilogue : struct, IUnaryOperator
    {
        nint i = 0;
        if (sa is 0 or 1 && sb is 0 or 1 && (sa | sb) != 0)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                if (sa == 1 && sb == 1)
                    for (; i + 16 <= n; i += 16)
                        TEpilogue.Invoke(TOperator.Invoke(Vector512.LoadUnsafe(ref a, (nuint)i), Vector512.LoadUnsafe(ref b, (nuint)i))).StoreUnsafe(ref c, (nuint)i);
                else if (sa == 1)
                {
                    Vector512<float> y = Vector512.Create(b);
                    for (; i + 16 <= n; i += 16) TEpilogue.Invoke(TOperator.Invoke(Vector512.LoadUnsafe(ref a, (nuint)i), y)).StoreUnsafe(ref c, (nuint)i);
                }
                else
                {
                    Vector512<float> x = Vector512.Create(a);
                    for (; i + 16 <= n; i += 16) TEpilogue.Invoke(TOperator.Invoke(x, Vector512.LoadUnsafe(ref b, (nuint)i))).StoreUnsafe(ref c, (nuint)i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                if (sa == 1 && sb == 1)
                    for (; i + 8 <= n; i += 8)
                        TEpilogue.Invoke(TOperator.Invoke(Vector256.LoadUnsafe(ref a, (nuint)i), Vector256.LoadUnsafe(ref b, (nuint)i))).StoreUnsafe(ref c, (nuint)i);
                else if (sa == 1)
                {
                    Vector256<float> y = Vector256.Create(b);
                    for (; i + 8 <= n; i += 8) TEpilogue.Invoke(TOperator.Invoke(Vector256.LoadUnsafe(ref a, (nuint)i), y)).StoreUnsafe(ref c, (nuint)i);
                }
                else
                {
                    Vector256<float> x = Vector256.Create(a);
                    for (; i + 8 <= n; i += 8) TEpilogue.Invoke(TOperator.Invoke(x, Vector256.LoadUnsafe(ref b, (nuint)i))).StoreUnsafe(ref c, (nuint)i);
                }
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                if (sa == 1 && sb == 1)
                    for (; i + 4 <= n; i += 4)
                        TEpilogue.Invoke(TOperator.Invoke(Vector128.LoadUnsafe(ref a, (nuint)i), Vector128.LoadUnsafe(ref b, (nuint)i))).StoreUnsafe(ref c, (nuint)i);
                else if (sa == 1)
                {
                    Vector128<float> y = Vector128.Create(b);
                    for (; i + 4 <= n; i += 4) TEpilogue.Invoke(TOperator.Invoke(Vector128.LoadUnsafe(ref a, (nuint)i), y)).StoreUnsafe(ref c, (nuint)i);
                }
                else
                {
                    Vector128<float> x = Vector128.Create(a);
                    for (; i + 4 <= n; i += 4) TEpilogue.Invoke(TOperator.Invoke(x, Vector128.LoadUnsafe(ref b, (nuint)i))).StoreUnsafe(ref c, (nuint)i);
                }
            }
        }
        for (; i < n; i++) Unsafe.Add(ref c, i) = TEpilogue.Invoke(TOperator.Invoke(Unsafe.Add(ref a, i * sa), Unsafe.Add(ref b, i * sb)));
    }
}
