#!/usr/bin/python3
"""The ONNX backend cases (core scope) that the CUDA target supports, built here and run on a
GPU host against their stored outputs.

  cuda_conformance.py build SOFIEC CASES_DIR OUT_DIR [--group N] [--jobs J] [--nvcc NVCC] [--no-run-data]
      writes each core case's --target cuda header (cases sofiec refuses are listed as
      unsupported, with the reason), keeps those whose inputs and outputs are float32, int64,
      int32 or bool, converts their test_data_set_0 to raw files of those types, and compiles
      them, N to a program, with nvcc under -Wall -Wextra -Werror (tests/cuda/conformance_check.cuh
      is the driver). Exits non-zero if a header does not compile.
  cuda_conformance.py run OUT_DIR
      (on the GPU host) runs the programs; prints one line per case and a summary; exits
      non-zero if any case fails.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
ARCH = "arch=compute_90,code=[sm_90,compute_90]"


def types_of(header, which):
    m = re.search(rf"std::array<const char\*, \d+> {which}_types\{{\{{([^}}]*)\}}\}};", header)
    return re.findall(r'"([^"]+)"', m.group(1)) if m else []


# The element types the CUDA target runs (the Session's type names) and their numpy types.
RAW_TYPES = {"float": "float32", "int64": "int64", "int32": "int32", "bool": "bool"}


def to_raw(pb, out, type_name):
    from onnx import TensorProto, numpy_helper
    t = TensorProto()
    t.ParseFromString(pb.read_bytes())
    numpy_helper.to_array(t).astype(RAW_TYPES[type_name]).tofile(out)


def build(args):
    out = Path(args.out).resolve()
    (out / "headers").mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    cases_dir = Path(args.cases)
    scope = [line.split()[0] for line in (cases_dir / "core_scope.txt").read_text().splitlines() if line.strip()]

    def generate(index_case):
        index, case = index_case
        ns = f"c{index}"
        header = out / "headers" / f"{ns}.cuh"
        r = subprocess.run([args.sofiec, str(cases_dir / case / "model.onnx"), "--target", "cuda", "--namespace", ns,
                            "-o", str(header)], capture_output=True, text=True)
        if r.returncode != 0:
            return case, ns, "unsupported: " + (r.stderr.strip().splitlines() or ["?"])[-1][:200]
        text = header.read_text()
        ins, outs = types_of(text, "input"), types_of(text, "output")
        data = cases_dir / case / "test_data_set_0"
        pbs_in, pbs_out = sorted(data.glob("input_*.pb")), sorted(data.glob("output_*.pb"))
        if any(t not in RAW_TYPES for t in ins + outs):
            reason = "a tensor that is not float32, int64, int32 or bool"
        elif len(pbs_in) != len(ins) or len(pbs_out) != len(outs):
            reason = "test data does not match the Session's inputs and outputs"
        else:
            folder = out / "data" / ns
            folder.mkdir(exist_ok=True)
            for i, pb in enumerate(sorted(pbs_in, key=lambda p: int(p.stem.split("_")[1]))):
                to_raw(pb, folder / f"input_{i}.bin", ins[i])
            for i, pb in enumerate(sorted(pbs_out, key=lambda p: int(p.stem.split("_")[1]))):
                to_raw(pb, folder / f"output_{i}.bin", outs[i])
            return case, ns, ""
        header.unlink()
        return case, ns, reason

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(generate, enumerate(scope)))
    kept = [(case, ns) for case, ns, reason in results if not reason]
    skipped = [(case, reason) for case, _, reason in results if reason]
    (out / "skipped.txt").write_text("".join(f"{c}\t{r}\n" for c, r in skipped))
    groups = [kept[i:i + args.group] for i in range(0, len(kept), args.group)]
    sources = []
    for g, group in enumerate(groups):
        cu = out / f"group_{g}.cu"
        includes = "".join(f'#include "headers/{ns}.cuh"\n' for _, ns in group)
        table = "".join(f'    {{"{case}", conformance::check<{ns}::Session>}},\n' for case, ns in group)
        names = "".join(f'    "{ns}",\n' for _, ns in group)
        cu.write_text(
            f"// Written by tools/cuda_conformance.py: {len(group)} ONNX backend cases on the CUDA target.\n"
            f"{includes}#include \"conformance_check.cuh\"\n\n"
            f"static const conformance::Case kCases[] = {{\n{table}}};\n"
            f"static const char* const kFolders[] = {{\n{names}}};\n\n"
            "int main(int argc, char** argv) {\n"
            "  const std::string data = argc > 1 ? argv[1] : \"data\";\n"
            "  int failed = 0;\n"
            "  for (std::size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); ++i)\n"
            "    if (!kCases[i].run(kCases[i].name, data + \"/\" + kFolders[i])) ++failed;\n"
            "  return failed ? 1 : 0;\n}\n")
        sources.append(cu)

    def compile_group(cu):
        r = subprocess.run([args.nvcc, "-std=c++17", "-O1", "-gencode", ARCH, "-Xcompiler", "-Wall,-Wextra,-Werror",
                            "-I", str(SOURCE / "tests" / "cuda"), "-I", str(out), str(cu), "-o",
                            str(cu.with_suffix("")), "-cudart", "shared", "-lcublas", "-lcublasLt"],
                           capture_output=True, text=True)
        return cu, r.returncode, r.stdout + r.stderr

    failures = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for cu, rc, text in pool.map(compile_group, sources):
            if rc != 0 or "warning" in text:
                failures += 1
                print(f"{cu.name}: nvcc {'failed' if rc else 'warned'}:\n{text[:4000]}", file=sys.stderr)
    print(f"{len(kept)} of {len(scope)} core cases in {len(sources)} CUDA programs; {len(skipped)} skipped "
          f"(skipped.txt); {failures} programs failed to compile")
    return 1 if failures else 0


def run(args):
    out = Path(args.out)
    passed = failed = 0
    for program in sorted(out.glob("group_*")):
        if program.suffix:
            continue
        r = subprocess.run([str(program), str(out / "data")], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            print(line)
            passed += line.startswith("pass ")
            failed += line.startswith("FAIL ")
        if r.returncode not in (0, 1) or r.stderr.strip():
            failed += 1
            print(f"FAIL {program.name}: exit {r.returncode} {r.stderr.strip()[:500]}")
    print(f"cuda conformance: {passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("sofiec")
    b.add_argument("cases")
    b.add_argument("out")
    b.add_argument("--group", type=int, default=40)
    b.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    b.add_argument("--nvcc", default=os.environ.get("NVCC", "/usr/local/cuda/bin/nvcc"))
    r = sub.add_parser("run")
    r.add_argument("out")
    args = p.parse_args()
    return build(args) if args.command == "build" else run(args)


if __name__ == "__main__":
    sys.exit(main())
