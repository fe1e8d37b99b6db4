#!/usr/bin/python3
"""Write real Keras file layouts for the test models.

Input (per model folder under tests/keras/data/): what make_models.mjs wrote
(config.json from tfjs, weights.json + weights.bin, input/output .npy files).
Four models whose layers tfjs lacks (transformer: MultiHeadAttention;
gru_reset_after: GRU(reset_after=True); extra_layers and extra_layers_keras2:
1-D conv variants, Subtract, Dot, bilinear UpSampling2D, ReLU/ELU options, LSTM
states, output_padding, ...) are built here instead: seeded weights and a float64
numpy forward pass give their reference outputs (check_numpy_refs.py checks the
numpy code of the last two against loops and hand-worked cases).

Output, per model, in the same folder:
  model.h5                 Keras 2 (2.12) model.save("model.h5")
  arch.json + weights.h5   Keras 2 model.to_json() / model.save_weights()
  model.keras              Keras 3 (3.10) model.save("model.keras")
See README.md for the exact layouts.

Usage: /usr/bin/python3 tests/keras/write_keras_files.py
"""
import copy
import io
import json
import math
import os
import re
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
K2_VERSION = "2.12.0"
K3_VERSION = "3.10.0"
# Fixed so that regenerating gives identical files.
K3_DATE = "2025-06-01@12:00:00"
ZIP_DATE = (2025, 6, 1, 12, 0, 0)

RNN_CELL = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}


def snake(name):
    """keras.src.utils.naming.to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# --------------------------------------------------------------------------
# tfjs config -> Keras 2 (legacy, as written by model.save(h5)) config
# --------------------------------------------------------------------------
def k2_initializer(init):
    if init is None:
        return None
    cn, cfg = init["class_name"], dict(init.get("config", {}))
    if cn == "VarianceScaling":
        key = (cfg.get("mode"), cfg.get("distribution"), float(cfg.get("scale", 1)))
        named = {("fan_avg", "uniform", 1.0): "GlorotUniform",
                 ("fan_avg", "normal", 1.0): "GlorotNormal",
                 ("fan_in", "normal", 2.0): "HeNormal",
                 ("fan_in", "uniform", 2.0): "HeUniform"}
        if key in named:
            return {"class_name": named[key], "config": {"seed": cfg.get("seed")}}
        if cfg.get("distribution") == "normal":
            cfg["distribution"] = "truncated_normal"
        cfg["scale"] = float(cfg["scale"])
        return {"class_name": cn, "config": cfg}
    if cn == "Orthogonal":
        cfg["gain"] = float(cfg.get("gain", 1.0))
    return {"class_name": cn, "config": cfg}


def to_k2_layer_config(class_name, cfg, in_shape):
    """Normalize one tfjs layer config to the Keras 2.12 get_config()."""
    c = copy.deepcopy(cfg)
    c.setdefault("dtype", "float32")
    for k in list(c):
        if k.endswith("_initializer"):
            c[k] = k2_initializer(c[k])
    rank = len(in_shape) if in_shape else None
    if class_name in ("BatchNormalization", "LayerNormalization"):
        ax = c["axis"] if isinstance(c["axis"], list) else [c["axis"]]
        c["axis"] = [a + rank if a < 0 else a for a in ax]  # validated in build()
    if class_name == "BatchNormalization":
        c["momentum"] = float(c["momentum"])
    if class_name == "Embedding":
        c["mask_zero"] = bool(c.get("mask_zero") or False)
    if class_name in RNN_CELL:
        if class_name == "SimpleRNN":
            c.pop("implementation", None)
        else:
            c["implementation"] = 2
        if class_name == "LSTM":
            c["unit_forget_bias"] = True if c.get("unit_forget_bias") is None else c["unit_forget_bias"]
        if class_name == "GRU":
            c.setdefault("reset_after", True)
        c["time_major"] = False
        c["dropout"] = float(c.get("dropout", 0))
        c["recurrent_dropout"] = float(c.get("recurrent_dropout", 0))
    if class_name == "ReLU":
        c.setdefault("negative_slope", 0.0)
        c.setdefault("threshold", 0.0)
    if class_name in ("LeakyReLU", "ELU"):
        c["alpha"] = float(c.get("alpha", 0.3 if class_name == "LeakyReLU" else 1.0))
    if class_name == "Dropout":
        c.setdefault("noise_shape", None)
        c.setdefault("seed", None)
    if class_name in ("Bidirectional", "TimeDistributed"):
        inner = c["layer"]
        inner_in = list(in_shape)[1:] if class_name == "TimeDistributed" else in_shape
        inner["config"] = to_k2_layer_config(inner["class_name"], inner["config"],
                                             inner_in)
    if class_name == "UpSampling2D":
        c.setdefault("interpolation", "nearest")
    return c


def infer_input_shapes(tcfg, manifest):
    """layer name -> input shape (list of shapes for several inputs), taken
    from the producing layers' output shapes."""
    outs = {l["name"]: l.get("output_shape") for l in manifest["layers"]}
    shapes = {}
    layers = tcfg["config"]["layers"]
    if tcfg["class_name"] == "Sequential":
        prev = layers[0]["config"]["batch_input_shape"]
        for l in layers:
            shapes[l["config"]["name"]] = prev
            prev = outs[l["config"]["name"]]
        return shapes
    for l in layers:
        if not l["inbound_nodes"]:
            shapes[l["name"]] = None
            continue
        refs = l["inbound_nodes"][0]
        ins = [outs[r[0]] for r in refs]
        shapes[l["name"]] = ins[0] if len(ins) == 1 else ins
    return shapes


def convert_tfjs_config(tcfg, manifest):
    """tfjs model.toJSON() -> Keras 2.12 {"class_name", "config"} dict."""
    shapes = infer_input_shapes(tcfg, manifest)
    cls = tcfg["class_name"]
    cfg = tcfg["config"]
    if cls == "Sequential":
        layers = []
        first = cfg["layers"][0]["config"]
        batch_shape = first["batch_input_shape"]
        layers.append({"class_name": "InputLayer", "config": {
            "batch_input_shape": batch_shape, "dtype": "float32", "sparse": False,
            "ragged": False, "name": "input_1"}})
        for l in cfg["layers"]:
            c = to_k2_layer_config(l["class_name"], l["config"], shapes[l["config"]["name"]])
            layers.append({"class_name": l["class_name"], "config": c})
        return {"class_name": "Sequential", "config": {"name": cfg["name"], "layers": layers}}
    layers = []
    for l in cfg["layers"]:
        if l["class_name"] == "InputLayer":
            c = dict(l["config"])
            c["ragged"] = False
            c = {"batch_input_shape": c["batch_input_shape"], "dtype": c.get("dtype", "float32"),
                 "sparse": bool(c.get("sparse", False)), "ragged": False, "name": c["name"]}
        else:
            c = to_k2_layer_config(l["class_name"], l["config"], shapes[l["name"]]
                                   if not isinstance(shapes[l["name"]][0], list) else None)
        layers.append({"class_name": l["class_name"], "config": c, "name": l["name"],
                       "inbound_nodes": l["inbound_nodes"]})
    return {"class_name": "Functional", "config": {
        "name": cfg["name"], "layers": layers,
        "input_layers": cfg["input_layers"], "output_layers": cfg["output_layers"]}}


