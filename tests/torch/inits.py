"""The starting values the course's labs 10-5-2 and 10-6-2 give their models, for
tests/modules.rs: after `torch.manual_seed(777)`, the CIFAR VGG-16 built and initialised as
`vgg.py` does it (conv kaiming_normal_ fan_out and bias 0, Linear N(0, 0.01) and bias 0,
batch norm 1/0), and the CIFAR ResNet-50 as `resnet.py` does it with
`zero_init_residual=True` (conv kaiming_normal_ fan_out, batch norm 1/0, each block's bn3
scale 0). The tensors are too large to commit; it prints, for every parameter in state-dict
order, its name, element count, the float64 sum and the first three values:

    python tests/torch/inits.py > tests/torch/inits.txt
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from architectures import VGG, ResNet, make_layers  # noqa: E402
from modules_blocks import Bottleneck, resnet_init  # noqa: E402


def vgg_init(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


def show(name, model):
    print(name)
    for key, p in model.named_parameters():
        first = " ".join(f"{v:.9g}" for v in p.detach().flatten()[:3].tolist())
        print(f"  {key} {p.numel()} {p.detach().double().sum().item():.12g} {first}")


torch.manual_seed(777)
vgg = VGG(make_layers("32 32 M 64 64 128 128 128 M 256 256 256 512 512 512 M"), 10, 512 * 4 * 4, pool=False)
vgg_init(vgg)
show("vgg16-cifar10", vgg)
torch.manual_seed(777)
resnet = ResNet(Bottleneck, [3, 4, 6, 3], 10, cifar=True)
resnet_init(resnet, zero_init_residual=True)
show("resnet50-cifar10", resnet)
