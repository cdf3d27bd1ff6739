"""Anchor 2: an idiomatic PyTorch loop for the same network and schedule: nn.Linear + sigmoid,
the quadratic cost, torch.optim.SGD, N(0,1) initialisation, the data preloaded as tensors on the
device. --device cuda where torch sees a GPU.
"""
import time

from common import load_mnist, parse_args, report

args = parse_args(__doc__)
import torch  # noqa: E402
from torch import nn  # noqa: E402


def main():
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    tx, ty, vx, vy = load_mnist(args.data, args.train_size)
    X = torch.tensor(tx, dtype=torch.float32, device=device)
    Y = nn.functional.one_hot(torch.tensor(ty, device=device), args.sizes[-1]).float()
    VX = torch.tensor(vx, dtype=torch.float32, device=device)
    VY = torch.tensor(vy, device=device)
    layers = []
    for n_in, n_out in zip(args.sizes[:-1], args.sizes[1:]):
        linear = nn.Linear(n_in, n_out)
        nn.init.normal_(linear.weight)
        nn.init.normal_(linear.bias)
        layers += [linear, nn.Sigmoid()]
    model = nn.Sequential(*layers).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=args.eta)
    n = X.shape[0]
    for epoch in range(args.epochs):
        order = torch.randperm(n, device=device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for k in range(0, n, args.batch):
            idx = order[k:k + args.batch]
            out = model(X[idx])
            # network.py's quadratic cost: mean over the batch of 0.5 * ||a - y||^2
            loss = 0.5 * ((out - Y[idx]) ** 2).sum() / idx.numel()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            correct = (model(VX).argmax(dim=1) == VY).sum().item()
        report("pytorch-" + device.type, epoch, seconds, correct, len(vy))


main()