# --------------------------------------------------------------------------
# Keras 2 config -> Keras 3 config (serialization_lib.serialize_keras_object)
# --------------------------------------------------------------------------
def k3_obj(module, class_name, config, registered_name=None):
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": registered_name}


def k3_dtype(name="float32"):
    return k3_obj("keras", "DTypePolicy", {"name": name})


def k3_initializer(init):
    if init is None:
        return None
    cfg = dict(init["config"])
    if init["class_name"] in ("GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform",
                              "Orthogonal", "RandomUniform", "RandomNormal",
                              "VarianceScaling", "TruncatedNormal"):
        cfg.setdefault("seed", None)
    return k3_obj("keras.initializers", init["class_name"], cfg)


def to_k3_layer_config(class_name, c2):
    c = copy.deepcopy(c2)
    for k in ("batch_input_shape", "input_shape", "input_dtype", "time_major",
              "implementation"):
        c.pop(k, None)
    c["dtype"] = k3_dtype(c.get("dtype") or "float32")
    for k in list(c):
        if k.endswith("_initializer"):
            c[k] = k3_initializer(c[k])
    if class_name in ("BatchNormalization", "LayerNormalization"):
        c["axis"] = -1  # all fixture models normalize the last axis
        if class_name == "BatchNormalization":
            c["synchronized"] = False
        else:
            c["rms_scaling"] = False
    if class_name == "LeakyReLU":
        c["negative_slope"] = c.pop("alpha")
    if class_name == "Embedding":
        c.pop("input_length", None)
    if class_name in ("Conv1D", "Conv2D"):
        c.setdefault("groups", 1)
    if class_name in ("Conv1DTranspose", "Conv2DTranspose", "DepthwiseConv1D",
                      "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"):
        # Keras 3.10 get_config has no groups for these, and the transposed
        # convolutions have no output_padding (only from Keras 3.11).
        c.pop("groups", None)
        if c.pop("output_padding", None) is not None:
            raise ValueError(f"{class_name} output_padding: Keras 3.10 cannot save it")
    if class_name == "SeparableConv1D" or class_name == "SeparableConv2D":
        for k in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            c.pop(k, None)
    if class_name == "ZeroPadding1D":
        c.setdefault("data_format", "channels_last")  # Keras 3 ZeroPadding1D has it
    if class_name in RNN_CELL:
        c["seed"] = None
    if class_name in ("GlobalAveragePooling1D", "GlobalAveragePooling2D",
                      "GlobalMaxPooling1D", "GlobalMaxPooling2D"):
        c["keepdims"] = False
    return c


def k3_layer(class_name, c2, build_input_shape):
    """Serialize one layer the way Keras 3 does (without functional keys)."""
    if class_name == "InputLayer":
        return k3_obj("keras.layers", "InputLayer", {
            "batch_shape": c2["batch_input_shape"], "dtype": c2.get("dtype", "float32"),
            "sparse": False, "ragged": False, "name": c2["name"]})
    c = to_k3_layer_config(class_name, c2)
    if class_name == "Bidirectional":
        inner = c2["layer"]
        fwd = copy.deepcopy(inner["config"])
        fwd["name"] = "forward_" + fwd["name"]
        bwd = copy.deepcopy(inner["config"])
        bwd["name"] = "backward_" + bwd["name"]
        bwd["go_backwards"] = not bwd.get("go_backwards", False)
        c = {"name": c2["name"], "trainable": c2.get("trainable", True),
             "dtype": k3_dtype(), "merge_mode": c2["merge_mode"],
             "layer": k3_layer(inner["class_name"], fwd, build_input_shape),
             "backward_layer": k3_layer(inner["class_name"], bwd, build_input_shape)}
    if class_name == "TimeDistributed":
        inner = c2["layer"]
        inner_shape = [build_input_shape[0]] + list(build_input_shape[2:])
        c = {"name": c2["name"], "trainable": c2.get("trainable", True),
             "dtype": k3_dtype(),
             "layer": k3_layer(inner["class_name"], inner["config"], inner_shape)}
    out = k3_obj("keras.layers", class_name, c)
    if class_name == "MultiHeadAttention":
        out["build_config"] = {"shapes_dict": {"query_shape": build_input_shape[0],
                                               "value_shape": build_input_shape[1],
                                               "key_shape": None}}
    elif build_input_shape is not None:
        out["build_config"] = {"input_shape": build_input_shape}
    return out


def convert_k2_to_k3(k2, info):
    """info: layer name -> {"input_shape", "output_shape"} (batch dim None)."""
    cls = k2["class_name"]
    cfg = k2["config"]
    if cls == "Sequential":
        layers = []
        for l in cfg["layers"]:
            name = l["config"]["name"]
            shp = None if l["class_name"] == "InputLayer" else info[name]["input_shape"]
            layers.append(k3_layer(l["class_name"], l["config"], shp))
        batch_shape = cfg["layers"][0]["config"]["batch_input_shape"]
        return {"module": "keras", "class_name": "Sequential", "config": {
            "name": cfg["name"], "trainable": True, "dtype": k3_dtype(),
            "layers": layers, "build_input_shape": batch_shape},
            "registered_name": None, "build_config": {"input_shape": batch_shape}}

    def ktensor(ref):
        lname, node, tidx = ref[0], ref[1], ref[2]
        shp = info[lname]["output_shape"]
        if shp and isinstance(shp[0], list):
            shp = shp[tidx]
        return {"class_name": "__keras_tensor__", "config": {
            "shape": shp, "dtype": "float32", "keras_history": [lname, node, tidx]}}

    layers = []
    for l in cfg["layers"]:
        name = l["name"]
        if l["class_name"] == "InputLayer":
            entry = k3_layer("InputLayer", l["config"], None)
            entry["name"] = name
            entry["inbound_nodes"] = []
        else:
            entry = k3_layer(l["class_name"], l["config"], info[name]["input_shape"])
            entry["name"] = name
            nodes = []
            for node in l["inbound_nodes"]:
                tensors = [ktensor(r) for r in node]
                kwargs = {}
                for r in node:
                    if len(r) > 3 and r[3]:
                        kwargs.update(r[3])
                if l["class_name"] == "MultiHeadAttention":
                    # called as mha(query, value): two positional tensors
                    args = [tensors[0], ktensor(kwargs.pop("value"))]
                elif len(tensors) == 1:
                    args = [tensors[0]]
                else:
                    args = [tensors]  # merge layers take one list argument
                nodes.append({"args": args, "kwargs": kwargs})
            entry["inbound_nodes"] = nodes
        layers.append(entry)
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": cfg["name"], "trainable": True, "layers": layers,
        "input_layers": cfg["input_layers"], "output_layers": cfg["output_layers"]},
        "registered_name": "Functional", "build_config": {"input_shape": None}}


