"""The course's tiny full-batch labs in PyTorch with `nn` modules (PyTorch's init), printing
`recipe step cost` at the steps `shadergrad train RECIPE --init torch` logs. Its output is
tests/torch/tiny_labs.txt, the reference tests/recipes.rs reads. From the repository root:

    python tests/torch/tiny_labs.py > tests/torch/tiny_labs.txt
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

def csv(file):
    xy = np.loadtxt(f"assets/csv/{file}", delimiter=",", dtype=np.float32)
    return torch.FloatTensor(xy[:, :-1]), torch.FloatTensor(xy[:, -1:])


xor_x = torch.FloatTensor([[0, 0], [0, 1], [1, 0], [1, 1]])
xor_y = torch.FloatTensor([[0], [1], [1], [0]])
softmax_x = torch.FloatTensor([[1, 2, 1, 1], [2, 1, 3, 2], [3, 1, 3, 4], [4, 1, 5, 5],
                               [1, 7, 5, 5], [1, 2, 5, 6], [1, 6, 6, 6], [1, 7, 7, 7]])
softmax_y = torch.LongTensor([2, 2, 2, 1, 1, 1, 0, 0])
tips_x = torch.FloatTensor([[1, 2, 1], [1, 3, 2], [1, 3, 4], [1, 5, 5], [1, 7, 5], [1, 2, 5], [1, 6, 6], [1, 7, 7]])
scores_x = torch.FloatTensor([[73, 80, 75], [93, 88, 93], [89, 91, 90], [96, 98, 100], [73, 66, 70]])
scores_y = torch.FloatTensor([[152], [185], [180], [196], [142]])


def sigmoid_stack(*widths):
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers)


# name: (x, y, model, cost, lr, steps, log_every)
labs = {
    "linear-regression": lambda: (torch.FloatTensor([[1], [2], [3]]),) * 2
    + (torch.nn.Linear(1, 1), F.mse_loss, 0.01, 1001, 100),
    "multivariable": lambda: (scores_x, scores_y, torch.nn.Linear(3, 1), F.mse_loss, 1e-5, 21, 1),
    "logistic-diabetes": lambda: csv("data-03-diabetes.csv")
    + (torch.nn.Sequential(torch.nn.Linear(8, 1), torch.nn.Sigmoid()), F.binary_cross_entropy, 1.0, 101, 10),
    "softmax-toy": lambda: (softmax_x, softmax_y, torch.nn.Linear(4, 3), F.cross_entropy, 0.1, 1001, 100),
    "softmax-zoo": lambda: (lambda x, y: (x, y[:, 0].long()))(*csv("data-04-zoo.csv"))
    + (torch.nn.Linear(16, 7), F.cross_entropy, 0.1, 1001, 100),
    "tips": lambda: (tips_x, softmax_y, torch.nn.Linear(3, 3), F.cross_entropy, 0.1, 20, 1),
    "xor-perceptron": lambda: (xor_x, xor_y, sigmoid_stack(2, 1), F.binary_cross_entropy, 1.0, 10001, 1000),
    "xor-mlp": lambda: (xor_x, xor_y, sigmoid_stack(2, 2, 1), F.binary_cross_entropy, 1.0, 10001, 1000),
    "xor-deep": lambda: (xor_x, xor_y, sigmoid_stack(2, 10, 10, 10, 1), F.binary_cross_entropy, 1.0, 10001, 1000),
}
for name in sys.argv[1:] or labs:
    torch.manual_seed(777 if name.startswith("xor") else 1)
    if name.startswith("softmax"):
        torch.rand(3, 5, requires_grad=True)  # lab 06's earlier draws: 15 rand ...
        torch.randint(5, (3,)).long()  # ... and 3 randint
    x, y, model, cost_of, lr, steps, log_every = labs[name]()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for step in range(steps):
        cost = cost_of(model(x), y)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        if step % log_every == 0 or step + 1 == steps:
            print(f"{name} {step} {cost.item():.9g}")
