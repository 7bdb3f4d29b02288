"""PyTorch's own GELU (exact and tanh), its gradients, and softmax / log-softmax of large
logits, in float64, as the fixture tests/activations.rs reads. From the repository root:

    python tests/torch/activations.py > tests/torch/activations.txt

Each line is `name value value …` (17 significant digits).
"""
import torch
import torch.nn.functional as F

torch.manual_seed(20261202)
# A grid over both tails and the middle, then random points.
x = torch.cat([torch.linspace(-9.0, 9.0, 181, dtype=torch.float64),
               torch.randn(75, dtype=torch.float64) * 3.0])
# Round to float32 first: the engine computes on exactly these values.
x = x.float().double().requires_grad_(True)


def line(name, values):
    print(name, " ".join(f"{v:.17g}" for v in values.detach().reshape(-1).tolist()))


line("x", x)
for approximate in ["none", "tanh"]:
    y = F.gelu(x, approximate=approximate)
    (grad,) = torch.autograd.grad(y.sum(), x)
    suffix = "" if approximate == "none" else "_tanh"
    line(f"gelu{suffix}", y)
    line(f"gelu{suffix}_grad", grad)

# Logits near 48, where rounding m + log s in f32 would show: 8 rows of 10 classes.
logits = (48.0 + torch.randn(8, 10, dtype=torch.float64) * 2.0).float().double()
line("logits", logits)
line("softmax", torch.softmax(logits, dim=-1))
line("log_softmax", torch.log_softmax(logits, dim=-1))
