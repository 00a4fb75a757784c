using System;
using ModelCompiler.Generator.Graph;

namespace ModelCompiler.Generator.Ops;

/// <summary>
/// What an op's reference evaluation sees at build time (Int8Static calibration runs the float model on sample inputs):
/// the node, the values of every node before it for all the samples (double, each op rounding its outputs to float as
/// the eager reference does), and the weight tensors.
/// </summary>
internal sealed class EvaluationContext
{
    private readonly Func<string, float[]> _tensor;

    public EvaluationContext(Node node, ModelGraph graph, double[][] values, int samples, Func<string, float[]> tensor)
    {
        Node = node;
        Graph = graph;
        Values = values;
        Samples = samples;
        _tensor = tensor;
    }

    public Node Node { get; }
    public ModelGraph Graph { get; }

    /// <summary>Every node's values so far, for all samples (a constant's once); null for nodes not yet evaluated.</summary>
    public double[][] Values { get; }

    public int Samples { get; }

    /// <summary>The first input's values.</summary>
    public double[] X => Node.Inputs.Length > 0 ? Values[Node.Inputs[0]] : Array.Empty<double>();

    /// <summary>A weight tensor's values, row-major.</summary>
    public float[] Tensor(string name) => _tensor(name);

    public static float[] Floats(double[] values) => Array.ConvertAll(values, v => (float)v);

    public static double[] Doubles(float[] values) => Array.ConvertAll(values, v => (double)v);

    /// <summary>An element-wise function over every value, each result rounded to float.</summary>
    public static double[] Map(double[] x, Func<double, double> f)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = (float)f(x[i]);
        return y;
    }
}

/// <summary>A calibration input the model cannot run on (an id outside an embedding table): MC0012 with this message.</summary>
internal sealed class CalibrationInputException : Exception
{
    public CalibrationInputException(string message)
        : base(message)
    {
    }
}
