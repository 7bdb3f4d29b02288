"""The course's character RNN labs (11-2-2 "hihello" and 11-2-1 char-seq) as the lab's code
runs them on PyTorch's CPU, printing `recipe step loss prediction` for every step: the
reference for `shadergrad train rnn-hihello --init torch --uniform fused` and `rnn-charseq`
(this CPU draws uniforms fused: AVX2). 11-2-1's recorded run trained the second RNN drawn
after the seed; `rnn-charseq` is the plain recipe, the first. From the repository root:

    python tests/torch/rnn_labs.py > tests/torch/rnn_labs.txt
"""
import numpy as np
import torch


def run(name, alphabet, x_idx, y_idx, steps):
    torch.manual_seed(0)
    size = len(alphabet)
    x = torch.FloatTensor(np.array([np.eye(size)[x_idx]]))
    y = torch.LongTensor([y_idx])
    rnn = torch.nn.RNN(size, size, batch_first=True)
    optimizer = torch.optim.Adam(rnn.parameters(), 0.1)
    for i in range(steps):
        optimizer.zero_grad()
        outputs, _status = rnn(x)
        loss = torch.nn.CrossEntropyLoss()(outputs.view(-1, size), y.view(-1))
        loss.backward()
        optimizer.step()
        prediction = "".join(alphabet[c] for c in outputs.data.numpy().argmax(axis=2)[0])
        print(f"{name} {i} {loss.item():.9g} {prediction}")


hihello = "hielo"
run("rnn-hihello", hihello, [0, 1, 0, 2, 3, 3], [1, 0, 2, 3, 3, 4], 100)

sample = " if you want you"
charseq = ["y", "t", "o", "i", "f", "w", "u", "a", "n", " "]
idx = [charseq.index(c) for c in sample]
run("rnn-charseq", charseq, idx[:-1], idx[1:], 50)
