using System;
using System.Runtime.CompilerServices;

namespace ModelCompiler.Kernels;

/// <summary>
/// One Winograd tile size for <see cref="WinogradConvolution"/>: its transforms written out as adds and multiply-adds
/// on vectors of tiles (the matrices, and the build-time filter transform, are <c>WinogradMatrices</c>'). The kernel is
/// instantiated per tile, so the JIT inlines these into its loops.
/// </summary>
internal interface IWinogradTile
{
    /// <summary>Outputs per tile side, m; a tile reads m + 2 rows and columns of the padded input.</summary>
    static abstract int Size { get; }

    /// <summary>Bᵀ down a column: the m + 2 vectors at <c>d + i·rowFloats</c> into <c>destination + i·rowFloats</c>.</summary>
    static abstract void Vertical<TLanes>(ref float d, nint rowFloats, ref float destination) where TLanes : struct, ILanes<TLanes>;

    /// <summary>
    /// · B along a row, a vector of tiles: tile column o of the tiles at <c>row + (o mod m)·phase + o / m</c> (the row's
    /// phases); V_q into <c>destination + q·pStride</c>.
    /// </summary>
    static abstract void Horizontal<TLanes>(ref float row, nint phase, ref float destination, nint pStride) where TLanes : struct, ILanes<TLanes>;

    /// <summary>
    /// Aᵀ M A for a vector of tiles (M_p at <c>m + p·stride</c>), plus <paramref name="bias"/>, through the epilogue: the
    /// first <paramref name="rows"/> of the m output rows, each <paramref name="count"/> values, at
    /// <c>destination + i·ow</c>; <paramref name="temp"/> has room for 32 vectors.
    /// </summary>
    static abstract void Output<TEpilogue, TLanes>(ref float m, nint stride, TLanes bias, ref float destination, int ow, int rows, int count, ref float temp)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>;
}

