"""PyTorch's recurrent layers on small inputs, for tests/recurrent.rs.

For each case (an `nn.RNN` with tanh, one with ReLU and no biases, a 2-layer batch-first
`nn.LSTM` with a starting state, an `nn.GRU`), with random weights, it saves the state dict
(`NAME.weight_ih_l0`, …), the input and starting states (all f32-exact, in float64), the
outputs (`NAME.output`, `NAME.h_n`, `NAME.c_n`) in float64, and the float64 gradients of
Σ output·w_out + Σ h_n·w_h (`NAME.w_out`, `NAME.w_h` saved too) with respect to the input,
the starting states and every parameter (`NAME.grad.…`). It also saves the starting values
of three layers built right after `torch.manual_seed(0)` (`init.NAME.…`), with hidden sizes
whose bound 1/√H is a power of two, so that torch's plain and fused uniform draws agree, and
lab 11-1's `nn.RNN(4, 2)`, whose draws are this CPU's variant (`init.rnn_basics.…`), with
its printed run (tests/torch/rnn_basics.txt); lab 11-5's `nn.Embedding(17, 16)` with its rows at
some indices; and prints each model as `print(model)` does, with its parameter count. From the repository root:

    python tests/torch/recurrent.py > tests/torch/recurrent.txt
"""
import torch
import torch.nn as nn
from safetensors.torch import save_file

out = {}

torch.manual_seed(0)
inits = {
    "rnn": nn.RNN(3, 4, num_layers=2),
    "lstm": nn.LSTM(5, 16, batch_first=True),
    "gru": nn.GRU(2, 4, bias=False),
}
def show(model):
    print(model)
    print(f"parameters: {sum(p.numel() for p in model.parameters())}")


for name, model in inits.items():
    show(model)
    for k, v in model.state_dict().items():
        out[f"init.{name}.{k}"] = v.contiguous()

# Lab 11-1: nn.RNN(4, 2) after manual_seed(0). Its bound 1/√2 is not a power of two, so its
# draws are those of the CPU path this script ran on (fused on AVX2); and its printed run.
torch.manual_seed(0)
basics = nn.RNN(4, 2)
for k, v in basics.state_dict().items():
    out[f"init.rnn_basics.{k}"] = v.contiguous()
h, e, l, o = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]
with torch.no_grad():
    basics_out, _ = basics(torch.Tensor([[h, e, l, l, o], [e, o, l, l, l], [l, l, e, e, l]]))
with open("tests/torch/rnn_basics.txt", "w") as f:
    print(basics_out, file=f)
    print(basics_out.size(), file=f)

# Lab 11-5's encoder embedding: nn.Embedding(17, 16) after manual_seed(0) (normal_'s
# transcendentals are this CPU's: AVX2's approximations agree with exact ones within 1e-6),
# and its rows at some indices.
torch.manual_seed(0)
embedding = nn.Embedding(17, 16)
show(embedding)
out["init.embedding.weight"] = embedding.weight.detach().contiguous()
indices = torch.tensor([[3, 0, 16, 3], [5, 9, 1, 0]])
out["embedding.indices"] = indices.to(torch.float32)
out["embedding.output"] = embedding(indices).detach().contiguous()

torch.manual_seed(1)
cases = {
    # name: (module, x shape, starting states)
    "rnn_tanh": (nn.RNN(3, 5, num_layers=2, batch_first=True), (2, 4, 3), True),
    "rnn_relu": (nn.RNN(3, 4, nonlinearity="relu", bias=False), (5, 3, 3), False),
    "lstm": (nn.LSTM(5, 6, num_layers=2, batch_first=True), (3, 4, 5), True),
    "gru": (nn.GRU(4, 5), (4, 2, 4), False),
}
for name, (model, x_shape, with_state) in cases.items():
    show(model)
    # Every value f32-exact, so the float64 run is the exact answer for the f32 inputs.
    def f32_exact(*shape):
        return torch.randn(*shape).double().requires_grad_()

    for p in model.parameters():
        nn.init.uniform_(p, -0.6, 0.6)
    model = model.double()
    x = f32_exact(*x_shape)
    batch = x_shape[0] if model.batch_first else x_shape[1]
    state_shape = (model.num_layers, batch, model.hidden_size)
    lstm = isinstance(model, nn.LSTM)
    inputs = {"x": x}
    if with_state:
        inputs["h0"] = f32_exact(*state_shape)
        if lstm:
            inputs["c0"] = f32_exact(*state_shape)
        state = (inputs["h0"], inputs["c0"]) if lstm else inputs["h0"]
        output, final = model(x, state)
    else:
        output, final = model(x)
    h_n, c_n = final if lstm else (final, None)
    w_out = torch.randn(output.shape).double()
    w_h = torch.randn(h_n.shape).double()
    loss = (output * w_out).sum() + (h_n * w_h).sum()
    loss.backward()
    saved = {"output": output, "h_n": h_n, "w_out": w_out, "w_h": w_h}
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

save_file(out, "tests/torch/recurrent.safetensors")