# --------------------------------------------------------------------------
# weight naming
# --------------------------------------------------------------------------
def k2_weight_names(layer):
    """Keras 2 (TF2) variable names, in _legacy_weights order."""
    name, cls, ws = layer["name"], layer["class_name"], layer["weights"]
    shorts = [w["short_name"] for w in ws]
    if cls in RNN_CELL:
        return [f"{name}/{RNN_CELL[cls]}/{s}:0" for s in shorts]
    if cls == "Bidirectional":
        inner_cls, inner_name = layer["inner_class"], layer["inner_name"]
        half = len(shorts) // 2
        out = []
        for i, s in enumerate(shorts):
            d = "forward" if i < half else "backward"
            if inner_cls in RNN_CELL:
                out.append(f"{name}/{d}_{inner_name}/{RNN_CELL[inner_cls]}/{s}:0")
            else:
                out.append(f"{name}/{d}_{inner_name}/{s}:0")
        return out
    if cls == "MultiHeadAttention":
        return [f"{name}/{w['sub']}/{w['short_name']}:0" for w in ws]
    # Dense, Conv*, BatchNormalization, Embedding, PReLU, TimeDistributed(Dense), ...
    return [f"{name}/{s}:0" for s in shorts]


def k3_var_groups(layer, base):
    """[(group path, [arrays], name attr)] for one top-level layer under base."""
    cls, arrs = layer["class_name"], layer["arrays"]
    name = layer["name"]
    if cls in RNN_CELL:
        return [(f"{base}/vars", [], name), (f"{base}/cell/vars", arrs, RNN_CELL[cls])]
    if cls == "Bidirectional":
        half = len(arrs) // 2
        ic, iname = layer["inner_class"], layer["inner_name"]
        groups = [(f"{base}/vars", [], name)]
        for d, part in (("backward", arrs[half:]), ("forward", arrs[:half])):
            if ic in RNN_CELL:
                groups.append((f"{base}/{d}_layer/vars", [], f"{d}_{iname}"))
                groups.append((f"{base}/{d}_layer/cell/vars", part, RNN_CELL[ic]))
            else:
                groups.append((f"{base}/{d}_layer/vars", part, f"{d}_{iname}"))
        return groups
    if cls == "TimeDistributed":
        return [(f"{base}/vars", [], name), (f"{base}/layer/vars", arrs, layer["inner_name"])]
    if cls == "MultiHeadAttention":
        groups = [(f"{base}/vars", [], name)]
        subs = {}
        for w, a in zip(layer["weights"], arrs):
            subs.setdefault(w["sub"], []).append(a)
        for sub in ("query", "key", "value", "attention_output"):
            attr = "_output_dense" if sub == "attention_output" else f"_{sub}_dense"
            groups.append((f"{base}/{attr}/vars", subs[sub], sub))
        groups.append((f"{base}/_softmax/vars", [], "softmax"))
        groups.append((f"{base}/_dropout_layer/vars", [], "dropout"))
        return groups
    return [(f"{base}/vars", arrs, name)]


# --------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------
def bytes_attr(strings):
    return np.array([s.encode("utf8") for s in strings])


def save_weights_group(f, model):
    """hdf5_format.save_weights_to_hdf5_group."""
    f.attrs["layer_names"] = bytes_attr([l["name"] for l in model["h5_layers"]])
    f.attrs["backend"] = b"tensorflow"
    f.attrs["keras_version"] = K2_VERSION.encode("utf8")
    for layer in sorted(model["h5_layers"], key=lambda l: l["name"]):
        g = f.create_group(layer["name"])
        names = k2_weight_names(layer) if layer["arrays"] else []
        g.attrs["weight_names"] = bytes_attr(names) if names else np.asarray([])
        for n, a in zip(names, layer["arrays"]):
            ds = g.create_dataset(n, a.shape, dtype=a.dtype)
            ds[...] = a
    g = f.create_group("top_level_model_weights")
    g.attrs["weight_names"] = np.asarray([])


def write_model_h5(path, model):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = K2_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model["k2_config"]).encode("utf8")
        save_weights_group(f.create_group("model_weights"), model)


def write_weights_h5(path, model):
    with h5py.File(path, "w") as f:
        save_weights_group(f, model)


def k3_weights_bytes(model):
    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        root = f.create_group("vars")
        root.attrs["name"] = model["k2_config"]["config"]["name"]
        used = {}
        for layer in model["k3_layers"]:
            s = snake(layer["class_name"])
            if s in used:
                used[s] += 1
                s = f"{s}_{used[s]}"
            else:
                used[s] = 0
            for gpath, arrs, attr_name in k3_var_groups(layer, f"layers/{s}"):
                g = f.create_group(gpath)
                g.attrs["name"] = attr_name
                for i, a in enumerate(arrs):
                    g[str(i)] = a
    return bio.getvalue()


def write_model_keras(path, model):
    cfg = json.dumps(model["k3_config"])
    meta = json.dumps({"keras_version": K3_VERSION, "date_saved": K3_DATE})
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in (("metadata.json", meta.encode()), ("config.json", cfg.encode()),
                           ("model.weights.h5", k3_weights_bytes(model))):
            zi = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_STORED
            zf.writestr(zi, data)


def write_all(folder, model):
    write_model_h5(os.path.join(folder, "model.h5"), model)
    arch = dict(model["k2_config"])
    arch["keras_version"] = K2_VERSION
    arch["backend"] = "tensorflow"
    with open(os.path.join(folder, "arch.json"), "w") as f:
        f.write(json.dumps(arch))
    write_weights_h5(os.path.join(folder, "weights.h5"), model)
    kpath = os.path.join(folder, "model.keras")
    if model.get("keras2_only"):
        if os.path.exists(kpath):
            os.remove(kpath)
    else:
        write_model_keras(kpath, model)


# --------------------------------------------------------------------------
# models from make_models.mjs
# --------------------------------------------------------------------------
def load_tfjs_model(folder):
    tcfg = json.load(open(os.path.join(folder, "config.json")))
    man = json.load(open(os.path.join(folder, "weights.json")))
    blob = np.fromfile(os.path.join(folder, "weights.bin"), dtype="<f4")
    k2 = convert_tfjs_config(tcfg, man)
    in_shapes = infer_input_shapes(tcfg, man)
    inner = {}
    for l in tcfg["config"]["layers"]:
        if l["class_name"] in ("Bidirectional", "TimeDistributed"):
            inner[l["config"]["name"]] = (l["config"]["layer"]["class_name"],
                                          l["config"]["layer"]["config"]["name"])
    layers, info = [], {}
    for l in man["layers"]:
        arrays = [blob[w["offset"]:w["offset"] + w["size"]].reshape(w["shape"]).astype("<f4")
                  for w in l["weights"]]
        e = {"name": l["name"], "class_name": l["class_name"], "weights": l["weights"],
             "arrays": arrays}
        if l["name"] in inner:
            e["inner_class"], e["inner_name"] = inner[l["name"]]
        layers.append(e)
        info[l["name"]] = {"input_shape": in_shapes[l["name"]],
                           "output_shape": l.get("output_shape")}
    if tcfg["class_name"] == "Sequential":
        k3_layers = layers                       # Sequential.layers: no InputLayer
        h5_layers = layers                       # Keras 2 Sequential.layers: same
    else:
        k3_layers = layers                       # Functional.layers: with InputLayers
        h5_layers = layers
    model = {"k2_config": k2, "h5_layers": h5_layers, "k3_layers": k3_layers,
             "keras2_only": man.get("keras2_only", False)}
    if not model["keras2_only"]:
        model["k3_config"] = convert_k2_to_k3(k2, info)
    return model


