"""The course's RNN labs (11-2-2 "hihello", 11-2-1 char-seq, 11-3 long sequences and 11-4's
LSTM on stock prices) as the lab's code runs them on PyTorch's CPU, printing `recipe step
loss prediction` for every step (no prediction for 11-4): the reference for `shadergrad train
rnn-hihello --init torch --uniform fused`, `rnn-charseq`, `rnn-longseq` and `lstm-stock`
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


class LongSeq(torch.nn.Module):
    def __init__(self, size):
        super().__init__()
        self.rnn = torch.nn.RNN(size, size, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(size, size, bias=True)

    def forward(self, x):
        x, _status = self.rnn(x)
        return self.fc(x)


def longseq(steps):
    sentence = ("if you want to build a ship, don't drum up people together to collect wood and don't assign "
                "them tasks and work, but rather teach them to long for the endless immensity of the sea.")
    alphabet = sorted(set(sentence))
    idx = [alphabet.index(c) for c in sentence]
    x_idx = [idx[i:i + 10] for i in range(len(idx) - 10)]
    y_idx = [idx[i + 1:i + 11] for i in range(len(idx) - 10)]
    torch.manual_seed(0)
    size = len(alphabet)
    x = torch.FloatTensor(np.array([np.eye(size)[w] for w in x_idx]))
    y = torch.LongTensor(y_idx)
    net = LongSeq(size)
    optimizer = torch.optim.Adam(net.parameters(), 0.1)
    for i in range(steps):
        optimizer.zero_grad()
        outputs = net(x)
        loss = torch.nn.CrossEntropyLoss()(outputs.view(-1, size), y.view(-1))
        loss.backward()
        optimizer.step()
        results = outputs.argmax(dim=2)
        predict = "".join(alphabet[c] for c in results[0]) + "".join(alphabet[r[-1]] for r in results[1:])
        print(f"rnn-longseq {i} {loss.item():.9g} {predict}")


hihello = "hielo"
run("rnn-hihello", hihello, [0, 1, 0, 2, 3, 3], [1, 0, 2, 3, 3, 4], 100)

sample = " if you want you"
charseq = ["y", "t", "o", "i", "f", "w", "u", "a", "n", " "]
idx = [charseq.index(c) for c in sample]
run("rnn-charseq", charseq, idx[:-1], idx[1:], 50)

longseq(100)


def lstm_stock(steps):
    # Lab 11-4, as its code reads, scales and windows the file.
    xy = np.loadtxt("assets/csv/data-02-stock_daily.csv", delimiter=",")[::-1]
    train_size = int(len(xy) * 0.7)
    train_set, test_set = xy[0:train_size], xy[train_size - 7:]

    def minmax(data):
        return (data - np.min(data, 0)) / (np.max(data, 0) - np.min(data, 0) + 1e-7)

    def windows(data):
        x = [data[i:i + 7, :] for i in range(len(data) - 7)]
        y = [data[i + 7, [-1]] for i in range(len(data) - 7)]
        return np.array(x), np.array(y)

    train_x, train_y = windows(minmax(train_set))
    x, y = torch.FloatTensor(train_x), torch.FloatTensor(train_y)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(5, 10, num_layers=1, batch_first=True)
            self.fc = torch.nn.Linear(10, 1, bias=True)

        def forward(self, x):
            x, _status = self.rnn(x)
            return self.fc(x[:, -1])

    torch.manual_seed(0)
    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for i in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.MSELoss()(net(x), y)
        loss.backward()
        optimizer.step()
        print(f"lstm-stock {i} {loss.item():.9g}")


lstm_stock(500)
