"""Tools around the model: speed (`speed`: timing, memory and the one FLOP counter), the Hub (`hub`: model cards,
the upload folder and the push) and ONNX export (`export`). Their commands are in `simtrack_hf.commands`."""
