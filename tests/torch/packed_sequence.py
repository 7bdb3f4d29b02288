"""Lab 11-6's code (PackedSequence), with its recorded alphabet in place of `list(set(...))`,
for tests/recurrent.rs: what it prints is what `shadergrad train packed-sequence` prints. From
the repository root:

    python tests/torch/packed_sequence.py > tests/torch/packed_sequence.txt
"""
import torch
import numpy as np
from torch.nn.utils.rnn import pad_sequence, pack_sequence, pack_padded_sequence, pad_packed_sequence
data = ['hello world', 'midnight', 'calculation', 'path', 'short circuit']
char_set = ['<pad>','m','i','d','l','n','r','t','s','a','e',' ','p','u','c','h','w','o','g']
char2idx = {char: idx for idx, char in enumerate(char_set)}
print('char_set:', char_set)
print('char_set length:', len(char_set))
X = [torch.LongTensor([char2idx[char] for char in seq]) for seq in data]
for sequence in X:
    print(sequence)
lengths = [len(seq) for seq in X]
print('lengths:', lengths)
padded_sequence = pad_sequence(X, batch_first=True)
print(padded_sequence)
print(padded_sequence.shape)
sorted_idx = sorted(range(len(lengths)), key=lengths.__getitem__, reverse=True)
sorted_X = [X[idx] for idx in sorted_idx]
for sequence in sorted_X:
    print(sequence)
packed_sequence = pack_sequence(sorted_X)
print(packed_sequence)
eye = torch.eye(len(char_set))
embedded_tensor = eye[padded_sequence]
print(embedded_tensor.shape)
embedded_packed_seq = pack_sequence([eye[X[idx]] for idx in sorted_idx])
print(embedded_packed_seq.data.shape)
rnn = torch.nn.RNN(input_size=len(char_set), hidden_size=30, batch_first=True)
rnn_output, hidden = rnn(embedded_tensor)
print(rnn_output.shape)
print(hidden.shape)
rnn_output, hidden = rnn(embedded_packed_seq)
print(rnn_output.data.shape)
print(hidden.data.shape)
unpacked_sequence, seq_lengths = pad_packed_sequence(embedded_packed_seq, batch_first=True)
print(unpacked_sequence.shape)
print(seq_lengths)
embedded_padded_sequence = eye[pad_sequence(sorted_X, batch_first=True)]
print(embedded_padded_sequence.shape)
sorted_lengths = sorted(lengths, reverse=True)
new_packed_sequence = pack_padded_sequence(embedded_padded_sequence, sorted_lengths, batch_first=True)
print(new_packed_sequence.data.shape)
print(new_packed_sequence.batch_sizes)
