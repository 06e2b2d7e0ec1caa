#!/usr/bin/python3
"""Export a torchvision model's state dict in the format fedsign's load_weights reads.

fedsign's C++ models (src/fedsign/models/) use torchvision's exact module structure and names,
so a torchvision state dict loads unchanged. The file written is a plain Dict[str, Tensor]
saved with torch.save, which LibTorch's torch::pickle_load reads directly. (fedsign also reads
the OrderedDict of `torch.save(model.state_dict())` through models/python_state_dict.h; this
script is still what unwraps training checkpoints, picks a model and writes key lists.)

No downloads: pretrained weights come from a torchvision checkpoint file you already have
(--weights FILE.pth, e.g. mobilenet_v3_small-047dcff4.pth from ~/.cache/torch/hub/checkpoints/).
Without --weights the model is randomly initialized from --random-seed.

Examples (Debian's python3-torch / python3-torchvision, hence /usr/bin/python3):
  /usr/bin/python3 scripts/export_torchvision.py --model mobilenet_v3_small \\
      --weights mobilenet_v3_small-047dcff4.pth --out mobilenet_v3_small_imagenet.pt
  /usr/bin/python3 scripts/export_torchvision.py --model resnet18 \\
      --keys-out tests/models/fixtures/resnet18_keys.txt
  /usr/bin/python3 scripts/export_torchvision.py --model resnet18 --random-seed 0 \\
      --randomize-bn --out model.pt --reference-out ref.pt

--reference-out writes {"input": N x 3 x S x S, "embedding": N x D (the flattened global
average pool, fedsign's Classifier::embed), "logits": N x num_classes}, computed in eval mode,
so the C++ port can be checked against torchvision (tests/models, TorchvisionReference).
"""

import argparse
import sys

import torch
import torchvision

MODELS = ("mobilenet_v3_small", "mobilenet_v3_large", "resnet18", "resnet50")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, choices=MODELS)
    parser.add_argument("--weights", help="torchvision checkpoint (.pth) to load; no downloads")
    parser.add_argument("--num-classes", type=int, default=1000,
                        help="classes of the model built (default 1000, as ImageNet checkpoints)")
    parser.add_argument("--random-seed", type=int, default=0,
                        help="seed for the random init, the --randomize-bn values and the "
                             "reference input (default 0)")
    parser.add_argument("--randomize-bn", action="store_true",
                        help="give BatchNorm layers random affine parameters and running "
                             "statistics, so a reference check exercises them (a freshly "
                             "initialized BN is the identity in eval mode)")
    parser.add_argument("--out", help="state dict for fedsign's load_weights")
    parser.add_argument("--keys-out", help="sorted 'name [shape]' list of the state-dict keys")
    parser.add_argument("--reference-out", help="reference input batch and eval-mode logits")
    parser.add_argument("--reference-batch", type=int, default=4)
    parser.add_argument("--reference-size", type=int, default=32,
                        help="side of the reference input in px (default 32)")
    args = parser.parse_args(argv)
    if not (args.out or args.keys_out or args.reference_out):
        parser.error("nothing to do: give --out, --keys-out and/or --reference-out")
    return args


def load_checkpoint(model, path):
    state = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model"):  # training-script checkpoints wrap the state dict
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    model.load_state_dict(state)


def randomize_batchnorm(model, generator):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,),
                                                                   generator=generator)))


def main(argv):
    args = parse_args(argv)
    torch.manual_seed(args.random_seed)
    model = getattr(torchvision.models, args.model)(weights=None, num_classes=args.num_classes)
    if args.weights:
        load_checkpoint(model, args.weights)
    generator = torch.Generator().manual_seed(args.random_seed)
    if args.randomize_bn:
        randomize_batchnorm(model, generator)
    model.eval()
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}

    if args.out:
        torch.save(state, args.out)
    if args.keys_out:
        with open(args.keys_out, "w") as out:
            out.write(f"# {args.model} state-dict keys and shapes (torchvision "
                      f"{torchvision.__version__}, {args.num_classes} classes), sorted.\n")
            out.write(f"# Generated by: /usr/bin/python3 scripts/export_torchvision.py --model "
                      f"{args.model} --keys-out tests/models/fixtures/{args.model}_keys.txt\n")
            for name in sorted(state):
                out.write(f"{name} {list(state[name].shape)}\n")
    if args.reference_out:
        size = args.reference_size
        inputs = torch.randn(args.reference_batch, 3, size, size, generator=generator)
        captured = {}
        model.avgpool.register_forward_hook(
            lambda _module, _inputs, output: captured.update(embedding=torch.flatten(output, 1)))
        with torch.no_grad():
            logits = model(inputs)
        torch.save({"input": inputs, "embedding": captured["embedding"], "logits": logits},
                   args.reference_out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
