"""Schedules, parameter groups and gradient clipping in PyTorch, for tests/optimization.rs.

A Linear(6, 8), ReLU, Linear(8, 3) network (seed 3) trains 4 epochs of 2 batches of 4 (no
shuffle) with cross entropy, twice:

- `sgd`: SGD lr 0.1, momentum 0.9, weight decay 5e-3 on the weights and none on the
  biases (two parameter groups), `clip_grad_norm_(max_norm=0.5)`, `StepLR(step_size=2,
  gamma=0.5)`;
- `adam`: Adam lr 0.05, `clip_grad_value_(0.02)`, `CosineAnnealingLR(T_max=3)`.

A scheduler's `step()` comes at each epoch's end, which gives epoch e (from 0) the rate that
the course's `step()` at each epoch's start gives it under torch 1.0. It writes the starting
weights, the data, every step's loss and the weights after training in float32:
tests/torch/optimization.safetensors. From the repository root:

    python tests/torch/optimization.py
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(3)
start = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
x = torch.randn(8, 6)
labels = torch.randint(0, 3, (8,))
tensors = {f"init.{k}": v.clone() for k, v in start.state_dict().items()}
tensors["x"] = x
tensors["labels"] = labels.to(torch.float32)


def train(name, make_optimizer, make_schedule, clip):
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    model.load_state_dict(start.state_dict())
    optimizer = make_optimizer(model)
    schedule = make_schedule(optimizer)
    losses = []
    for _ in range(4):
        for b in range(2):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[4 * b:4 * b + 4]), labels[4 * b:4 * b + 4])
            loss.backward()
            clip(model.parameters())
            optimizer.step()
            losses.append(loss.item())
        schedule.step()
    tensors[f"{name}.losses"] = torch.tensor(losses)
    for k, v in model.state_dict().items():
        tensors[f"{name}.{k}"] = v.clone()


def grouped_sgd(model):
    weights = [p for n, p in model.named_parameters() if not n.endswith(".bias")]
    biases = [p for n, p in model.named_parameters() if n.endswith(".bias")]
    return torch.optim.SGD([{"params": weights}, {"params": biases, "weight_decay": 0.0}],
                           lr=0.1, momentum=0.9, weight_decay=5e-3)


train("sgd", grouped_sgd, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
      lambda ps: torch.nn.utils.clip_grad_norm_(ps, max_norm=0.5))
train("adam", lambda m: torch.optim.Adam(m.parameters(), lr=0.05),
      lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=3),
      lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.02))
save_file({k: v.contiguous() for k, v in tensors.items()},
          os.path.join(os.path.dirname(__file__), "optimization.safetensors"))