/// <summary>
/// F(2×2, 3×3): Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]], Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]
/// (Lavin and Gray). Its phases are a row's even and odd columns.
/// </summary>
internal readonly struct Tile2 : IWinogradTile
{
    public static int Size => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Vertical<TLanes>(ref float d, nint rowFloats, ref float destination) where TLanes : struct, ILanes<TLanes>
    {
        TLanes a = TLanes.Load(ref d), b = TLanes.Load(ref Unsafe.Add(ref d, rowFloats));
        TLanes e = TLanes.Load(ref Unsafe.Add(ref d, 2 * rowFloats)), f = TLanes.Load(ref Unsafe.Add(ref d, 3 * rowFloats));
        TLanes.Store(TLanes.Subtract(a, e), ref destination);
        TLanes.Store(TLanes.Add(b, e), ref Unsafe.Add(ref destination, rowFloats));
        TLanes.Store(TLanes.Subtract(e, b), ref Unsafe.Add(ref destination, 2 * rowFloats));
        TLanes.Store(TLanes.Subtract(b, f), ref Unsafe.Add(ref destination, 3 * rowFloats));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Horizontal<TLanes>(ref float row, nint phase, ref float destination, nint pStride) where TLanes : struct, ILanes<TLanes>
    {
        // Columns of the tile: E[tx], O[tx], E[tx + 1], O[tx + 1].
        TLanes c0 = TLanes.Load(ref row), c1 = TLanes.Load(ref Unsafe.Add(ref row, phase));
        TLanes c2 = TLanes.Load(ref Unsafe.Add(ref row, 1)), c3 = TLanes.Load(ref Unsafe.Add(ref row, phase + 1));
        TLanes.Store(TLanes.Subtract(c0, c2), ref destination);
        TLanes.Store(TLanes.Add(c1, c2), ref Unsafe.Add(ref destination, pStride));
        TLanes.Store(TLanes.Subtract(c2, c1), ref Unsafe.Add(ref destination, 2 * pStride));
        TLanes.Store(TLanes.Subtract(c1, c3), ref Unsafe.Add(ref destination, 3 * pStride));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Output<TEpilogue, TLanes>(ref float m, nint stride, TLanes bias, ref float destination, int ow, int rows, int count, ref float temp)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        TLanes m00 = TLanes.Load(ref m), m01 = TLanes.Load(ref Unsafe.Add(ref m, stride)), m02 = TLanes.Load(ref Unsafe.Add(ref m, 2 * stride)), m03 = TLanes.Load(ref Unsafe.Add(ref m, 3 * stride));
        TLanes m10 = TLanes.Load(ref Unsafe.Add(ref m, 4 * stride)), m11 = TLanes.Load(ref Unsafe.Add(ref m, 5 * stride)), m12 = TLanes.Load(ref Unsafe.Add(ref m, 6 * stride)), m13 = TLanes.Load(ref Unsafe.Add(ref m, 7 * stride));
        TLanes m20 = TLanes.Load(ref Unsafe.Add(ref m, 8 * stride)), m21 = TLanes.Load(ref Unsafe.Add(ref m, 9 * stride)), m22 = TLanes.Load(ref Unsafe.Add(ref m, 10 * stride)), m23 = TLanes.Load(ref Unsafe.Add(ref m, 11 * stride));
        TLanes m30 = TLanes.Load(ref Unsafe.Add(ref m, 12 * stride)), m31 = TLanes.Load(ref Unsafe.Add(ref m, 13 * stride)), m32 = TLanes.Load(ref Unsafe.Add(ref m, 14 * stride)), m33 = TLanes.Load(ref Unsafe.Add(ref m, 15 * stride));
        // S = Aᵀ M (two rows), then Y = S A (two columns).
        TLanes s00 = TLanes.Add(TLanes.Add(m00, m10), m20), s01 = TLanes.Add(TLanes.Add(m01, m11), m21);
        TLanes s02 = TLanes.Add(TLanes.Add(m02, m12), m22), s03 = TLanes.Add(TLanes.Add(m03, m13), m23);
        TLanes s10 = TLanes.Subtract(TLanes.Subtract(m10, m20), m30);
        TLanes s11 = TLanes.Subtract(TLanes.Subtract(m11, m21), m31);
        TLanes s12 = TLanes.Subtract(TLanes.Subtract(m12, m22), m32);
        TLanes s13 = TLanes.Subtract(TLanes.Subtract(m13, m23), m33);
        TLanes y00 = TLanes.Apply<TEpilogue>(TLanes.Add(TLanes.Add(TLanes.Add(s00, s01), s02), bias));
        TLanes y01 = TLanes.Apply<TEpilogue>(TLanes.Add(TLanes.Subtract(TLanes.Subtract(s01, s02), s03), bias));
        TLanes.StoreInterleaved(y00, y01, ref destination, count, ref temp);
        if (rows < 2) return;
        TLanes y10 = TLanes.Apply<TEpilogue>(TLanes.Add(TLanes.Add(TLanes.Add(s10, s11), s12), bias));
        TLanes y11 = TLanes.Apply<TEpilogue>(TLanes.Add(TLanes.Subtract(TLanes.Subtract(s11, s12), s13), bias));
        TLanes.StoreInterleaved(y10, y11, ref Unsafe.Add(ref destination, ow), count, ref temp);
    }
}

/// <summary>
/// F(4×4, 3×3) with the points 0, ±1, ±2, ∞ (Lavin and Gray; NNPACK's and ncnn's): Bᵀ = [[4, 0, −5, 0, 1, 0],
/// [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0], [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]],
/// Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]. Its phases are a row's
/// columns modulo 4, so a tile's six columns are P₀..P₃ at its index and P₀, P₁ at the next.
/// </summary>
internal readonly struct Tile4 : IWinogradTile
{
    public static int Size => 4;

    /// <summary>Bᵀ d for one column of six, shared terms first (ncnn's order): 14 operations for six values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Input<TLanes>(TLanes d0, TLanes d1, TLanes d2, TLanes d3, TLanes d4, TLanes d5,
        out TLanes v0, out TLanes v1, out TLanes v2, out TLanes v3, out TLanes v4, out TLanes v5)
        where TLanes : struct, ILanes<TLanes>
    {
        TLanes four = TLanes.Broadcast(4f), minusFour = TLanes.Broadcast(-4f), minusFive = TLanes.Broadcast(-5f);
        v0 = TLanes.MultiplyAdd(four, d0, TLanes.MultiplyAdd(minusFive, d2, d4));
        v5 = TLanes.MultiplyAdd(four, d1, TLanes.MultiplyAdd(minusFive, d3, d5));
        TLanes t0 = TLanes.MultiplyAdd(minusFour, d2, d4), t1 = TLanes.MultiplyAdd(minusFour, d1, d3);
        v1 = TLanes.Add(t0, t1);
        v2 = TLanes.Subtract(t0, t1);
        TLanes t2 = TLanes.Subtract(d4, d2), t3 = TLanes.Subtract(d3, d1);
        t3 = TLanes.Add(t3, t3);
        v3 = TLanes.Add(t2, t3);
        v4 = TLanes.Subtract(t2, t3);
    }

    /// <summary>Aᵀ m for one column of six: four values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Outputs<TLanes>(TLanes m0, TLanes m1, TLanes m2, TLanes m3, TLanes m4, TLanes m5,
        out TLanes y0, out TLanes y1, out TLanes y2, out TLanes y3)
        where TLanes : struct, ILanes<TLanes>
    {
        TLanes s12 = TLanes.Add(m1, m2), d12 = TLanes.Subtract(m1, m2), s34 = TLanes.Add(m3, m4), d34 = TLanes.Subtract(m3, m4);
        y0 = TLanes.Add(TLanes.Add(m0, s12), s34);
        y1 = TLanes.MultiplyAdd(TLanes.Broadcast(2f), d34, d12);
        y2 = TLanes.MultiplyAdd(TLanes.Broadcast(4f), s34, s12);
        y3 = TLanes.Add(TLanes.MultiplyAdd(TLanes.Broadcast(8f), d34, d12), m5);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Vertical<TLanes>(ref float d, nint rowFloats, ref float destination) where TLanes : struct, ILanes<TLanes>
    {
        Input(TLanes.Load(ref d), TLanes.Load(ref Unsafe.Add(ref d, rowFloats)), TLanes.Load(ref Unsafe.Add(ref d, 2 * rowFloats)),
            TLanes.Load(ref Unsafe.Add(ref d, 3 * rowFloats)), TLanes.Load(ref Unsafe.Add(ref d, 4 * rowFloats)), TLanes.Load(ref Unsafe.Add(ref d, 5 * rowFloats)),
            out TLanes v0, out TLanes v1, out TLanes v2, out TLanes v3, out TLanes v4, out TLanes v5);
        Store(v0, v1, v2, v3, v4, v5, ref destination, rowFloats);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Horizontal<TLanes>(ref float row, nint phase, ref float destination, nint pStride) where TLanes : struct, ILanes<TLanes>
    {
        // Columns of the tile: P₀[tx], P₁[tx], P₂[tx], P₃[tx], P₀[tx + 1], P₁[tx + 1].
        Input(TLanes.Load(ref row), TLanes.Load(ref Unsafe.Add(ref row, phase)), TLanes.Load(ref Unsafe.Add(ref row, 2 * phase)),
            TLanes.Load(ref Unsafe.Add(ref row, 3 * phase)), TLanes.Load(ref Unsafe.Add(ref row, 1)), TLanes.Load(ref Unsafe.Add(ref row, phase + 1)),
            out TLanes v0, out TLanes v1, out TLanes v2, out TLanes v3, out TLanes v4, out TLanes v5);
        Store(v0, v1, v2, v3, v4, v5, ref destination, pStride);
    }

    /// <summary>Six vectors at <c>destination + i·step</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TLanes>(TLanes v0, TLanes v1, TLanes v2, TLanes v3, TLanes v4, TLanes v5, ref float destination, nint step)
        where TLanes : struct, ILanes<TLanes>
    {
        TLanes.Store(v0, ref destination);
        TLanes.Store(v1, ref Unsafe.Add(ref destination, step));
        TLanes.Store(v2, ref Unsafe.Add(ref destination, 2 * step));
        TLanes.Store(v3, ref Unsafe.Add(ref destination, 3 * step));
        TLanes.Store(v4, ref Unsafe.Add(ref destination, 4 * step));
        TLanes.Store(v5, ref Unsafe.Add(ref destination, 5 * step));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Output<TEpilogue, TLanes>(ref float m, nint stride, TLanes bias, ref float destination, int ow, int rows, int count, ref float temp)
        where TEpilogue : struct, IUnaryOperator
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count;
        // S = Aᵀ M, column by column into temp (4 rows × 6 columns of vectors: 24 live vectors would not fit in registers).
        for (int j = 0; j < 6; j++)
        {
            ref float column = ref Unsafe.Add(ref m, j * stride);
            Outputs(TLanes.Load(ref column), TLanes.Load(ref Unsafe.Add(ref column, 6 * stride)), TLanes.Load(ref Unsafe.Add(ref column, 12 * stride)),
                TLanes.Load(ref Unsafe.Add(ref column, 18 * stride)), TLanes.Load(ref Unsafe.Add(ref column, 24 * stride)), TLanes.Load(ref Unsafe.Add(ref column, 30 * stride)),
                out TLanes s0, out TLanes s1, out TLanes s2, out TLanes s3);
            TLanes.Store(s0, ref Unsafe.Add(ref temp, j * lanes));
            TLanes.Store(s1, ref Unsafe.Add(ref temp, (6 + j) * lanes));
            TLanes.Store(s2, ref Unsafe.Add(ref temp, (12 + j) * lanes));
            TLanes.Store(s3, ref Unsafe.Add(ref temp, (18 + j) * lanes));
        }
        // Y = S A, row by row, each row's four columns interleaved into the output row.
        ref float interleave = ref Unsafe.Add(ref temp, 24 * lanes);
        for (int i = 0; i < rows; i++)
        {
            ref float s = ref Unsafe.Add(ref temp, 6 * i * lanes);
            Outputs(TLanes.Load(ref s), TLanes.Load(ref Unsafe.Add(ref s, lanes)), TLanes.Load(ref Unsafe.Add(ref s, 2 * lanes)),
                TLanes.Load(ref Unsafe.Add(ref s, 3 * lanes)), TLanes.Load(ref Unsafe.Add(ref s, 4 * lanes)), TLanes.Load(ref Unsafe.Add(ref s, 5 * lanes)),
                out TLanes y0, out TLanes y1, out TLanes y2, out TLanes y3);
            StoreInterleaved4(TLanes.Apply<TEpilogue>(TLanes.Add(y0, bias)), TLanes.Apply<TEpilogue>(TLanes.Add(y1, bias)),
                TLanes.Apply<TEpilogue>(TLanes.Add(y2, bias)), TLanes.Apply<TEpilogue>(TLanes.Add(y3, bias)),
                ref Unsafe.Add(ref destination, i * ow), count, ref interleave);
        }
    }

    /// <summary>
    /// Stores four vectors interleaved (a₀ b₀ c₀ d₀ a₁ …), the first <paramref name="count"/> of the 4·Count values, as two
    /// levels of pairs: (a, c) and (b, d) into <paramref name="temp"/>, then their halves paired; temp has room for six vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreInterleaved4<TLanes>(TLanes a, TLanes b, TLanes c, TLanes d, ref float destination, int count, ref float temp)
        where TLanes : struct, ILanes<TLanes>
    {
        int lanes = TLanes.Count;
        TLanes.StoreInterleaved(a, c, ref temp, 2 * lanes, ref temp);
        TLanes.StoreInterleaved(b, d, ref Unsafe.Add(ref temp, 2 * lanes), 2 * lanes, ref temp);
        TLanes acLow = TLanes.Load(ref temp), acHigh = TLanes.Load(ref Unsafe.Add(ref temp, lanes));
        TLanes bdLow = TLanes.Load(ref Unsafe.Add(ref temp, 2 * lanes)), bdHigh = TLanes.Load(ref Unsafe.Add(ref temp, 3 * lanes));
        ref float partial = ref Unsafe.Add(ref temp, 4 * lanes);
        TLanes.StoreInterleaved(acLow, bdLow, ref destination, Math.Min(count, 2 * lanes), ref partial);
        if (count > 2 * lanes) TLanes.StoreInterleaved(acHigh, bdHigh, ref Unsafe.Add(ref destination, 2 * lanes), count - 2 * lanes, ref partial);
    }
}
