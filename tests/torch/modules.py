"""A small residual network built from the course's `resnet.py` blocks, for tests/modules.rs.

The model (`nn.Sequential` of a stem, a `BasicBlock` without and one with a projected
shortcut, a `Bottleneck`, pooling and a linear head) checks the module API against PyTorch:

- `print(model)` and the state dict's names and order;
- the starting values `resnet.py` gives it after `torch.manual_seed(1)`: default draws in
  construction order (a block's `downsample` first), then `kaiming_normal_(fan_out)` on
  every conv in registration order, BN 1/0 (`modules_init.safetensors`);
- with random weights and batch-norm statistics that are not 0/1 (`modules.safetensors`):
  the eval-mode output on `x` in float64, the train-mode loss of one SGD step (lr 0.1, cross
  entropy on `labels`) and every parameter and running statistic after it
  (`modules_io.safetensors`);
- `AdaptiveAvgPool2d` to 2×3 and 1×1 (equal bins), 3×4 (unequal, overlapping bins) and 7×9
  (larger than the input), and `Identity`, on a 2×3×4×6 input
  (`pooling_io.safetensors`).

It prints the printed model, the state dict's names and shapes in order, and the loss:
tests/torch/modules.txt. From the repository root:

    python tests/torch/modules.py > tests/torch/modules.txt
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from modules_blocks import BasicBlock, Bottleneck, conv1x1, resnet_init  # noqa: E402


def block(kind, inplanes, planes, stride):
    # _make_layer's first block: the downsample is constructed before the block.
    downsample = None
    if stride != 1 or inplanes != planes * kind.expansion:
        downsample = nn.Sequential(conv1x1(inplanes, planes * kind.expansion, stride),
                                   nn.BatchNorm2d(planes * kind.expansion))
    return kind(inplanes, planes, stride, downsample)


def build():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        block(BasicBlock, 4, 4, 1), block(BasicBlock, 4, 8, 2), block(Bottleneck, 8, 2, 2),
        nn.AvgPool2d(4), nn.Flatten(), nn.Linear(8, 3),
    )
    resnet_init(model)
    return model


def floats(model):
    return {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()
            if v.dtype.is_floating_point}


torch.manual_seed(1)
model = build()
print(model)
for name, value in model.state_dict().items():
    print(name, list(value.shape))
save_file(floats(model), "tests/torch/modules_init.safetensors")

# Random weights, and running statistics from a few training-mode passes.
gen = torch.Generator().manual_seed(5)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    for _ in range(3):
        model(torch.randn(4, 1, 16, 16, generator=gen))
model.eval()
x = torch.randn(2, 1, 16, 16, generator=gen)
labels = torch.tensor([0, 2, 1, 2])
batch = torch.randn(4, 1, 16, 16, generator=gen)
state = model.state_dict()
save_file({k: v.contiguous() for k, v in state.items()}, "tests/torch/modules.safetensors")

reference = build().double()
reference.load_state_dict(state)
reference.eval()
with torch.no_grad():
    y = reference(x.double())

reference.train()
optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
loss = F.cross_entropy(reference(batch.double()), labels)
loss.backward()
optimizer.step()
print(f"train-mode loss before the step: {loss.item():.10f}")
after = {f"after.{k}": v.to(torch.float32) for k, v in reference.state_dict().items() if v.dtype.is_floating_point}
save_file({"x": x, "y": y.to(torch.float32), "batch": batch, "labels": labels.to(torch.float32), **after},
          "tests/torch/modules_io.safetensors")

# AdaptiveAvgPool2d over equal bins, and Identity, on their own.
gen = torch.Generator().manual_seed(9)
pool_x = torch.randn(2, 3, 4, 6, generator=gen)
save_file({"x": pool_x,
           "pool_2x3": nn.AdaptiveAvgPool2d((2, 3))(pool_x.double()).to(torch.float32),
           "pool_1x1": nn.AdaptiveAvgPool2d((1, 1))(pool_x.double()).to(torch.float32),
           "pool_3x4": nn.AdaptiveAvgPool2d((3, 4))(pool_x.double()).to(torch.float32),
           "pool_7x9": nn.AdaptiveAvgPool2d((7, 9))(pool_x.double()).to(torch.float32),
           "identity": nn.Identity()(pool_x).clone()},
          "tests/torch/pooling_io.safetensors")
