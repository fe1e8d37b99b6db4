#!/usr/bin/python3
"""Cross-checks of the numpy references of extra_layers and extra_layers_keras2.

write_keras_files.py computes those references with vectorized float64 numpy code. This
script checks that code against separately written element-by-element loops, against
small cases worked out by hand, and against the definition of a transposed convolution
as the adjoint of the forward convolution (what tf.nn.conv*_transpose computes). Then it
recomputes every stored output from the stored inputs and the weights read back from
weights.h5, using the loops only.

Usage: /usr/bin/python3 tests/keras/check_numpy_refs.py   (exits 1 on a mismatch)
"""
import math
import os
import sys

sys.dont_write_bytecode = True
import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import write_keras_files as wk  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
FAILED = []


def check(name, got, want, tol=1e-10):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    ok = got.shape == want.shape and np.allclose(got, want, rtol=tol, atol=tol)
    err = float(np.abs(got - want).max()) if got.shape == want.shape else float("nan")
    print(f"{'ok  ' if ok else 'FAIL'} {name}: shape {want.shape}, max abs diff {err:.2e}")
    if not ok:
        FAILED.append(name)


# ---------------------------------------------------------------- loops
def loop_pads(L, k, s, d, padding):
    """(pad before, output length) of a forward convolution, TensorFlow rules."""
    ke = d * (k - 1) + 1
    if padding == "valid":
        return 0, (L - ke) // s + 1
    if padding == "causal":
        return ke - 1, L                      # stride 1 only here
    out = math.ceil(L / s)                    # "same"
    return max((out - 1) * s + ke - L, 0) // 2, out


def loop_conv1d(x, w, b, s=1, padding="valid", d=1, groups=1):
    B, L, cin = x.shape
    k, ig, cout = w.shape
    og = cout // groups
    pl, n = loop_pads(L, k, s, d, padding)
    y = np.zeros((B, n, cout))
    for bi in range(B):
        for t in range(n):
            for o in range(cout):
                g = o // og
                acc = 0.0 if b is None else b[o]
                for j in range(k):
                    p = t * s + j * d - pl
                    if 0 <= p < L:
                        for ci in range(ig):
                            acc += x[bi, p, g * ig + ci] * w[j, ci, o]
                y[bi, t, o] = acc
    return y


def loop_depthwise1d(x, w, b, s=1, padding="valid", d=1):
    B, L, cin = x.shape
    k, _, M = w.shape
    pl, n = loop_pads(L, k, s, d, padding)
    y = np.zeros((B, n, cin * M))
    for bi in range(B):
        for t in range(n):
            for c in range(cin):
                for m in range(M):
                    acc = 0.0 if b is None else b[c * M + m]
                    for j in range(k):
                        p = t * s + j * d - pl
                        if 0 <= p < L:
                            acc += x[bi, p, c] * w[j, c, m]
                    y[bi, t, c * M + m] = acc
    return y


def loop_separable1d(x, dw, pw, b, s=1, padding="valid"):
    z = loop_depthwise1d(x, dw, None, s, padding)
    B, n, q = z.shape
    y = np.zeros((B, n, pw.shape[2]))
    for bi in range(B):
        for t in range(n):
            for f in range(pw.shape[2]):
                y[bi, t, f] = b[f] + sum(z[bi, t, i] * pw[0, i, f] for i in range(q))
    return y


