"""Full-size ResNets and VGGs as the course's `resnet.py` and `vgg.py` build them, with random weights and batch-norm
statistics that are not 0/1, for checking `shadergrad infer --arch NAME` by hand (the files
are too large to commit; tests/modules.rs checks the same blocks on a small network):

    python tests/torch/architectures.py OUT_DIR

writes OUT_DIR/NAME.safetensors (the state dict), OUT_DIR/NAME_x.safetensors (`x`) and
OUT_DIR/NAME_y.safetensors (`y`, the eval-mode output in float64) for resnet18 with 10
classes on 2×3×64×64, the course's CIFAR ResNet-50 (lab 10-6-2) and CIFAR VGG-16 (lab
10-5-2) on 2×3×32×32, and vgg11_bn on 1×3×224×224. It prints
each model's output shape and state dict (names and shapes, in order), which
tests/modules.rs holds the named architectures to:

    python tests/torch/architectures.py /tmp/architectures > tests/torch/architectures.txt
"""
import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from modules_blocks import BasicBlock, Bottleneck, conv1x1  # noqa: E402


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes, cifar=False):
        super().__init__()
        self.inplanes = 16 if cifar else 64
        if cifar:
            self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.cifar = cifar
        if not cifar:
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        widths, strides = ([16, 32, 64, 128], [1, 1, 2, 2]) if cifar else ([64, 128, 256, 512], [1, 2, 2, 2])
        self.layer1 = self._make_layer(block, widths[0], layers[0], strides[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], strides[1])
        self.layer3 = self._make_layer(block, widths[2], layers[2], strides[2])
        self.layer4 = self._make_layer(block, widths[3], layers[3], strides[3])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if not self.cifar:
            x = self.maxpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class VGG(nn.Module):
    def __init__(self, features, num_classes, flat, pool):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7)) if pool else None
        self.classifier = nn.Sequential(
            nn.Linear(flat, 4096), nn.ReLU(True), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        if self.avgpool is not None:
            x = self.avgpool(x)
        return self.classifier(x.view(x.size(0), -1))


def make_layers(cfg, batch_norm=False):
    layers, channels = [], 3
    for v in cfg.split():
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            layers += [nn.Conv2d(channels, int(v), kernel_size=3, padding=1)]
            if batch_norm:
                layers += [nn.BatchNorm2d(int(v))]
            layers += [nn.ReLU(inplace=True)]
            channels = int(v)
    return nn.Sequential(*layers)


def write(out, name, model, x_shape):
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in model.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(7)
    model.eval()
    x = torch.randn(x_shape, generator=gen)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out}/{name}.safetensors")
    save_file({"x": x}, f"{out}/{name}_x.safetensors")
    with torch.no_grad():
        y = model.double()(x.double())
    save_file({"y": y}, f"{out}/{name}_y.safetensors")
    print(name, list(y.shape))
    for key, value in model.state_dict().items():
        print(f"  {key} {list(value.shape)}")


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write(out, "resnet18", ResNet(BasicBlock, [2, 2, 2, 2], 10), (2, 3, 64, 64))
    write(out, "resnet50-cifar10", ResNet(Bottleneck, [3, 4, 6, 3], 10, cifar=True), (2, 3, 32, 32))
    cifar = "32 32 M 64 64 128 128 128 M 256 256 256 512 512 512 M"
    write(out, "vgg16-cifar10", VGG(make_layers(cifar), 10, 512 * 4 * 4, pool=False), (2, 3, 32, 32))
    vgg11 = "64 M 128 M 256 256 M 512 512 M 512 512 M"
    write(out, "vgg11_bn", VGG(make_layers(vgg11, True), 1000, 512 * 7 * 7, pool=True), (1, 3, 224, 224))
