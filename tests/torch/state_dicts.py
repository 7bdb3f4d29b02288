"""PyTorch state dicts as a new user saves them, for tests/state_dicts.rs.

1. The course's 10-1 CNN as an `nn.Sequential` (names `0.weight` ... `7.bias`), trained one
   epoch on the shipped MNIST subset, saved with `safetensors.torch.save_file` with its tensors
   in f16, bf16 and f32 (the conversions the loader does), and no metadata:
   `mnist_cnn.safetensors`. Beside it, `mnist_cnn_io.safetensors` holds four test images `x`
   and the logits `y` that the saved (rounded) weights give in float64.
2. A small MLP with `BatchNorm1d`, trained a few steps so its running statistics are not 0/1
   and `num_batches_tracked` (int64) is 5: `bn_mlp.safetensors` (weights, f32) and
   `bn_mlp_io.safetensors` (`x`, and `y` in eval mode in float64).

It prints the float64 accuracies and losses of the saved CNN on the shipped data:
tests/torch/state_dicts.txt. From the repository root:

    python tests/torch/state_dicts.py > tests/torch/state_dicts.txt
"""
import gzip

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file


def idx(name):
    with gzip.open(f"assets/mnist/{name}", "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def images(name):
    return torch.tensor(idx(name), dtype=torch.float32).unsqueeze(1) / 255.0


def labels(name):
    return torch.tensor(idx(name), dtype=torch.int64)


train_x, train_y = images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz")
test_x, test_y = images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")

torch.manual_seed(777)
cnn = nn.Sequential(
    nn.Conv2d(1, 32, kernel_size=3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
    nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
    nn.Flatten(), nn.Linear(7 * 7 * 64, 10),
)
optimizer = torch.optim.Adam(cnn.parameters(), lr=1e-3)
order = torch.randperm(len(train_x))
for start in range(0, len(train_x), 100):
    batch = order[start:start + 100]
    optimizer.zero_grad()
    F.cross_entropy(cnn(train_x[batch]), train_y[batch]).backward()
    optimizer.step()

dtypes = {"0.weight": torch.float16, "0.bias": torch.float32, "3.weight": torch.bfloat16,
          "3.bias": torch.float16, "7.weight": torch.float16, "7.bias": torch.bfloat16}
saved = {name: t.detach().to(dtypes[name]).contiguous() for name, t in cnn.state_dict().items()}
save_file(saved, "tests/torch/mnist_cnn.safetensors")

# The reference: the weights as saved, in float64.
reference = cnn.double()
reference.load_state_dict({name: t.double() for name, t in saved.items()})
reference.eval()
with torch.no_grad():
    for split, x, y in [("train", train_x, train_y), ("test", test_x, test_y)]:
        logits = reference(x.double())
        correct = (logits.argmax(1) == y).sum().item()
        loss = F.cross_entropy(logits, y).item()
        print(f"mnist-cnn {split} correct {correct} of {len(y)} loss {loss:.9f}")
    x = test_x[:4].contiguous()
    save_file({"x": x, "y": reference(x.double()).contiguous()}, "tests/torch/mnist_cnn_io.safetensors")

torch.manual_seed(1)
mlp = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
optimizer = torch.optim.SGD(mlp.parameters(), lr=0.1)
for _ in range(5):
    x = torch.randn(16, 4) * 3 + 1
    optimizer.zero_grad()
    F.cross_entropy(mlp(x), torch.randint(0, 3, (16,))).backward()
    optimizer.step()
save_file({name: t.detach().contiguous() for name, t in mlp.state_dict().items()}, "tests/torch/bn_mlp.safetensors")
mlp = mlp.double().eval()
x = torch.randn(6, 4) * 3 + 1
with torch.no_grad():
    save_file({"x": x, "y": mlp(x.double()).contiguous()}, "tests/torch/bn_mlp_io.safetensors")