def keras_out_len(L, k, s, padding, op):
    """conv_utils.deconv_output_length, written again (dilation 1)."""
    if op is None:
        return L * s + max(k - s, 0) if padding == "valid" else L * s
    return (L - 1) * s + k - (2 * (k // 2) if padding == "same" else 0) + op


def loop_conv_transpose(x, w, b, strides, padding, op=None):
    """Scatter form: input position i, tap j lands on output i*s + j - before, where
    `before` is the forward convolution's padding for the output length."""
    rank = x.ndim - 2
    L, ks = x.shape[1:1 + rank], w.shape[:rank]
    cout, cin = w.shape[rank], w.shape[rank + 1]
    N = [keras_out_len(L[a], ks[a], strides[a], padding, None if op is None else op[a])
         for a in range(rank)]
    before = [loop_pads(N[a], ks[a], strides[a], 1, padding)[0] for a in range(rank)]
    y = np.zeros((x.shape[0],) + tuple(N) + (cout,))
    y += b
    for bi in range(x.shape[0]):
        for i in np.ndindex(*L):
            for j in np.ndindex(*ks):
                pos = tuple(i[a] * strides[a] + j[a] - before[a] for a in range(rank))
                if all(0 <= pos[a] < N[a] for a in range(rank)):
                    for co in range(cout):
                        for ci in range(cin):
                            y[(bi,) + pos + (co,)] += x[(bi,) + i + (ci,)] * w[j + (co, ci)]
    return y


def loop_forward_conv(u, w, strides, padding):
    """The forward convolution a transposed one is the gradient of: u (B, N..., Cout)
    -> (B, L..., Cin) with kernel w (k..., Cout, Cin), TensorFlow SAME/VALID padding."""
    rank = u.ndim - 2
    N, ks = u.shape[1:1 + rank], w.shape[:rank]
    pads = [loop_pads(N[a], ks[a], strides[a], 1, padding) for a in range(rank)]
    L = [p[1] for p in pads]
    y = np.zeros((u.shape[0],) + tuple(L) + (w.shape[rank + 1],))
    for bi in range(u.shape[0]):
        for t in np.ndindex(*L):
            for j in np.ndindex(*ks):
                pos = tuple(t[a] * strides[a] + j[a] - pads[a][0] for a in range(rank))
                if all(0 <= pos[a] < N[a] for a in range(rank)):
                    y[(bi,) + t] += u[(bi,) + pos] @ w[j]
    return y


def loop_lstm(x, K, R, bias):
    B, T, _ = x.shape
    u = R.shape[0]
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))
    seq = np.zeros((B, T, u))
    hs, cs = np.zeros((B, u)), np.zeros((B, u))
    for bi in range(B):
        h, c = [0.0] * u, [0.0] * u
        for t in range(T):
            z = [bias[g] + sum(x[bi, t, i] * K[i, g] for i in range(x.shape[2]))
                 + sum(h[q] * R[q, g] for q in range(u)) for g in range(4 * u)]
            c = [sig(z[u + q]) * c[q] + sig(z[q]) * math.tanh(z[2 * u + q]) for q in range(u)]
            h = [sig(z[3 * u + q]) * math.tanh(c[q]) for q in range(u)]
            seq[bi, t] = h
        hs[bi], cs[bi] = h, c
    return seq, hs, cs


def loop_dot_1_2(a, b):
    """Dot(axes=(1, 2)): out[n, p, q] = sum_k a[n, k, p] * b[n, q, k]."""
    out = np.zeros((a.shape[0], a.shape[2], b.shape[1]))
    for n in range(a.shape[0]):
        for p in range(a.shape[2]):
            for q in range(b.shape[1]):
                out[n, p, q] = sum(a[n, k, p] * b[n, q, k] for k in range(a.shape[1]))
    return out


def hand_bilinear_matrix(n_in, factor):
    """1-D interpolation matrix of tf.image.resize bilinear (half-pixel centers) for the
    two cases used here, written out by hand: n_in 4 x2, n_in 5 x3 (and n_in 2)."""
    if factor == 2:
        rows = [[1.0]]                    # out 0: src -0.25 -> clamped to in 0
        for i in range(n_in - 1):         # out 2i+1: src i+0.25, out 2i+2: src i+0.75
            rows += [[0.0] * i + [0.75, 0.25], [0.0] * i + [0.25, 0.75]]
        rows += [[0.0] * (n_in - 1) + [1.0]]   # last: src n-0.25 -> in n-1
    else:                                 # x3: src -1/3, 0, 1/3, 2/3, 1, 4/3, ...
        rows = [[1.0], [1.0]]
        for i in range(n_in - 1):
            rows += [[0.0] * i + [2 / 3, 1 / 3], [0.0] * i + [1 / 3, 2 / 3], [0.0] * (i + 1) + [1.0]]
        rows += [[0.0] * (n_in - 1) + [1.0]]
    m = np.zeros((n_in * factor, n_in))
    for r, row in enumerate(rows):
        m[r, :len(row)] = row
    return m


def loop_relu(x, mx, slope, thr):
    return np.vectorize(lambda v: min(v, mx) if v > thr else slope * (v - thr))(x)