# --------------------------------------------------------------------------
# numpy-built models
# --------------------------------------------------------------------------
def npy_write(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype="<f4"))


def k2_dense(name, units, activation="linear", use_bias=True):
    return {"name": name, "trainable": True, "dtype": "float32", "units": units,
            "activation": activation, "use_bias": use_bias,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}


def k2_layer_norm(name, rank):
    return {"name": name, "trainable": True, "dtype": "float32", "axis": [rank - 1],
            "epsilon": 0.001, "center": True, "scale": True,
            "beta_initializer": {"class_name": "Zeros", "config": {}},
            "gamma_initializer": {"class_name": "Ones", "config": {}},
            "beta_regularizer": None, "gamma_regularizer": None,
            "beta_constraint": None, "gamma_constraint": None}


def k2_gru(name, units, return_sequences, reset_after=True):
    return {"name": name, "trainable": True, "dtype": "float32",
            "return_sequences": return_sequences, "return_state": False,
            "go_backwards": False, "stateful": False, "unroll": False, "time_major": False,
            "units": units, "activation": "tanh", "recurrent_activation": "sigmoid",
            "use_bias": True,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None,
            "recurrent_constraint": None, "bias_constraint": None, "dropout": 0.0,
            "recurrent_dropout": 0.0, "implementation": 2, "reset_after": reset_after}


def node(*refs, kwargs=None):
    out = [[r, 0, 0, {}] for r in refs]
    if kwargs:
        out[0][3] = kwargs
    return [out]


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, g, b, eps=1e-3):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def build_transformer(rng):
    T, D, H, K, F = 12, 16, 2, 8, 32
    u = lambda *s: rng.uniform(-0.5, 0.5, s).astype(np.float32)
    W = {"q_k": u(D, H, K), "q_b": u(H, K), "k_k": u(D, H, K), "k_b": u(H, K),
         "v_k": u(D, H, K), "v_b": u(H, K), "o_k": u(H, K, D), "o_b": u(D),
         "ln_g": rng.uniform(0.6, 1.4, D).astype(np.float32), "ln_b": u(D),
         "d1_k": u(D, F), "d1_b": u(F), "d2_k": u(F, D), "d2_b": u(D),
         "ln1_g": rng.uniform(0.6, 1.4, D).astype(np.float32), "ln1_b": u(D),
         "d3_k": u(D, 4), "d3_b": u(4)}
    x = rng.uniform(-1, 1, (3, T, D)).astype(np.float32)

    f = {k: v.astype(np.float64) for k, v in W.items()}
    x64 = x.astype(np.float64)
    q = np.einsum("abc,cde->abde", x64, f["q_k"]) + f["q_b"]
    k = np.einsum("abc,cde->abde", x64, f["k_k"]) + f["k_b"]
    v = np.einsum("abc,cde->abde", x64, f["v_k"]) + f["v_b"]
    q = q * (1.0 / math.sqrt(K))
    scores = np.einsum("aecd,abcd->acbe", k, q)          # (B, H, Tq, Tk)
    attn = softmax(scores, axis=-1)
    ctx = np.einsum("acbe,aecd->abcd", attn, v)          # (B, Tq, H, K)
    mha = np.einsum("abcd,cde->abe", ctx, f["o_k"]) + f["o_b"]
    h = layer_norm(x64 + mha, f["ln_g"], f["ln_b"])
    ff = gelu(h @ f["d1_k"] + f["d1_b"]) @ f["d2_k"] + f["d2_b"]
    h2 = layer_norm(h + ff, f["ln1_g"], f["ln1_b"])
    y = h2.mean(axis=1) @ f["d3_k"] + f["d3_b"]

    inp = {"batch_input_shape": [None, T, D], "dtype": "float32", "sparse": False,
           "ragged": False, "name": "input_1"}
    mha_cfg = {"name": "multi_head_attention", "trainable": True, "dtype": "float32",
               "num_heads": H, "key_dim": K, "value_dim": K, "dropout": 0.0,
               "use_bias": True, "output_shape": None, "attention_axes": None,
               "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
               "bias_initializer": {"class_name": "Zeros", "config": {}},
               "kernel_regularizer": None, "bias_regularizer": None,
               "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
               "query_shape": [None, T, D], "key_shape": [None, T, D], "value_shape": [None, T, D]}
    L = [
        ("InputLayer", inp, "input_1", [], None, [None, T, D], []),
        ("MultiHeadAttention", mha_cfg, "multi_head_attention",
         node("input_1", kwargs={"value": ["input_1", 0, 0]}),
         [[None, T, D], [None, T, D]], [None, T, D],
         [("query", "kernel", W["q_k"]), ("query", "bias", W["q_b"]),
          ("key", "kernel", W["k_k"]), ("key", "bias", W["k_b"]),
          ("value", "kernel", W["v_k"]), ("value", "bias", W["v_b"]),
          ("attention_output", "kernel", W["o_k"]), ("attention_output", "bias", W["o_b"])]),
        ("Add", {"name": "add", "trainable": True, "dtype": "float32"}, "add",
         [[["input_1", 0, 0, {}], ["multi_head_attention", 0, 0, {}]]],
         [[None, T, D], [None, T, D]], [None, T, D], []),
        ("LayerNormalization", k2_layer_norm("layer_normalization", 3), "layer_normalization",
         node("add"), [None, T, D], [None, T, D],
         [(None, "gamma", W["ln_g"]), (None, "beta", W["ln_b"])]),
        ("Dense", k2_dense("dense", F, "gelu"), "dense", node("layer_normalization"),
         [None, T, D], [None, T, F], [(None, "kernel", W["d1_k"]), (None, "bias", W["d1_b"])]),
        ("Dense", k2_dense("dense_1", D), "dense_1", node("dense"), [None, T, F], [None, T, D],
         [(None, "kernel", W["d2_k"]), (None, "bias", W["d2_b"])]),
        ("Add", {"name": "add_1", "trainable": True, "dtype": "float32"}, "add_1",
         [[["layer_normalization", 0, 0, {}], ["dense_1", 0, 0, {}]]],
         [[None, T, D], [None, T, D]], [None, T, D], []),
        ("LayerNormalization", k2_layer_norm("layer_normalization_1", 3),
         "layer_normalization_1", node("add_1"), [None, T, D], [None, T, D],
         [(None, "gamma", W["ln1_g"]), (None, "beta", W["ln1_b"])]),
        ("GlobalAveragePooling1D", {"name": "global_average_pooling1d", "trainable": True,
                                    "dtype": "float32", "data_format": "channels_last",
                                    "keepdims": False},
         "global_average_pooling1d", node("layer_normalization_1"), [None, T, D], [None, D], []),
        ("Dense", k2_dense("dense_2", 4), "dense_2", node("global_average_pooling1d"),
         [None, D], [None, 4], [(None, "kernel", W["d3_k"]), (None, "bias", W["d3_b"])]),
    ]
    return assemble_functional("transformer", L, [["input_1", 0, 0]], [["dense_2", 0, 0]]), [x], [y]


