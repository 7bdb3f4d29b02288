"""The cases of `shadergrad bench` in PyTorch (CPU, or CUDA where present), printing the same
JSON, so that benches/compare.py can set the two side by side.

    python benches/pytorch_baseline.py [--quick] [--device cpu|cuda] > pytorch.json

Times are wall-clock medians around complete operations (CUDA is synchronized after each),
after one first run reported apart, as shadergrad measures. TF32 is off: f32 against f32.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def timed(run, reps, sync):
    start = time.perf_counter()
    run()
    sync()
    first = (time.perf_counter() - start) * 1e3
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return first, statistics.median_low(times)


def inputs(shape, device):
    n = 1
    for d in shape:
        n *= d
    # The same values as shadergrad's op cases: ((i·7919) mod 1000)/1000 − 0.5.
    i = torch.arange(n, dtype=torch.int64)
    return (((i * 7919) % 1000).float() / 1000.0 - 0.5).reshape(shape).to(device)


def case(name, first, median, flops=0.0, nbytes=0.0):
    return {
        "case": name,
        "first_ms": first,
        "median_ms": median,
        "gflops": flops / median / 1e6 if flops else None,
        "gbps": nbytes / median / 1e6 if nbytes else None,
        "gpu_bytes": None,
    }


def training_step(model, example, device, reps, sync, batch=100, sgd=False):
    """Batch 100 with Adam 1e-3 (the MNIST labs), or with `sgd` lab 10-6-2's SGD 0.1,
    momentum 0.9, weight decay 5e-4."""
    model = model.to(device)
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
    if sgd:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    size = 1
    for d in example:
        size *= d
    x = ((torch.arange(batch * size) * 31 % 255).float() / 255.0).reshape([batch] + example).to(device)
    y = (torch.arange(batch) % 10).to(device)

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        loss.item()  # reading the loss waits for the step, as shadergrad's case does

    return timed(step, reps, sync)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(1)
    reps = 3 if args.quick else 10
    cases = []

    sizes = [256, 512] if args.quick else [256, 512, 1024, 2048] + ([4096] if cuda else [])
    for n in sizes:
        a = inputs([n, n], device)
        first, median = timed(lambda: torch.mm(a, a), reps, sync)
        cases.append(case(f"matmul_{n}", first, median, 2.0 * n**3))

    conv_reps = min(reps, 5)
    for c, k, hw in [(1, 32, 28), (32, 64, 14), (64, 128, 7)]:
        flops = 2.0 * 100 * k * hw * hw * c * 9
        x, w, g = inputs([100, c, hw, hw], device), inputs([k, c, 3, 3], device), inputs([100, k, hw, hw], device)
        runs = [
            ("forward", lambda: F.conv2d(x, w, padding=1)),
            ("grad_input", lambda: torch.nn.grad.conv2d_input(x.shape, w, g, padding=1)),
            ("grad_weight", lambda: torch.nn.grad.conv2d_weight(x, w.shape, g, padding=1)),
        ]
        for what, run in runs:
            if c == 1 and what == "grad_input":
                continue
            cases.append(case(f"conv2d_{c}x{k}_{hw}_{what}", *timed(run, conv_reps, sync), flops))
        y = inputs([100, k, hw, hw], device)
        pooled, indices = F.max_pool2d(y, 2, 2, return_indices=True)
        gy = inputs(list(pooled.shape), device)
        size = 100 * k * hw * hw * 4
        first, median = timed(lambda: F.max_pool2d(y, 2, 2), conv_reps, sync)
        cases.append(case(f"maxpool_{k}_{hw}_forward", first, median, nbytes=size * 1.25))
        backward = lambda: torch.ops.aten.max_pool2d_with_indices_backward(
            gy, y, [2, 2], [2, 2], [0, 0], [1, 1], False, indices
        )
        first, median = timed(backward, conv_reps, sync)
        cases.append(case(f"maxpool_{k}_{hw}_backward", first, median, nbytes=size * 2.25))

    rows, classes = 4096, 1000
    logits = (inputs([rows, classes], device) * 10.0).requires_grad_()
    labels = (torch.arange(rows) % classes).to(device)

    def cross_entropy():
        loss = F.cross_entropy(logits, labels)
        torch.autograd.grad(loss, logits)
        loss.item()

    first, median = timed(cross_entropy, reps, sync)
    cases.append(case(f"cross_entropy_{rows}x{classes}", first, median, nbytes=(2 * rows * classes + rows) * 4.0))

    linear = torch.nn.Linear
    mlp = torch.nn.Sequential(linear(784, 256), torch.nn.ReLU(), linear(256, 256), torch.nn.ReLU(), linear(256, 10))
    cases.append(case("mnist_mlp_step", *training_step(mlp, [784], device, reps, sync)))
    conv = lambda i, o: torch.nn.Conv2d(i, o, 3, padding=1)
    cnn = torch.nn.Sequential(
        conv(1, 32), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        conv(32, 64), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), linear(3136, 10),
    )
    cases.append(case("mnist_cnn_step", *training_step(cnn, [1, 28, 28], device, conv_reps, sync)))
    deep_cnn = torch.nn.Sequential(
        conv(1, 32), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        conv(32, 64), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        conv(64, 128), torch.nn.ReLU(), torch.nn.MaxPool2d(2, padding=1),
        torch.nn.Flatten(), linear(2048, 625), torch.nn.ReLU(), torch.nn.Dropout(0.5), linear(625, 10),
    )
    cases.append(case("mnist_deep_cnn_step", *training_step(deep_cnn, [1, 28, 28], device, conv_reps, sync)))

    # Part 3's residual and VGG steps, with the course's resnet.py and vgg.py (tests/torch/).
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))
    from architectures import VGG, ResNet, make_layers
    from modules_blocks import BasicBlock, Bottleneck

    def mnist_resnet():
        # src/recipes/advanced_cnn.rs's network: a 16-channel stem, then basic blocks of
        # 32 (stride 2), 64 (stride 2) and 64 channels.
        def down(i, o):
            return torch.nn.Sequential(torch.nn.Conv2d(i, o, 1, 2, bias=False), torch.nn.BatchNorm2d(o))
        model = ResNet(BasicBlock, [1, 1, 1, 1], 10, cifar=True)
        model.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1, bias=False)
        model.layer1 = torch.nn.Sequential(BasicBlock(16, 32, 2, down(16, 32)))
        model.layer2 = torch.nn.Sequential(BasicBlock(32, 64, 2, down(32, 64)))
        model.layer3 = torch.nn.Sequential(BasicBlock(64, 64))
        model.layer4 = torch.nn.Identity()
        model.fc = linear(64, 10)
        return model

    step_reps = min(reps, 3)
    cases.append(case("mnist_resnet_step", *training_step(mnist_resnet(), [1, 28, 28], device, step_reps, sync)))
    resnet50 = ResNet(Bottleneck, [3, 4, 6, 3], 10, cifar=True)
    cases.append(case("resnet50_cifar_step",
                      *training_step(resnet50, [3, 32, 32], device, step_reps, sync, batch=32, sgd=True)))
    vgg16 = VGG(make_layers("32 32 M 64 64 128 128 128 M 256 256 256 512 512 512 M"), 10, 8192, pool=False)
    cases.append(case("vgg16_cifar_step",
                      *training_step(vgg16, [3, 32, 32], device, step_reps, sync, batch=32, sgd=True)))

    # Part 4's steps (src/bench.rs's sequence_steps): the labs' char-seq, long-seq and
    # LSTM-stock models and a word-level language model, full batch as the labs train them.
    class LastStep(torch.nn.Module):
        def forward(self, x):
            return x[:, -1]

    class Outputs(torch.nn.Module):
        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            return self.rnn(x)[0]

    def sequence_step(name, model, x, y, loss, optimizer):
        model = model.to(device)
        opt = optimizer(model.parameters())
        x, y = x.to(device), y.to(device)

        def step():
            opt.zero_grad()
            out = model(x)
            value = loss(out.reshape(-1, out.shape[-1]), y.reshape(-1)) if y.dtype == torch.long else loss(out, y)
            value.backward()
            opt.step()
            value.item()

        cases.append(case(name, *timed(step, min(reps, 5), sync)))

    def inputs_of(shape, vocabulary=0):
        n = 1
        for d in shape:
            n *= d
        i = torch.arange(n)
        return (i * 31 % vocabulary) if vocabulary else ((i * 31 % 255).float() / 255.0).reshape(shape)

    ce, mse = F.cross_entropy, F.mse_loss
    adam = lambda lr: (lambda p: torch.optim.Adam(p, lr=lr))
    labels = lambda shape, classes: (torch.arange(shape[0] * shape[1]) * 7 % classes).reshape(shape)
    sequence_step("rnn_charseq_step", Outputs(torch.nn.RNN(10, 10, batch_first=True)),
                  inputs_of([1, 15, 10]), labels([1, 15], 10), ce, adam(0.1))
    sequence_step("rnn_longseq_step", torch.nn.Sequential(Outputs(torch.nn.RNN(25, 25, 2, batch_first=True)),
                                                          torch.nn.Linear(25, 25)),
                  inputs_of([170, 10, 25]), labels([170, 10], 25), ce, adam(0.1))
    sequence_step("lstm_stock_step", torch.nn.Sequential(Outputs(torch.nn.LSTM(5, 10, batch_first=True)),
                                                         LastStep(), torch.nn.Linear(10, 1)),
                  inputs_of([505, 7, 5]), (torch.arange(505) % 13).float().reshape(505, 1) / 13.0, mse, adam(0.01))
    sequence_step("lstm_language_model_step",
                  torch.nn.Sequential(torch.nn.Embedding(10000, 256),
                                      Outputs(torch.nn.LSTM(256, 256, 2, batch_first=True)),
                                      torch.nn.Linear(256, 10000)),
                  inputs_of([20, 35], 10000).reshape(20, 35), labels([20, 35], 10000), ce,
                  lambda p: torch.optim.SGD(p, lr=1.0))

    adapter = torch.cuda.get_device_name(device) if cuda else cpu_name()
    print(json.dumps({
        "engine": "pytorch",
        "version": torch.__version__,
        "adapter": adapter,
        "backend": device.type,
        "threads": torch.get_num_threads(),
        "cases": cases,
    }))


if __name__ == "__main__":
    main()
