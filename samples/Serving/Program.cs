using Serving;

// Serves the compiled model: POST /predict {"input": [64 floats]} → {"output": [10 probabilities], "label": n}.
var app = ServingApp.Build(args, nameof(DigitsModel),
    (input, output, batch) => DigitsModel.Predict(input, output, batch), DigitsModel.InputLength, DigitsModel.OutputLength);
app.Run();
