"""PyTorch's packed sequences through recurrent layers, for tests/recurrent.rs.

For each case (a 2-layer batch-first `nn.RNN`, a 2-layer batch-first `nn.LSTM` with a starting
state, a time-major `nn.GRU`), a padded batch of sequences of unsorted lengths, with random
values at the padded steps, goes through `pack_padded_sequence(enforce_sorted=False)`, the
layer and `pad_packed_sequence(total_length=T)`. It saves the state dict, the input, the
lengths and starting states (all f32-exact, in float64), the outputs (`NAME.output`, 0 at
padded steps; `NAME.h_n` and `NAME.c_n` at each sequence's own length, in the batch's order),
and the float64 gradients of Σ output·w_out + Σ h_n·w_h with respect to the input, the
starting states and every parameter (`NAME.grad.…`). From the repository root:

    python tests/torch/packed.py
"""
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from safetensors.torch import save_file

out = {}
torch.manual_seed(2)
cases = {
    # name: (module, x shape, lengths, starting states)
    "rnn_tanh": (nn.RNN(3, 5, num_layers=2, batch_first=True), (4, 5, 3), [3, 5, 1, 4], False),
    "lstm": (nn.LSTM(4, 6, num_layers=2, batch_first=True), (3, 6, 4), [2, 6, 6], True),
    "gru": (nn.GRU(4, 5), (4, 3, 4), [4, 1, 3], True),
}
for name, (model, x_shape, lengths, with_state) in cases.items():
    for p in model.parameters():
        nn.init.uniform_(p, -0.6, 0.6)
    model = model.double()
    x = torch.randn(*x_shape).double().requires_grad_()
    batch = x_shape[0] if model.batch_first else x_shape[1]
    steps = x_shape[1] if model.batch_first else x_shape[0]
    state_shape = (model.num_layers, batch, model.hidden_size)
    lstm = isinstance(model, nn.LSTM)
    inputs = {"x": x}
    packed = pack_padded_sequence(x, lengths, batch_first=model.batch_first, enforce_sorted=False)
    if with_state:
        inputs["h0"] = torch.randn(*state_shape).double().requires_grad_()
        if lstm:
            inputs["c0"] = torch.randn(*state_shape).double().requires_grad_()
        state = (inputs["h0"], inputs["c0"]) if lstm else inputs["h0"]
        output, final = model(packed, state)
    else:
        output, final = model(packed)
    output, _ = pad_packed_sequence(output, batch_first=model.batch_first, total_length=steps)
    h_n, c_n = final if lstm else (final, None)
    w_out = torch.randn(output.shape).double()
    w_h = torch.randn(h_n.shape).double()
    loss = (output * w_out).sum() + (h_n * w_h).sum()
    loss.backward()
    saved = {"output": output, "h_n": h_n, "w_out": w_out, "w_h": w_h, "lengths": torch.tensor(lengths).double()}
    if c_n is not None:
        saved["c_n"] = c_n
    for k, v in list(inputs.items()):
        saved[k] = v
        saved[f"grad.{k}"] = v.grad
    for k, p in model.named_parameters():
        saved[k] = p
        saved[f"grad.{k}"] = p.grad
    for k, v in saved.items():
        out[f"{name}.{k}"] = v.detach().contiguous()

save_file(out, "tests/torch/packed.safetensors")
