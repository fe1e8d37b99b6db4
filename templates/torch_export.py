"""sofiec's PyTorch front-end, which `sofiec model.pt --input-shape NAME=SHAPE ...` runs with the
user's own interpreter (--python-exe) and torch: loads a TorchScript file (torch.jit.save) or,
where the installed torch has torch.export, an exported program (.pt2, torch.export.save), and
exports it to ONNX; sofiec then compiles that as any ONNX model.

    python3 torch_export.py MODEL OUT.onnx [--input NAME=SHAPE[:DTYPE] ...] [--opset N]

SHAPE is comma-separated dims: a number, a name (a run-time dim of that name, shared by every
input that uses it) or '?' (a run-time dim named <input>_<axis>). DTYPE: float32 (default),
float64, float16, int64, int32, int8, uint8, bool. Inputs are matched to forward()'s parameters
by name, in forward()'s order.

Problems are one line on stderr starting with "sofiec-torch: ", and exit status 3 (no torch),
4 (the file cannot be loaded), 5 (the inputs do not fit forward()) or 6 (the export failed).
"""
import argparse
import os
import sys

DTYPES = ("float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool")


def fail(status, message):
    sys.stderr.write("sofiec-torch: " + " ".join(str(message).split()) + "\n")
    sys.exit(status)


def parse_input(spec):
    name, eq, rest = spec.partition("=")
    if not eq or not name:
        fail(5, f"--input-shape '{spec}': expected NAME=SHAPE, e.g. x=1,100 or x=batch,100")
    shape, _, dtype = rest.partition(":")
    dtype = dtype or "float32"
    if dtype not in DTYPES:
        fail(5, f"--input-shape '{spec}': the type must be one of {', '.join(DTYPES)}")
    dims = []
    for axis, d in enumerate(x.strip() for x in shape.split(",") if x.strip()):
        if d.isdigit():
            dims.append(int(d))
        elif d == "?":
            dims.append(f"{name}_{axis}")
        elif d.replace("_", "a").isalnum() and not d[0].isdigit():
            dims.append(d)
        else:
            fail(5, f"--input-shape '{spec}': dim '{d}' is neither a number, a name nor '?'")
    return name, dims, dtype


def load(torch, path):
    if path.endswith(".pt2"):
        if not hasattr(torch, "export") or not hasattr(torch.export, "load"):
            fail(4, f"{path}: exported programs (.pt2) need torch 2.1 or later; this is torch {torch.__version__}")
        try:
            return torch.export.load(path).module()
        except Exception as e:  # noqa: BLE001 (torch raises many kinds)
            fail(4, f"{path}: torch.export.load failed: {e}")
    try:
        return torch.jit.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001
        fail(4, f"{path}: not a TorchScript file torch.jit.load can read ({type(e).__name__}: {str(e)[:200]})")


def forward_parameters(module):
    """forward()'s parameters, and those of them that have a default (left out unless given)."""
    try:
        arguments = module.forward.schema.arguments[1:]
        return [a.name for a in arguments], {a.name for a in arguments if a.default_value is not None}
    except AttributeError:
        import inspect

        parameters = inspect.signature(module.forward).parameters.values()
        return [p.name for p in parameters], {p.name for p in parameters if p.default is not p.empty}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("output")
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args()
    try:
        import torch
    except ImportError as e:
        fail(3, f"{args.model} is a PyTorch file and {sys.executable} cannot import torch ({e}); install PyTorch "
                "for it, or name another interpreter with --python-exe")
    module = load(torch, args.model)
    if isinstance(module, torch.jit.ScriptModule):
        module.eval()  # (an exported program is in inference mode already, and refuses eval())
    params, optional = forward_parameters(module)
    given = dict()
    for spec in args.input:
        name, dims, dtype = parse_input(spec)
        if name not in params:
            fail(5, f"--input-shape {name}: forward() of {os.path.basename(args.model)} takes ({', '.join(params)})")
        given[name] = (dims, dtype)
    # Parameters with a default (an optional mask...) keep it unless given a shape.
    params = [p for p in params if p in given or p not in optional]
    missing = [p for p in params if p not in given]
    if missing:
        fail(5, f"{os.path.basename(args.model)} is a PyTorch file: give the shape of each input of "
                f"forward({', '.join(params)}) with --input-shape NAME=SHAPE, e.g. {missing[0]}=1,100 (a name or ? "
                f"for a run-time dim); missing: {', '.join(missing)}")

    # Example values: each run-time dim gets a size of its own (distinct primes, so that the
    # export cannot mistake one dim for another or for a constant 1).
    sizes, primes = {}, iter([7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73])
    torch.manual_seed(0)
    examples, dynamic_axes = [], {}
    for name in params:
        dims, dtype = given[name]
        shape = []
        for axis, d in enumerate(dims):
            if isinstance(d, str):
                if d not in sizes:
                    sizes[d] = next(primes, None)
                    if sizes[d] is None:
                        fail(5, f"{os.path.basename(args.model)}: more than 18 run-time dims")
                shape.append(sizes[d])
                dynamic_axes.setdefault(name, {})[axis] = d
            else:
                shape.append(d)
        t = getattr(torch, dtype)
        if t.is_floating_point:
            examples.append(torch.randn(shape, dtype=t))
        else:
            examples.append(torch.zeros(shape, dtype=t))
    with torch.no_grad():
        try:
            result = module(*examples)
        except Exception as e:  # noqa: BLE001
            fail(5, f"{os.path.basename(args.model)}: forward() fails on inputs of the shapes given: "
                    f"{type(e).__name__}: {str(e)[:300]}")
        flat = list(result) if isinstance(result, (tuple, list)) else [result]
        if not all(isinstance(t, torch.Tensor) for t in flat):
            fail(6, f"{os.path.basename(args.model)}: forward() returns {type(result).__name__} of other than tensors; "
                    "sofiec takes a tensor or a flat tuple of tensors")
        outputs = ["output"] if len(flat) == 1 else [f"output_{i}" for i in range(len(flat))]
        options = dict(input_names=params, output_names=outputs, dynamic_axes=dynamic_axes or None,
                       opset_version=args.opset, do_constant_folding=True)
        import inspect

        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            options["dynamo"] = False  # the TorchScript exporter: dynamic_axes as given, no onnxscript needed
        try:
            torch.onnx.export(module, tuple(examples), args.output, **options)
        except Exception as e:  # noqa: BLE001
            fail(6, f"{os.path.basename(args.model)}: torch.onnx.export (torch {torch.__version__}, opset {args.opset}) failed: "
                    f"{type(e).__name__}: {str(e)[:300]}")


if __name__ == "__main__":
    main()