def assemble_functional(name, L, in_layers, out_layers, keras2_only=False):
    k2_layers, layers, info = [], [], {}
    for cls, cfg, lname, inbound, in_shape, out_shape, ws in L:
        k2_layers.append({"class_name": cls, "config": cfg, "name": lname,
                          "inbound_nodes": inbound})
        weights = [{"short_name": s, "sub": sub, "shape": list(a.shape)} for sub, s, a in ws]
        e = {"name": lname, "class_name": cls, "weights": weights,
             "arrays": [a.astype("<f4") for _, _, a in ws]}
        if cls in ("Bidirectional", "TimeDistributed"):
            e["inner_class"] = cfg["layer"]["class_name"]
            e["inner_name"] = cfg["layer"]["config"]["name"]
        layers.append(e)
        info[lname] = {"input_shape": in_shape, "output_shape": out_shape}
    k2 = {"class_name": "Functional", "config": {"name": "model", "layers": k2_layers,
                                                 "input_layers": in_layers,
                                                 "output_layers": out_layers}}
    model = {"k2_config": k2, "h5_layers": layers, "k3_layers": layers,
             "keras2_only": keras2_only}
    if not keras2_only:
        model["k3_config"] = convert_k2_to_k3(k2, info)
    return model


def gru_reset_after(x, kern, rec, bias, go_backwards=False):
    """Keras GRU with reset_after=True, gates z, r, h; returns all states."""
    B, T, _ = x.shape
    u = rec.shape[0]
    h = np.zeros((B, u))
    seq = []
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))
    for t in steps:
        xi = x[:, t] @ kern + bias[0]
        hr = h @ rec + bias[1]
        z = sig(xi[:, :u] + hr[:, :u])
        r = sig(xi[:, u:2 * u] + hr[:, u:2 * u])
        hh = np.tanh(xi[:, 2 * u:] + r * hr[:, 2 * u:])
        h = z * h + (1.0 - z) * hh
        seq.append(h)
    return np.stack(seq, axis=1), h


def build_gru_reset_after(rng):
    T, Fi, U1, U2 = 8, 5, 6, 4
    u = lambda *s: rng.uniform(-0.5, 0.5, s).astype(np.float32)
    g = [u(Fi, 3 * U1), u(U1, 3 * U1), u(2, 3 * U1)]
    bf = [u(U1, 3 * U2), u(U2, 3 * U2), u(2, 3 * U2)]
    bb = [u(U1, 3 * U2), u(U2, 3 * U2), u(2, 3 * U2)]
    dk, db = u(2 * U2, 3), u(3)
    x = rng.uniform(-1, 1, (3, T, Fi)).astype(np.float32)

    d = lambda ws: [w.astype(np.float64) for w in ws]
    s1, _ = gru_reset_after(x.astype(np.float64), *d(g))
    _, hf = gru_reset_after(s1, *d(bf))
    _, hb = gru_reset_after(s1, *d(bb), go_backwards=True)
    y = np.concatenate([hf, hb], axis=-1) @ dk.astype(np.float64) + db

    inp = {"batch_input_shape": [None, T, Fi], "dtype": "float32", "sparse": False,
           "ragged": False, "name": "input_1"}
    bid = {"name": "bidirectional", "trainable": True, "dtype": "float32",
           "layer": {"class_name": "GRU", "config": k2_gru("gru_1", U2, False)},
           "merge_mode": "concat"}
    names = ("kernel", "recurrent_kernel", "bias")
    L = [
        ("InputLayer", inp, "input_1", [], None, [None, T, Fi], []),
        ("GRU", k2_gru("gru", U1, True), "gru", node("input_1"), [None, T, Fi], [None, T, U1],
         [(None, n, a) for n, a in zip(names, g)]),
        ("Bidirectional", bid, "bidirectional", node("gru"), [None, T, U1], [None, 2 * U2],
         [(None, n, a) for n, a in zip(names, bf)] + [(None, n, a) for n, a in zip(names, bb)]),
        ("Dense", k2_dense("dense", 3), "dense", node("bidirectional"), [None, 2 * U2],
         [None, 3], [(None, "kernel", dk), (None, "bias", db)]),
    ]
    return assemble_functional("gru_reset_after", L, [["input_1", 0, 0]],
                               [["dense", 0, 0]]), [x], [y]


