"""What labs 10-5-1 and 10-6-1 print, for tests/modules.rs: `print(model)` of lab 10-5-1's
`VGG(make_layers(cfg['custom']), num_classes=10)` (whose classifier expects 25088 inputs
that its features do not give), and of the torchvision `resnet50()` that lab 10-6-1 prints
(1000 classes; that torchvision's average pool is `AvgPool2d(7, stride=1)`), each followed
by its parameter count:

    python tests/torch/printouts.py > tests/torch/printouts.txt
"""
import os
import sys

import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from architectures import VGG, ResNet, make_layers  # noqa: E402
from modules_blocks import Bottleneck  # noqa: E402


def show(model):
    print(model)
    print(f"parameters: {sum(p.numel() for p in model.parameters())}")


show(VGG(make_layers("64 64 64 M 128 128 128 M 256 256 256 M"), 10, 512 * 7 * 7, pool=True))
resnet = ResNet(Bottleneck, [3, 4, 6, 3], 1000)
resnet.avgpool = nn.AvgPool2d(7, stride=1)
show(resnet)