# ---------------------------------------------------------------- unit checks
def unit_checks(rng):
    r = lambda *s: rng.uniform(-1, 1, s)
    x = r(2, 10, 6)
    for k, s, d, pad, groups in ((3, 1, 2, "causal", 1), (4, 1, 1, "same", 2), (3, 2, 1, "same", 3),
                                 (4, 3, 1, "same", 1), (3, 1, 2, "valid", 2), (2, 2, 1, "valid", 1)):
        w, b = r(k, 6 // groups, 4 if groups != 3 else 6), None
        b = r(w.shape[2])
        check(f"Conv1D k{k} s{s} d{d} {pad} groups{groups}",
              wk.np_conv1d(x, w, b, s, pad, d, groups), loop_conv1d(x, w, b, s, pad, d, groups))
    # "same" puts the odd padding element at the end: L 4, k 2 -> y[3] = x[3] w[0] only
    xs = np.arange(1.0, 5.0).reshape(1, 4, 1)
    check("Conv1D same k2 by hand", wk.np_conv1d(xs, np.array([[[1.0]], [[10.0]]]), None,
                                                  padding="same"),
          np.array([21.0, 32.0, 43.0, 4.0]).reshape(1, 4, 1))
    check("Conv1D causal k2 d2 by hand", wk.np_conv1d(xs, np.array([[[1.0]], [[10.0]]]), None,
                                                       padding="causal", dilation=2),
          np.array([10.0, 20.0, 31.0, 42.0]).reshape(1, 4, 1))
    for k, s, pad in ((3, 1, "valid"), (3, 1, "same"), (4, 2, "same")):
        w, b = r(k, 6, 2), r(12)
        check(f"DepthwiseConv1D k{k} s{s} {pad} mult 2",
              wk.np_depthwise1d(x, w, b, s, pad), loop_depthwise1d(x, w, b, s, pad))
    # output channel c*M + m: one tap, input channel 1 of 2, multiplier 2
    w = np.zeros((1, 2, 2))
    w[0, 1, 0], w[0, 1, 1] = 2.0, 3.0
    xo = np.ones((1, 1, 2))
    check("DepthwiseConv1D channel order by hand", wk.np_depthwise1d(xo, w, None),
          np.array([[[0.0, 0.0, 2.0, 3.0]]]))
    dw, pw, b = r(3, 6, 2), r(1, 12, 5), r(5)
    check("SeparableConv1D s2 same", wk.np_separable1d(x, dw, pw, b, 2, "same"),
          loop_separable1d(x, dw, pw, b, 2, "same"))

    for shape, k, s, pad, op in (((2, 5, 5), (3,), (2,), "same", None),
                                 ((2, 12, 4), (2,), (3,), "valid", None),
                                 ((2, 6, 3), (3,), (2,), "valid", (1,)),
                                 ((2, 6, 3), (4,), (2,), "same", (1,)),
                                 ((2, 4, 5, 2), (4, 3), (2, 2), "same", (1, 1)),
                                 ((2, 4, 5, 2), (3, 3), (2, 2), "valid", None)):
        xt = r(*shape)
        w, b = r(*(k + (3, shape[-1]))), r(3)
        got = wk.np_conv_transpose(xt, w, b, s, pad, op)
        check(f"Conv{len(k)}DTranspose k{k} s{s} {pad} output_padding {op}: loops",
              got, loop_conv_transpose(xt, w, b, s, pad, op))
        # adjoint: <conv(u), v> == <u, conv_transpose(v)> for the output length N
        u = r(*got.shape)
        fu = loop_forward_conv(u, w, s, pad)
        check("  (above) forward conv of the output length gives the input length",
              np.array(fu.shape), np.array(xt.shape))
        check("  (above) adjoint of the forward convolution",
              np.sum(fu * xt), np.sum(u * (got - b)))
    # by hand: x = [1, 2], k = [1, 10], s 3 valid -> [1, 10, 0, 2, 20, 0] (last: bias only)
    check("Conv1DTranspose s3 k2 valid by hand",
          wk.np_conv_transpose(np.array([[[1.0], [2.0]]]), np.array([[[1.0]], [[10.0]]]),
                               np.zeros(1), (3,), "valid")[0, :, 0],
          np.array([1.0, 10.0, 0.0, 2.0, 20.0, 0.0]))

    a, bq = 3.0, 7.0
    check("bilinear x2 by hand", wk.np_resize_bilinear(np.array([a, bq]).reshape(1, 1, 2, 1), 1, 4)
          .ravel(), [a, 0.75 * a + 0.25 * bq, 0.25 * a + 0.75 * bq, bq])
    check("bilinear x3 by hand", wk.np_resize_bilinear(np.array([a, bq]).reshape(1, 1, 2, 1), 1, 6)
          .ravel(), [a, a, (2 * a + bq) / 3, (a + 2 * bq) / 3, bq, bq])
    img = r(2, 4, 5, 3)
    want = np.einsum("ia,jb,nabc->nijc", hand_bilinear_matrix(4, 2), hand_bilinear_matrix(5, 3), img)
    check("UpSampling2D bilinear (2, 3) = hand-built 1-D matrices", wk.np_resize_bilinear(img, 8, 15),
          want)

    pts = np.array([-1.0, 0.0, 0.1, 0.125, 0.2, 0.75, 2.0])
    check("ReLU(0.75, 0.25, 0.125) by hand", wk.np_relu(pts, 0.75, 0.25, 0.125),
          [-0.28125, -0.03125, -0.00625, 0.0, 0.2, 0.75, 0.75])
    check("ELU(0.5) by hand", wk.np_elu(np.array([-1.0, 0.0, 2.0]), 0.5),
          [0.5 * (math.exp(-1) - 1), 0.0, 2.0])
    xl = r(2, 5, 3)
    K, R, bl = r(3, 16), r(4, 16), r(16)
    for nm, g, w_ in zip(("LSTM sequence", "LSTM h", "LSTM c"), wk.np_lstm(xl, K, R, bl),
                         loop_lstm(xl, K, R, bl)):
        check(nm, g, w_)
    p, q = r(2, 6, 3), r(2, 4, 6)
    check("Dot axes (1, 2)", wk.np_batch_dot(p, q, (1, 2)), loop_dot_1_2(p, q))


# ---------------------------------------------------------------- end to end
def k2_weights(folder):
    out = {}
    with h5py.File(os.path.join(folder, "weights.h5"), "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name.split("/", 1)[1]] = obj[...].astype(np.float64)
        f.visititems(visit)
    return out


def end_to_end():
    folder = os.path.join(DATA, "extra_layers")
    W = k2_weights(folder)
    a, bb, im = (np.load(os.path.join(folder, f"input_{i}.npy")).astype(np.float64)
                 for i in range(3))
    c1 = loop_conv1d(a - bb, W["conv1d/kernel:0"], W["conv1d/bias:0"], padding="causal", d=2)
    c2 = np.maximum(loop_conv1d(c1, W["conv1d_1/kernel:0"], W["conv1d_1/bias:0"],
                                padding="same", groups=2), 0)
    dw = loop_depthwise1d(c2, W["depthwise_conv1d/depthwise_kernel:0"],
                          W["depthwise_conv1d/bias:0"])
    sp = np.tanh(loop_separable1d(dw, W["separable_conv1d/depthwise_kernel:0"],
                                  W["separable_conv1d/pointwise_kernel:0"],
                                  W["separable_conv1d/bias:0"], 2, "same"))
    t1 = loop_conv_transpose(sp, W["conv1d_transpose/kernel:0"], W["conv1d_transpose/bias:0"],
                             (2,), "same")
    t2 = loop_conv_transpose(c2, W["conv1d_transpose_1/kernel:0"],
                             W["conv1d_transpose_1/bias:0"], (3,), "valid")
    z = np.concatenate([np.zeros((3, 1, 3)), t2[:, 1:-1], np.zeros((3, 2, 3))], axis=1)
    up = np.exp(z)[:, [t // 2 for t in range(2 * z.shape[1])]]
    seq, h, c = loop_lstm(a, W["lstm/lstm_cell/kernel:0"], W["lstm/lstm_cell/recurrent_kernel:0"],
                          W["lstm/lstm_cell/bias:0"])
    lk = np.where(bb > 0, bb, 0.125 * bb)
    dt = loop_dot_1_2(lk, c1.transpose(0, 2, 1))
    outs = [loop_relu(t1, 0.75, 0.25, 0.125),
            np.exp(up) / np.exp(up).sum(axis=1, keepdims=True),
            seq, h, c, dt / (1 + np.abs(dt)),
            np.einsum("ia,jb,nabc->nijc", hand_bilinear_matrix(4, 2), hand_bilinear_matrix(5, 3), im)]
    for i, o in enumerate(outs):
        check(f"extra_layers output_{i} from weights.h5", o,
              np.load(os.path.join(folder, f"output_{i}.npy")), tol=1e-6)

    folder = os.path.join(DATA, "extra_layers_keras2")
    W = k2_weights(folder)
    x1, x2 = (np.load(os.path.join(folder, f"input_{i}.npy")).astype(np.float64) for i in range(2))
    t = loop_conv_transpose(x1, W["conv2d_transpose/kernel:0"], W["conv2d_transpose/bias:0"],
                            (2, 2), "same", (1, 1))
    outs = [np.where(t > 0, t, 0.5 * (np.exp(t) - 1)),
            loop_conv_transpose(x2, W["conv1d_transpose/kernel:0"], W["conv1d_transpose/bias:0"],
                                (2,), "valid", (1,))]
    for i, o in enumerate(outs):
        check(f"extra_layers_keras2 output_{i} from weights.h5", o,
              np.load(os.path.join(folder, f"output_{i}.npy")), tol=1e-6)


if __name__ == "__main__":
    unit_checks(np.random.default_rng(7))
    end_to_end()
    print(f"{len(FAILED)} failed" + (": " + ", ".join(FAILED) if FAILED else ""))
    sys.exit(1 if FAILED else 0)
