#!/usr/bin/python3
"""The Python/PyTorch baseline of `fedsign train`: the same compact CNN, batch, optimizer, loss,
schedule and thread count, fed the way a typical Python stack does it: a Dataset that decodes
every PNG with PIL on each access, crops the ROI, applies torchvision transforms (resize to
32x32, RandomAffine, RandomPerspective, ColorJitter, occasional GaussianBlur, ToTensor,
Normalize) and a DataLoader (shuffle, batch 128, N worker processes).

Measures end-to-end training images/second (loading + augmentation + training) for one epoch,
or a fixed number of steps, and prints one JSON object per run on stdout.

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14), e.g.
  /usr/bin/python3 bench/python_pipeline.py --data ../shared/data/gtsrb --workers 1
  /usr/bin/python3 bench/python_pipeline.py --data ... --workers 0,1,2 --precision fp32,bf16
  /usr/bin/python3 bench/python_pipeline.py --data ... --epochs 30 --eval   # accuracy run
"""
import argparse
import csv
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


# --- model: identical to src/fedsign/models/compact_cnn.cpp (same parameter names) ------------
def make_stage(cin, cout, convs, pool):
    layers = []
    for i in range(convs):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
                   nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class CompactCnn(nn.Module):
    def __init__(self, num_classes=43, dropout=0.3):
        super().__init__()
        self.stage1 = make_stage(3, 32, 2, True)
        self.stage2 = make_stage(32, 64, 2, True)
        self.stage3 = make_stage(64, 128, 2, True)
        self.stage4 = make_stage(128, 256, 1, False)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(256, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.head(self.dropout(x))


# --- data -----------------------------------------------------------------------------------
def read_records(root):
    """Train.csv rows as (path, (x1, y1, x2, y2), class, track); track = class*100000 + TTTTT."""
    records = []
    with open(os.path.join(root, "Train.csv"), newline="") as f:
        for row in csv.DictReader(f):
            path = row["Path"]
            cls = int(row["ClassId"])
            track = cls * 100000 + int(os.path.basename(path).split("_")[1])
            roi = tuple(int(row[k]) for k in ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"))
            records.append((os.path.join(root, path), roi, cls, track))
    return records


def split_by_track(records, val_fraction, seed):
    """Per class, whole tracks to validation until about val_fraction of its images."""
    rng = random.Random(seed)
    by_class = {}
    for i, r in enumerate(records):
        by_class.setdefault(r[2], {}).setdefault(r[3], []).append(i)
    train, val = [], []
    for cls in sorted(by_class):
        tracks = sorted(by_class[cls])
        rng.shuffle(tracks)
        total = sum(len(by_class[cls][t]) for t in tracks)
        taken = 0
        for t in tracks:
            idx = by_class[cls][t]
            if len(tracks) > 1 and taken < val_fraction * total:
                val += idx
                taken += len(idx)
            else:
                train += idx
    return sorted(train), sorted(val)


class GtsrbDataset(Dataset):
    """Decodes the PNG with PIL on every access (no cache), crops the ROI, transforms."""

    def __init__(self, records, indices, transform, contrast="none"):
        self.records = records
        self.indices = indices
        self.transform = transform
        self.contrast = contrast

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        path, (x1, y1, x2, y2), cls, _ = self.records[self.indices[i]]
        with Image.open(path) as im:
            img = im.convert("RGB").crop((x1, y1, x2 + 1, y2 + 1))  # GTSRB ROIs are inclusive
        if self.contrast == "equalize":
            img = ImageOps.equalize(img)
        return self.transform(img), cls


def train_transform(size):
    # Same augmentation families and strengths as fedsign's AugmentConfig defaults, applied
    # after resizing (cheapest placement, i.e. the most favourable one for Python).
    return T.Compose([
        T.Resize((size, size)),
        T.RandomAffine(degrees=12, translate=(0.08, 0.08), scale=(0.88, 1.12), shear=6),
        T.RandomPerspective(distortion_scale=0.12, p=0.5),
        T.ColorJitter(brightness=0.35, contrast=0.35, saturation=0.35),
        T.RandomApply([T.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.15),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
    ])


def eval_transform(size):
    return T.Compose([T.Resize((size, size)), T.ToTensor(), T.Normalize(MEAN, STD)])


# --- training -------------------------------------------------------------------------------
def lr_at(step, base_lr, warmup_steps, total_steps):
    """fedsign's schedule: linear warm-up from 0, then cosine to 0 (ScheduleKind::kCosine)."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = min(1.0, (step - warmup_steps) / max(1, total_steps))
    return 0.5 * base_lr * (1 + math.cos(math.pi * t))


def evaluate(model, loader, bf16, channels_last):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(x)
            correct += (logits.float().argmax(1) == y).sum().item()
            total += len(y)
    model.train()
    return correct / max(1, total)


def run(args, records, train_idx, val_idx, workers, precision):
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    bf16 = precision == "bf16"
    channels_last = bf16 if args.memory_format == "auto" else args.memory_format == "channels-last"
    model = CompactCnn()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    dataset = GtsrbDataset(records, train_idx, train_transform(args.size), args.contrast)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=workers,
                        drop_last=False, persistent_workers=workers > 0 and args.epochs > 1)
    steps_per_epoch = len(loader)
    warmup = steps_per_epoch  # 1 warm-up epoch, as fedsign's default
    total = max(1, args.epochs * steps_per_epoch - warmup)
    val_loader = None
    if args.eval and val_idx:
        val_loader = DataLoader(GtsrbDataset(records, val_idx, eval_transform(args.size),
                                             args.contrast),
                                batch_size=512, num_workers=workers)

    step = 0
    epochs = []
    for epoch in range(1, args.epochs + 1):
        images = steps = 0
        loss_sum = correct = 0.0
        steady_start = None
        steady_images = 0
        start = time.perf_counter()  # includes DataLoader worker start-up: part of the pipeline
        for x, y in loader:
            if args.steps and steps >= args.steps:
                break
            if len(y) < 2:  # as fedsign: a batch of one breaks BatchNorm
                continue
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            for g in optimizer.param_groups:
                g["lr"] = lr_at(step, args.lr, warmup, total)
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(x)
            logits = logits.float()
            loss = criterion(logits, y)
            loss.backward()
            optimizer.step()
            step += 1
            steps += 1
            images += len(y)
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            if steps == 3:
                steady_start = time.perf_counter()
            elif steps > 3:
                steady_images += len(y)
        seconds = time.perf_counter() - start
        record = {"epoch": epoch, "images": images, "steps": steps, "seconds": round(seconds, 3),
                  "images_per_second": round(images / seconds, 1),
                  "steady_images_per_second":
                      round(steady_images / (time.perf_counter() - steady_start), 1)
                      if steady_start and steady_images else None,
                  "train_loss": round(loss_sum / max(1, images), 4),
                  "train_accuracy": round(correct / max(1, images), 4)}
        if val_loader is not None:
            record["val_accuracy"] = round(evaluate(model, val_loader, bf16, channels_last), 4)
        epochs.append(record)
        print(json.dumps({"epoch_progress": record}), file=sys.stderr, flush=True)
    images = sum(e["images"] for e in epochs)
    seconds = sum(e["seconds"] for e in epochs)
    result = {
        "pipeline": "python",
        "precision": precision,
        "memory_format": "channels-last" if channels_last else "contiguous",
        "workers": workers,
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "contrast": args.contrast,
        "train_images": len(train_idx),
        "images": images,
        "seconds": round(seconds, 3),
        "images_per_second": round(images / seconds, 1),
        "steady_images_per_second": epochs[-1]["steady_images_per_second"],
        "epochs": epochs,
        "torch": torch.__version__,
    }
    if val_loader is not None:
        result["val_accuracy"] = epochs[-1]["val_accuracy"]
        result["best_val_accuracy"] = max(e["val_accuracy"] for e in epochs)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="../shared/data/gtsrb", help="GTSRB Kaggle-layout folder")
    p.add_argument("--workers", default="1", help="DataLoader workers; comma list to try several")
    p.add_argument("--precision", default="fp32", help="fp32, bf16 (autocast), or a comma list")
    p.add_argument("--memory-format", default="auto", choices=["auto", "contiguous", "channels-last"],
                   help="auto: channels-last with bf16, contiguous with fp32")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (main process)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=0, help="stop each epoch after this many steps")
    p.add_argument("--max-images", type=int, default=0,
                   help="train on this many images (0: the whole training split; more than the "
                        "split borrows validation images unless --eval)")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--contrast", default="none", choices=["none", "equalize"],
                   help="per-image contrast normalization (fedsign's default CLAHE is done once "
                        "at cache time, so 'none' is the cheaper, Python-favouring choice)")
    p.add_argument("--eval", action="store_true", help="validate on the track-disjoint split")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    records = read_records(args.data)
    train_idx, val_idx = split_by_track(records, args.val_fraction, seed=1)
    if args.max_images and args.max_images < len(train_idx):
        train_idx = sorted(random.Random(0).sample(train_idx, args.max_images))
    elif args.max_images > len(train_idx) and not args.eval:
        # Throughput runs: match another pipeline's image count exactly (its split differs
        # slightly) by borrowing validation images; with --eval the split stays disjoint.
        extra = random.Random(0).sample(val_idx, min(len(val_idx), args.max_images - len(train_idx)))
        train_idx = sorted(train_idx + extra)
    for workers in [int(w) for w in args.workers.split(",")]:
        for precision in args.precision.split(","):
            try:
                result = run(args, records, train_idx, val_idx, workers, precision)
            except RuntimeError as e:  # e.g. bf16 autocast unsupported on this CPU/build
                result = {"pipeline": "python", "precision": precision, "workers": workers,
                          "error": str(e).splitlines()[0]}
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
