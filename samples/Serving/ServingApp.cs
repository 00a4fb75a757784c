using System.Text.Json.Serialization;
using System.Threading;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Serving;

/// <summary>A request: one sample's floats, row-major (DigitsModel: 64 pixels of an 8×8 image, in [0, 1]).</summary>
public sealed record PredictRequest(float[] Input);

/// <summary>An answer: the model's output (ten probabilities) and its largest index.</summary>
public sealed record PredictResponse(float[] Output, int Label);

/// <summary>System.Text.Json's source-generated serializers: no reflection, trimming- and NativeAOT-safe.</summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(PredictRequest))]
[JsonSerializable(typeof(PredictResponse))]
[JsonSerializable(typeof(HealthResponse))]
public sealed partial class ServingJson : JsonSerializerContext;

/// <summary>/health's answer.</summary>
public sealed record HealthResponse(string Status, string Model, int InputLength, int OutputLength);

/// <summary>The minimal API: POST /predict, GET /health, GET /metrics, over one <see cref="RequestBatcher"/>.</summary>
public static class ServingApp
{
    /// <summary>
    /// Builds the app serving <paramref name="predict"/> under the name <paramref name="model"/>. Stateless: every replica
    /// is the same, so it scales out behind any load balancer (see the README).
    /// </summary>
    public static WebApplication Build(string[] args, string model, BatchPredict predict, int inputLength, int outputLength, int maxBatch = 64)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ServingJson.Default));
        builder.Services.AddSingleton(new RequestBatcher(predict, inputLength, outputLength, maxBatch));
        WebApplication app = builder.Build();
        RequestBatcher batcher = app.Services.GetRequiredService<RequestBatcher>();
        app.Lifetime.ApplicationStopping.Register(() => batcher.DisposeAsync().AsTask().GetAwaiter().GetResult());

        app.MapPost("/predict", async (PredictRequest request, CancellationToken cancellationToken) =>
        {
            if (request.Input is null || request.Input.Length != inputLength)
                return Results.Problem($"'input' must hold {inputLength} floats.", statusCode: StatusCodes.Status400BadRequest);
            float[] output = await batcher.PredictAsync(request.Input, cancellationToken);
            return Results.Ok(new PredictResponse(output, ArgMax(output)));
        });
        app.MapGet("/health", () => Results.Ok(new HealthResponse("ok", model, inputLength, outputLength)));
        app.MapGet("/metrics", () => Results.Text(batcher.Metrics.ToPrometheus(model), "text/plain; version=0.0.4"));
        return app;
    }

    private static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
