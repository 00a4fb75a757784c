using System;
using System.Globalization;
using System.Text;
using System.Threading;

namespace Serving;

/// <summary>
/// Counters and a latency histogram, written in Prometheus' text format for <c>/metrics</c> (so any scraper reads them
/// without a client library in the sample). Lock-free: each update is an interlocked add.
/// </summary>
public sealed class ServingMetrics
{
    // Request latency buckets (seconds), queueing included: 50 µs to 1 s.
    private static readonly double[] Buckets = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 };
    private readonly long[] _bucketCounts = new long[Buckets.Length];
    private long _requests, _failed, _batches, _batchRows, _latencyMicros;

    public long Requests => Interlocked.Read(ref _requests);
    public long Batches => Interlocked.Read(ref _batches);
    public long BatchRows => Interlocked.Read(ref _batchRows);

    internal void Completed(TimeSpan latency)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _latencyMicros, (long)latency.TotalMicroseconds);
        double seconds = latency.TotalSeconds;
        for (int b = 0; b < Buckets.Length; b++)
        {
            if (seconds <= Buckets[b])
            {
                Interlocked.Increment(ref _bucketCounts[b]);
                break;
            }
        }
    }

    internal void Failed(int count) => Interlocked.Add(ref _failed, count);

    internal void Batch(int rows)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batchRows, rows);
    }

    /// <summary>The Prometheus exposition text.</summary>
    public string ToPrometheus(string model)
    {
        var text = new StringBuilder();
        string label = $"{{model=\"{model}\"}}";
        void Metric(string name, string type, string help, long value)
        {
            text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name}{label} {value}\n");
        }
        Metric("serving_requests_total", "counter", "Requests answered.", Requests);
        Metric("serving_requests_failed_total", "counter", "Requests whose batch failed.", Interlocked.Read(ref _failed));
        Metric("serving_batches_total", "counter", "Batched Predict calls.", Batches);
        Metric("serving_batch_rows_total", "counter", "Samples run in batches (÷ batches = mean batch size).", BatchRows);
        text.Append("# HELP serving_request_seconds Time from queueing to answer.\n# TYPE serving_request_seconds histogram\n");
        long cumulative = 0;
        for (int b = 0; b < Buckets.Length; b++)
        {
            cumulative += Interlocked.Read(ref _bucketCounts[b]);
            text.Append(CultureInfo.InvariantCulture, $"serving_request_seconds_bucket{{model=\"{model}\",le=\"{Buckets[b]}\"}} {cumulative}\n");
        }
        text.Append(CultureInfo.InvariantCulture, $"serving_request_seconds_bucket{{model=\"{model}\",le=\"+Inf\"}} {Requests}\n");
        text.Append(CultureInfo.InvariantCulture, $"serving_request_seconds_sum{label} {Interlocked.Read(ref _latencyMicros) / 1e6}\n");
        text.Append(CultureInfo.InvariantCulture, $"serving_request_seconds_count{label} {Requests}\n");
        return text.ToString();
    }
}