# --------------------------------------------------------------------------
# extra_layers / extra_layers_keras2: layers and options tfjs lacks, numpy
# float64 references (checked by check_numpy_refs.py)
# --------------------------------------------------------------------------
def same_pads(length, k_eff, stride):
    """TensorFlow "SAME": output ceil(L / s); the odd padding element goes at the end."""
    out = -(-length // stride)
    total = max((out - 1) * stride + k_eff - length, 0)
    return total // 2, total - total // 2


def np_conv1d(x, w, b, stride=1, padding="valid", dilation=1, groups=1):
    """Keras Conv1D. x (B, L, Cin), w (k, Cin/groups, Cout); output channel o is in
    group o // (Cout/groups) and reads input channels of that group only."""
    k, ig, cout = w.shape
    og = cout // groups
    keff = (k - 1) * dilation + 1
    if padding == "valid":
        pl, pr = 0, 0
    elif padding == "causal":   # base_conv._compute_causal_padding: left only
        pl, pr = dilation * (k - 1), 0
    else:
        pl, pr = same_pads(x.shape[1], keff, stride)
    xp = np.pad(x, ((0, 0), (pl, pr), (0, 0)))
    n = (xp.shape[1] - keff) // stride + 1
    y = np.zeros((x.shape[0], n, cout))
    for j in range(k):
        xs = xp[:, j * dilation: j * dilation + (n - 1) * stride + 1: stride, :]
        for g in range(groups):
            y[..., g * og:(g + 1) * og] += xs[..., g * ig:(g + 1) * ig] @ w[j, :, g * og:(g + 1) * og]
    return y if b is None else y + b


def np_depthwise1d(x, w, b, stride=1, padding="valid", dilation=1):
    """Keras DepthwiseConv1D, w (k, Cin, M): output channel c*M + m (tf.nn.depthwise_conv2d)."""
    k, cin, m = w.shape
    return np_conv1d(x, w.reshape(k, 1, cin * m), b, stride, padding, dilation, groups=cin)


def np_separable1d(x, dw, pw, b, stride=1, padding="valid", dilation=1):
    """Keras SeparableConv1D: depthwise (no bias), then the 1x1 pointwise kernel
    (1, Cin*M, F), then the bias (the activation comes after)."""
    y = np_depthwise1d(x, dw, None, stride, padding, dilation)
    return y @ pw[0] + b


def deconv_output_length(length, k, padding, output_padding, stride, dilation=1):
    """keras.utils.conv_utils.deconv_output_length (Keras 2.12)."""
    k = k + (k - 1) * (dilation - 1)
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(k - stride, 0)
        return length * stride              # "same"
    pad = k // 2 if padding == "same" else 0
    return (length - 1) * stride + k - 2 * pad + output_padding


def np_conv_transpose(x, w, b, strides, padding, output_padding=None, dilations=None):
    """Keras Conv1DTranspose / Conv2DTranspose: tf.nn.conv*_transpose with the output
    shape from deconv_output_length. x (B, L..., Cin), w (k..., Cout, Cin). TensorFlow
    crops the full transposed convolution ((L-1)*s + k_eff per axis) where the forward
    convolution of the output length would have padded it: SAME puts
    max(full - N, 0) // 2 before; VALID crops nothing before. Where N > full (valid,
    k < s, or output_padding), the tail gets only the bias."""
    rank = x.ndim - 2
    dilations = dilations or (1,) * rank
    ks = w.shape[:rank]
    cout = w.shape[rank]
    L = x.shape[1:1 + rank]
    full = [(L[i] - 1) * strides[i] + (ks[i] - 1) * dilations[i] + 1 for i in range(rank)]
    N = [deconv_output_length(L[i], ks[i], padding,
                              None if output_padding is None else output_padding[i],
                              strides[i], dilations[i]) for i in range(rank)]
    y = np.zeros((x.shape[0],) + tuple(max(full[i], N[i]) + full[i] for i in range(rank)) + (cout,))
    for tap in np.ndindex(*ks):
        contrib = x @ w[tap].T                                   # (B, L..., Cout)
        sl = tuple(slice(tap[i] * dilations[i], tap[i] * dilations[i] + (L[i] - 1) * strides[i] + 1,
                         strides[i]) for i in range(rank))
        y[(slice(None),) + sl] += contrib
    crop = []
    for i in range(rank):
        before = max(full[i] - N[i], 0) // 2 if padding == "same" else 0
        crop.append(slice(before, before + N[i]))
    return y[(slice(None),) + tuple(crop)] + b


def np_resize_bilinear(x, out_h, out_w):
    """tf.image.resize(method="bilinear") (half_pixel_centers=True, no antialias):
    src = (dst + 0.5) * in/out - 0.5; lower = max(floor(src), 0),
    upper = min(ceil(src), in - 1), lerp = src - floor(src) (resize_bilinear_op.cc)."""
    def weights(n_in, n_out):
        src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        lo = np.floor(src)
        return (np.maximum(lo, 0).astype(int), np.minimum(np.ceil(src), n_in - 1).astype(int),
                src - lo)
    hl, hu, hw = weights(x.shape[1], out_h)
    wl, wu, ww = weights(x.shape[2], out_w)
    top_l, top_r = x[:, hl][:, :, wl], x[:, hl][:, :, wu]
    bot_l, bot_r = x[:, hu][:, :, wl], x[:, hu][:, :, wu]
    ww = ww[None, None, :, None]
    top = top_l + (top_r - top_l) * ww
    bot = bot_l + (bot_r - bot_l) * ww
    return top + (bot - top) * hw[None, :, None, None]


def np_relu(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """keras.backend.relu (Keras 2.12) = Keras 3 ReLU.static_call: x where x > threshold
    (clipped to [0, max_value]), else negative_slope * (x - threshold)."""
    neg = np.maximum(threshold - x, 0.0)
    y = np.where(x > threshold, x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    return y - negative_slope * neg


def np_elu(x, alpha):
    return np.where(x > 0, x, alpha * (np.exp(x) - 1.0))


def np_lstm(x, kern, rec, bias):
    """Keras LSTM, gates i, f, c, o; recurrent_activation sigmoid, activation tanh.
    Returns (sequence, last h, last c)."""
    B, T, _ = x.shape
    u = rec.shape[0]
    h, c = np.zeros((B, u)), np.zeros((B, u))
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))
    seq = []
    for t in range(T):
        z = x[:, t] @ kern + h @ rec + bias
        i, f = sig(z[:, :u]), sig(z[:, u:2 * u])
        c = f * c + i * np.tanh(z[:, 2 * u:3 * u])
        h = sig(z[:, 3 * u:]) * np.tanh(c)
        seq.append(h)
    return np.stack(seq, axis=1), h, c


def np_batch_dot(x, y, axes):
    """keras batch_dot: contract x's axes[0] with y's axes[1]; the output keeps x's
    other axes, then y's (batch first)."""
    xm = np.moveaxis(x, axes[0], -1)                # (B, ..., n)
    ym = np.moveaxis(y, axes[1], 1)                 # (B, n, ...)
    return np.einsum("bi...k,bk...->bi...", xm.reshape(x.shape[0], -1, xm.shape[-1]),
                     ym.reshape(y.shape[0], ym.shape[1], -1)).reshape(
        xm.shape[:-1] + ym.shape[2:])


def k2_common(name):
    return {"name": name, "trainable": True, "dtype": "float32"}


GLOROT = {"class_name": "GlorotUniform", "config": {"seed": None}}
ZEROS = {"class_name": "Zeros", "config": {}}


def k2_conv_base(name, filters, kernel_size, strides, padding, dilation_rate, groups,
                 activation):
    """base_conv.Conv.get_config (Keras 2.12)."""
    c = k2_common(name)
    c.update({"filters": filters, "kernel_size": list(kernel_size), "strides": list(strides),
              "padding": padding, "data_format": "channels_last",
              "dilation_rate": list(dilation_rate), "groups": groups,
              "activation": activation, "use_bias": True,
              "kernel_initializer": GLOROT, "bias_initializer": ZEROS,
              "kernel_regularizer": None, "bias_regularizer": None,
              "activity_regularizer": None, "kernel_constraint": None,
              "bias_constraint": None})
    return c


def k2_conv1d(name, filters, k, strides=1, padding="valid", dilation=1, groups=1,
              activation="linear"):
    return k2_conv_base(name, filters, [k], [strides], padding, [dilation], groups, activation)


def k2_conv_transpose(name, filters, kernel_size, strides, padding, output_padding,
                      activation="linear"):
    """Conv1DTranspose / Conv2DTranspose.get_config: Conv's config (groups 1) plus
    output_padding (None when not given)."""
    r = len(kernel_size)
    c = k2_conv_base(name, filters, kernel_size, strides, padding, [1] * r, 1, activation)
    c["output_padding"] = None if output_padding is None else list(output_padding)
    return c


def k2_depthwise1d(name, k, depth_multiplier, strides=1, padding="valid",
                   activation="linear"):
    """base_depthwise_conv.DepthwiseConv.get_config: Conv's config less filters and
    kernel_*, plus depth_multiplier and depthwise_*."""
    c = k2_conv_base(name, None, [k], [strides], padding, [1], 1, activation)
    for key in ("filters", "kernel_initializer", "kernel_regularizer", "kernel_constraint"):
        c.pop(key)
    c.update({"depth_multiplier": depth_multiplier, "depthwise_initializer": GLOROT,
              "depthwise_regularizer": None, "depthwise_constraint": None})
    return c


def k2_separable1d(name, filters, k, depth_multiplier, strides=1, padding="valid",
                   activation="linear"):
    """base_separable_conv.SeparableConv.get_config: Conv's config plus the separable keys."""
    c = k2_conv_base(name, filters, [k], [strides], padding, [1], 1, activation)
    c.update({"depth_multiplier": depth_multiplier, "depthwise_initializer": GLOROT,
              "pointwise_initializer": GLOROT, "depthwise_regularizer": None,
              "pointwise_regularizer": None, "depthwise_constraint": None,
              "pointwise_constraint": None})
    return c


def k2_lstm(name, units, return_sequences, return_state):
    c = k2_common(name)
    c.update({"return_sequences": return_sequences, "return_state": return_state,
              "go_backwards": False, "stateful": False, "unroll": False, "time_major": False,
              "units": units, "activation": "tanh", "recurrent_activation": "sigmoid",
              "use_bias": True, "kernel_initializer": GLOROT,
              "recurrent_initializer": {"class_name": "Orthogonal",
                                        "config": {"gain": 1.0, "seed": None}},
              "bias_initializer": ZEROS, "unit_forget_bias": True,
              "kernel_regularizer": None, "recurrent_regularizer": None,
              "bias_regularizer": None, "activity_regularizer": None,
              "kernel_constraint": None, "recurrent_constraint": None,
              "bias_constraint": None, "dropout": 0.0, "recurrent_dropout": 0.0,
              "implementation": 2})
    return c


def k2_simple(name, **kw):
    c = k2_common(name)
    c.update(kw)
    return c


def k2_input(name, shape):
    return {"batch_input_shape": [None] + list(shape), "dtype": "float32", "sparse": False,
            "ragged": False, "name": name}


def build_extra_layers(rng):
    """Functional, 3 inputs, 7 outputs; every file layout."""
    T, C = 12, 4
    u = lambda *s: rng.uniform(-0.5, 0.5, s).astype(np.float32)
    W = {"c1_k": u(3, C, 6), "c1_b": u(6),                 # Conv1D causal, dilation 2
         "c2_k": u(4, 3, 4), "c2_b": u(4),                 # Conv1D groups 2, same, k 4
         "dw_k": u(3, 4, 2), "dw_b": u(8),                 # DepthwiseConv1D mult 2, valid
         "sp_dk": u(3, 8, 2), "sp_pk": u(1, 16, 5), "sp_b": u(5),   # SeparableConv1D
         "t1_k": u(3, 4, 5), "t1_b": u(4),                 # Conv1DTranspose s2 same
         "t2_k": u(2, 3, 4), "t2_b": u(3),                 # Conv1DTranspose s3 valid, k 2
         "ls_k": u(C, 20), "ls_r": u(5, 20), "ls_b": u(20)}   # LSTM 5 units
    x1 = rng.uniform(-1, 1, (3, T, C)).astype(np.float32)
    x2 = rng.uniform(-1, 1, (3, T, C)).astype(np.float32)
    x3 = rng.uniform(-1, 1, (3, 4, 5, 2)).astype(np.float32)

    f = {k: v.astype(np.float64) for k, v in W.items()}
    a, bb, im = (v.astype(np.float64) for v in (x1, x2, x3))
    sub = a - bb
    c1 = np_conv1d(sub, f["c1_k"], f["c1_b"], padding="causal", dilation=2)       # (12, 6)
    c2 = np.maximum(np_conv1d(c1, f["c2_k"], f["c2_b"], padding="same", groups=2), 0)  # (12, 4)
    dw = np_depthwise1d(c2, f["dw_k"], f["dw_b"], padding="valid")                 # (10, 8)
    sp = np.tanh(np_separable1d(dw, f["sp_dk"], f["sp_pk"], f["sp_b"], stride=2,
                                padding="same"))                                    # (5, 5)
    t1 = np_conv_transpose(sp, f["t1_k"], f["t1_b"], (2,), "same")                 # (10, 4)
    y0 = np_relu(t1, max_value=0.75, negative_slope=0.25, threshold=0.125)
    t2 = np_conv_transpose(c2, f["t2_k"], f["t2_b"], (3,), "valid")                # (36, 3)
    cr = t2[:, 1:-1]                                                                # (34, 3)
    zp = np.pad(cr, ((0, 0), (1, 2), (0, 0)))                                       # (37, 3)
    ex = np.exp(zp)
    up = np.repeat(ex, 2, axis=1)                                                   # (74, 3)
    y1 = softmax(up, axis=1)
    seq, h, c = np_lstm(a, f["ls_k"], f["ls_r"], f["ls_b"])
    lk = np.where(bb > 0, bb, 0.125 * bb)
    pm = np.transpose(c1, (0, 2, 1))                                                # (6, 12)
    dt = np_batch_dot(lk, pm, (1, 2))                                               # (4, 6)
    y5 = dt / (1.0 + np.abs(dt))
    y6 = np_resize_bilinear(im, 8, 15)
    ys = [y0, y1, seq, h, c, y5, y6]

    N = None
    L = [
        ("InputLayer", k2_input("input_1", (T, C)), "input_1", [], None, [N, T, C], []),
        ("InputLayer", k2_input("input_2", (T, C)), "input_2", [], None, [N, T, C], []),
        ("InputLayer", k2_input("input_3", (4, 5, 2)), "input_3", [], None, [N, 4, 5, 2], []),
        ("Subtract", k2_common("subtract"), "subtract",
         [[["input_1", 0, 0, {}], ["input_2", 0, 0, {}]]], [[N, T, C], [N, T, C]], [N, T, C], []),
        ("Conv1D", k2_conv1d("conv1d", 6, 3, padding="causal", dilation=2), "conv1d",
         node("subtract"), [N, T, C], [N, T, 6],
         [(None, "kernel", W["c1_k"]), (None, "bias", W["c1_b"])]),
        ("Conv1D", k2_conv1d("conv1d_1", 4, 4, padding="same", groups=2, activation="relu"),
         "conv1d_1", node("conv1d"), [N, T, 6], [N, T, 4],
         [(None, "kernel", W["c2_k"]), (None, "bias", W["c2_b"])]),
        ("DepthwiseConv1D", k2_depthwise1d("depthwise_conv1d", 3, 2), "depthwise_conv1d",
         node("conv1d_1"), [N, T, 4], [N, 10, 8],
         [(None, "depthwise_kernel", W["dw_k"]), (None, "bias", W["dw_b"])]),
        ("SeparableConv1D", k2_separable1d("separable_conv1d", 5, 3, 2, strides=2,
                                           padding="same", activation="tanh"),
         "separable_conv1d", node("depthwise_conv1d"), [N, 10, 8], [N, 5, 5],
         [(None, "depthwise_kernel", W["sp_dk"]), (None, "pointwise_kernel", W["sp_pk"]),
          (None, "bias", W["sp_b"])]),
        ("Conv1DTranspose", k2_conv_transpose("conv1d_transpose", 4, [3], [2], "same", None),
         "conv1d_transpose", node("separable_conv1d"), [N, 5, 5], [N, 10, 4],
         [(None, "kernel", W["t1_k"]), (None, "bias", W["t1_b"])]),
        ("ReLU", k2_simple("re_lu", max_value=0.75, negative_slope=0.25, threshold=0.125),
         "re_lu", node("conv1d_transpose"), [N, 10, 4], [N, 10, 4], []),
        ("Conv1DTranspose", k2_conv_transpose("conv1d_transpose_1", 3, [2], [3], "valid", None),
         "conv1d_transpose_1", node("conv1d_1"), [N, T, 4], [N, 36, 3],
         [(None, "kernel", W["t2_k"]), (None, "bias", W["t2_b"])]),
        ("Cropping1D", k2_simple("cropping1d", cropping=[1, 1]), "cropping1d",
         node("conv1d_transpose_1"), [N, 36, 3], [N, 34, 3], []),
        ("ZeroPadding1D", k2_simple("zero_padding1d", padding=[1, 2]), "zero_padding1d",
         node("cropping1d"), [N, 34, 3], [N, 37, 3], []),
        ("Activation", k2_simple("activation", activation="exponential"), "activation",
         node("zero_padding1d"), [N, 37, 3], [N, 37, 3], []),
        ("UpSampling1D", k2_simple("up_sampling1d", size=2), "up_sampling1d",
         node("activation"), [N, 37, 3], [N, 74, 3], []),
        ("Softmax", k2_simple("softmax", axis=1), "softmax", node("up_sampling1d"),
         [N, 74, 3], [N, 74, 3], []),
        ("LSTM", k2_lstm("lstm", 5, True, True), "lstm", node("input_1"), [N, T, C],
         [[N, T, 5], [N, 5], [N, 5]],
         [(None, "kernel", W["ls_k"]), (None, "recurrent_kernel", W["ls_r"]),
          (None, "bias", W["ls_b"])]),
        ("LeakyReLU", k2_simple("leaky_re_lu", alpha=0.125), "leaky_re_lu", node("input_2"),
         [N, T, C], [N, T, C], []),
        ("Permute", k2_simple("permute", dims=[2, 1]), "permute", node("conv1d"),
         [N, T, 6], [N, 6, T], []),
        ("Dot", k2_simple("dot", axes=[1, 2], normalize=False), "dot",
         [[["leaky_re_lu", 0, 0, {}], ["permute", 0, 0, {}]]], [[N, T, C], [N, 6, T]],
         [N, C, 6], []),
        ("Activation", k2_simple("activation_1", activation="softsign"), "activation_1",
         node("dot"), [N, C, 6], [N, C, 6], []),
        ("UpSampling2D", k2_simple("up_sampling2d", size=[2, 3], data_format="channels_last",
                                   interpolation="bilinear"),
         "up_sampling2d", node("input_3"), [N, 4, 5, 2], [N, 8, 15, 2], []),
    ]
    outs = [["re_lu", 0, 0], ["softmax", 0, 0], ["lstm", 0, 0], ["lstm", 0, 1],
            ["lstm", 0, 2], ["activation_1", 0, 0], ["up_sampling2d", 0, 0]]
    model = assemble_functional("extra_layers", L,
                                [["input_1", 0, 0], ["input_2", 0, 0], ["input_3", 0, 0]], outs)
    return model, [x1, x2, x3], ys


def build_extra_layers_keras2(rng):
    """Options Keras 3.10 cannot save: Conv1DTranspose/Conv2DTranspose output_padding
    (not accepted before Keras 3.11) and ELU alpha (Keras 3 ELU has no get_config)."""
    u = lambda *s: rng.uniform(-0.5, 0.5, s).astype(np.float32)
    W = {"t2_k": u(4, 3, 3, 2), "t2_b": u(3), "t1_k": u(3, 2, 3), "t1_b": u(2)}
    x1 = rng.uniform(-1, 1, (3, 4, 5, 2)).astype(np.float32)
    x2 = rng.uniform(-1, 1, (3, 6, 3)).astype(np.float32)
    f = {k: v.astype(np.float64) for k, v in W.items()}
    t2 = np_conv_transpose(x1.astype(np.float64), f["t2_k"], f["t2_b"], (2, 2), "same", (1, 1))
    y0 = np_elu(t2, 0.5)                                                            # (7, 10, 3)
    y1 = np_conv_transpose(x2.astype(np.float64), f["t1_k"], f["t1_b"], (2,), "valid", (1,))
    N = None                                                                        # (14, 2)
    L = [
        ("InputLayer", k2_input("input_1", (4, 5, 2)), "input_1", [], None, [N, 4, 5, 2], []),
        ("InputLayer", k2_input("input_2", (6, 3)), "input_2", [], None, [N, 6, 3], []),
        ("Conv2DTranspose", k2_conv_transpose("conv2d_transpose", 3, [4, 3], [2, 2], "same",
                                              [1, 1]),
         "conv2d_transpose", node("input_1"), [N, 4, 5, 2], [N, 7, 10, 3],
         [(None, "kernel", W["t2_k"]), (None, "bias", W["t2_b"])]),
        ("ELU", k2_simple("elu", alpha=0.5), "elu", node("conv2d_transpose"),
         [N, 7, 10, 3], [N, 7, 10, 3], []),
        ("Conv1DTranspose", k2_conv_transpose("conv1d_transpose", 2, [3], [2], "valid", [1]),
         "conv1d_transpose", node("input_2"), [N, 6, 3], [N, 14, 2],
         [(None, "kernel", W["t1_k"]), (None, "bias", W["t1_b"])]),
    ]
    model = assemble_functional("extra_layers_keras2", L, [["input_1", 0, 0], ["input_2", 0, 0]],
                                [["elu", 0, 0], ["conv1d_transpose", 0, 0]], keras2_only=True)
    return model, [x1, x2], [y0, y1]


def main():
    for name in sorted(os.listdir(DATA)):
        folder = os.path.join(DATA, name)
        if not os.path.exists(os.path.join(folder, "weights.bin")):
            continue
        write_all(folder, load_tfjs_model(folder))
        print("wrote", name)
    for name, builder, seed in (("transformer", build_transformer, 201),
                                ("gru_reset_after", build_gru_reset_after, 202),
                                ("extra_layers", build_extra_layers, 203),
                                ("extra_layers_keras2", build_extra_layers_keras2, 204)):
        folder = os.path.join(DATA, name)
        os.makedirs(folder, exist_ok=True)
        model, xs, ys = builder(np.random.default_rng(seed))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(model["k2_config"], f, indent=1)
        for i, a in enumerate(xs):
            npy_write(os.path.join(folder, f"input_{i}.npy"), a)
        for i, a in enumerate(ys):
            npy_write(os.path.join(folder, f"output_{i}.npy"), a)
        write_all(folder, model)
        print("wrote", name, "(numpy reference)")


if __name__ == "__main__":
    main()
