// Builds the Keras front-end test models with TensorFlow.js (pure JS backend),
// fills every weight from a seeded PRNG, runs predict() on seeded inputs and
// writes, per model, into tests/keras/data/<model>/:
//   config.json     model.toJSON(null, false) as tfjs writes it
//   weights.json    manifest: per layer (model.layers order) its weights in
//                   Keras order: tfjs name, shape, float offset into weights.bin
//   weights.bin     all weights, float32 little endian, concatenated
//   input_<i>.npy / output_<i>.npy   float32 .npy v1.0
// Run: node tests/keras/make_models.mjs   (after npm install, see README.md)
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DATA = path.join(HERE, 'data');

// ---------------------------------------------------------------- helpers
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function npyBytes(data, shape) {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const buf = Buffer.alloc(10 + header.length + data.length * 4);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1; buf[7] = 0;
  buf.writeUInt16LE(header.length, 8);
  buf.write(header, 10, 'latin1');
  const f = Buffer.from(Float32Array.from(data).buffer);
  f.copy(buf, 10 + header.length);
  return buf;
}

// Keras-style automatic layer names, counters reset per model.
class Namer {
  constructor() { this.seen = {}; }
  get(prefix) {
    if (!(prefix in this.seen)) { this.seen[prefix] = 0; return prefix; }
    this.seen[prefix] += 1;
    return `${prefix}_${this.seen[prefix]}`;
  }
}

// Value generator for one weight, by its short (Keras) name.
function fillWeight(shortName, size, rnd) {
  const out = new Float32Array(size);
  let lo = -0.5, hi = 0.5;
  if (shortName === 'moving_variance') { lo = 0.5; hi = 1.5; }
  if (shortName === 'gamma') { lo = 0.6; hi = 1.4; }
  if (shortName === 'alpha') { lo = 0.05; hi = 0.4; }  // PReLU
  for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * rnd();
  return out;
}

function shortName(v) {
  const parts = v.originalName.split('/');
  return parts[parts.length - 1];
}

function setAllWeights(model, rnd) {
  const manifest = [];
  let offset = 0;
  const chunks = [];
  for (const layer of model.layers) {
    const entry = { name: layer.name, class_name: layer.getClassName(),
                    input_shape: layer.inputShape, output_shape: layer.outputShape, weights: [] };
    const vals = [];
    for (const w of layer.weights) {
      const size = w.shape.reduce((a, b) => a * b, 1);
      const sn = shortName(w);
      const data = fillWeight(sn, size, rnd);
      vals.push(tf.tensor(data, w.shape, 'float32'));
      entry.weights.push({ tfjs_name: w.originalName, short_name: sn, shape: w.shape, offset, size,
                           trainable: w.trainable });
      chunks.push(data);
      offset += size;
    }
    if (vals.length) layer.setWeights(vals);
    manifest.push(entry);
  }
  const all = new Float32Array(offset);
  let o = 0;
  for (const c of chunks) { all.set(c, o); o += c.length; }
  return { manifest, all };
}

function randomInput(shape, rnd, kind) {
  const size = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    if (kind && kind.int) d[i] = Math.floor(rnd() * kind.int);
    else d[i] = -1 + 2 * rnd();
  }
  return d;
}

async function emit(name, model, opts = {}) {
  const seed = opts.seed ?? 1234;
  const rnd = mulberry32(seed);
  const { manifest, all } = setAllWeights(model, rnd);
  const dir = path.join(DATA, name);
  fs.mkdirSync(dir, { recursive: true });
  const batch = opts.batch ?? 3;
  const inputs = model.inputs.map((inp, i) => {
    const shape = [batch, ...inp.shape.slice(1)];
    const kind = opts.inputKinds ? opts.inputKinds[i] : null;
    let data = randomInput(shape, rnd, kind);
    if (opts.fixInput) data = opts.fixInput(i, data, shape);
    return { data, shape };
  });
  const tIn = inputs.map((x) => tf.tensor(x.data, x.shape, 'float32'));
  let out = model.predict(tIn.length === 1 ? tIn[0] : tIn);
  if (!Array.isArray(out)) out = [out];
  inputs.forEach((x, i) => fs.writeFileSync(path.join(dir, `input_${i}.npy`), npyBytes(x.data, x.shape)));
  const outs = [];
  for (let i = 0; i < out.length; i++) {
    const data = out[i].dataSync();
    outs.push({ data, shape: out[i].shape });
    fs.writeFileSync(path.join(dir, `output_${i}.npy`), npyBytes(data, out[i].shape));
  }
  if (opts.extra) opts.extra({ dir, model, tIn, outs });
  const cfg = model.toJSON(null, false);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 1));
  fs.writeFileSync(path.join(dir, 'weights.json'), JSON.stringify({
    model: name, dtype: 'float32', layers: manifest,
    keras2_only: !!opts.keras2Only,
  }, null, 1));
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(all.buffer));
  const nW = all.length;
  console.log(`${name}: ${model.layers.length} layers, ${nW} weights, outputs ${outs.map((o) => JSON.stringify(o.shape)).join(' ')}`);
}

const L = tf.layers;

// ---------------------------------------------------------------- models
function jetTagger() {
  const n = new Namer();
  n.get('input');  // InputLayer of a Keras 2 Sequential would be input_1
  const m = tf.sequential({ name: 'sequential' });
  m.add(L.dense({ units: 64, activation: 'relu', inputShape: [16], name: n.get('dense') }));
  m.add(L.batchNormalization({ name: n.get('batch_normalization'), epsilon: 0.001, momentum: 0.99 }));
  m.add(L.dropout({ rate: 0.2, name: n.get('dropout') }));
  m.add(L.dense({ units: 32, activation: 'elu', name: n.get('dense') }));
  m.add(L.dense({ units: 32, activation: 'tanh', name: n.get('dense') }));
  m.add(L.dense({ units: 5, activation: 'softmax', name: n.get('dense') }));
  return m;
}

const ACTS = ['relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hard_sigmoid', 'tanh', 'softmax',
  'softplus', 'softsign', 'linear', 'swish', 'mish', 'gelu'];

function activationsModel() {
  const n = new Namer();
  const x = tf.input({ shape: [8], name: 'input_1' });
  const h = L.dense({ units: 12, name: n.get('dense') }).apply(x);
  const branches = [];
  const branchNames = [];
  for (const a of ACTS) {
    const d = L.dense({ units: 4, activation: a === 'hard_sigmoid' ? 'hardSigmoid' : a, name: n.get('dense') });
    branches.push(d.apply(h));
    branchNames.push(d.name);
  }
  branches.push(L.reLU({ name: n.get('re_lu') }).apply(h));
  branches.push(L.reLU({ maxValue: 0.25, name: n.get('re_lu') }).apply(h));
  branches.push(L.leakyReLU({ alpha: 0.2, name: n.get('leaky_re_lu') }).apply(h));
  branches.push(L.leakyReLU({ name: n.get('leaky_re_lu') }).apply(h));  // default alpha 0.3
  branches.push(L.prelu({ name: n.get('p_re_lu') }).apply(h));
  branches.push(L.elu({ name: n.get('elu') }).apply(h));
  branches.push(L.softmax({ name: n.get('softmax') }).apply(h));
  const r = L.reshape({ targetShape: [3, 4], name: n.get('reshape') }).apply(h);
  const s = L.softmax({ axis: 2, name: n.get('softmax') }).apply(r);
  branches.push(L.flatten({ name: n.get('flatten') }).apply(s));
  branches.push(L.activation({ activation: 'softplus', name: n.get('activation') }).apply(h));
  branches.push(L.activation({ activation: 'selu', name: n.get('activation') }).apply(h));
  const y = L.concatenate({ axis: -1, name: n.get('concatenate') }).apply(branches);
  return { model: tf.model({ inputs: x, outputs: y, name: 'model' }), branchNames };
}

function thresholdedRelu() {
  const n = new Namer();
  n.get('input');
  const m = tf.sequential({ name: 'sequential' });
  m.add(L.dense({ units: 6, inputShape: [5], name: n.get('dense') }));
  m.add(L.thresholdedReLU({ theta: 0.1, name: n.get('thresholded_re_lu') }));
  m.add(L.dense({ units: 6, name: n.get('dense') }));
  m.add(L.thresholdedReLU({ theta: -0.2, name: n.get('thresholded_re_lu') }));
  m.add(L.dense({ units: 3, name: n.get('dense') }));
  return m;
}

function mergeMultiIo() {
  const n = new Namer();
  const a = tf.input({ shape: [6], name: 'input_1' });
  const b = tf.input({ shape: [6], name: 'input_2' });
  const ad = L.add({ name: n.get('add') }).apply([a, b]);
  const mu = L.multiply({ name: n.get('multiply') }).apply([a, b]);
  const av = L.average({ name: n.get('average') }).apply([a, b]);
  const mx = L.maximum({ name: n.get('maximum') }).apply([a, b]);
  const mn = L.minimum({ name: n.get('minimum') }).apply([a, b]);
  const d1 = L.dot({ axes: 1, name: n.get('dot') }).apply([a, b]);
  const d2 = L.dot({ axes: 1, normalize: true, name: n.get('dot') }).apply([a, b]);
  const ra = L.reshape({ targetShape: [2, 3], name: n.get('reshape') }).apply(a);
  const rb = L.reshape({ targetShape: [2, 3], name: n.get('reshape') }).apply(b);
  const c3 = L.concatenate({ axis: 1, name: n.get('concatenate') }).apply([ra, rb]);  // (4,3)
  const p = L.permute({ dims: [2, 1], name: n.get('permute') }).apply(c3);            // (3,4)
  const d3 = L.dot({ axes: [2, 2], name: n.get('dot') }).apply([ra, rb]);             // (2,2)
  const f = L.flatten({ name: n.get('flatten') }).apply(p);
  const fd = L.flatten({ name: n.get('flatten') }).apply(d3);
  const out1 = L.concatenate({ name: n.get('concatenate') }).apply([ad, mu, av, mx, mn, d1, d2, f, fd]);
  const rv1 = L.repeatVector({ n: 3, name: n.get('repeat_vector') }).apply(ad);
  const rv2 = L.repeatVector({ n: 3, name: n.get('repeat_vector') }).apply(mn);
  const c = L.concatenate({ axis: -1, name: n.get('concatenate') }).apply([rv1, rv2]);  // (3,12)
  const out2 = L.dense({ units: 4, activation: 'tanh', name: n.get('dense') }).apply(c);  // dense on 3-D
  return tf.model({ inputs: [a, b], outputs: [out1, out2], name: 'model' });
}

function cnn2d() {
  const n = new Namer();
  n.get('input');
  const m = tf.sequential({ name: 'sequential' });
  m.add(L.zeroPadding2d({ padding: [1, 1], inputShape: [16, 16, 3], name: n.get('zero_padding2d') })); // 18x18x3
  m.add(L.conv2d({ filters: 8, kernelSize: 3, padding: 'valid', activation: 'relu', name: n.get('conv2d') })); // 16x16x8
  m.add(L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', dilationRate: 2, name: n.get('conv2d') }));     // 16x16x6
  m.add(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu', name: n.get('depthwise_conv2d') })); // 16x16x12
  m.add(L.maxPooling2d({ poolSize: 2, name: n.get('max_pooling2d') }));                                         // 8x8x12
  m.add(L.separableConv2d({ filters: 8, kernelSize: 3, padding: 'valid', activation: 'relu', name: n.get('separable_conv2d') })); // 6x6x8
  m.add(L.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same', name: n.get('average_pooling2d') }));  // 3x3x8
  m.add(L.conv2dTranspose({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: n.get('conv2d_transpose') })); // 6x6x8
  m.add(L.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', name: n.get('conv2d_transpose') })); // 13x13x4
  m.add(L.upSampling2d({ size: [2, 2], name: n.get('up_sampling2d') }));                                      // 26x26x4
  m.add(L.cropping2D({ cropping: [[1, 2], [3, 0]], name: n.get('cropping2d') }));                             // 23x23x4
  m.add(L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: n.get('average_pooling2d') })); // 11x11x4
  m.add(L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: n.get('conv2d') }));         // 6x6x8
  m.add(L.batchNormalization({ name: n.get('batch_normalization') }));
  m.add(L.layerNormalization({ name: n.get('layer_normalization') }));
  m.add(L.globalAveragePooling2d({ name: n.get('global_average_pooling2d') }));
  m.add(L.dense({ units: 5, name: n.get('dense') }));
  return m;
}

function cnn2dGlobalMax() {
  const n = new Namer();
  n.get('input');
  const m = tf.sequential({ name: 'sequential' });
  m.add(L.conv2d({ filters: 4, kernelSize: [3, 2], strides: [1, 2], padding: 'valid', useBias: false, inputShape: [8, 8, 2], name: n.get('conv2d') })); // 6x4x4
  m.add(L.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same', name: n.get('max_pooling2d') }));   // 6x4x4
  m.add(L.batchNormalization({ center: false, name: n.get('batch_normalization') }));
  m.add(L.globalMaxPooling2d({ name: n.get('global_max_pooling2d') }));
  m.add(L.dense({ units: 3, activation: 'sigmoid', name: n.get('dense') }));
  return m;
}

function cnn1d() {
  const n = new Namer();
  n.get('input');
  const m = tf.sequential({ name: 'sequential' });
  m.add(L.conv1d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [32, 4], name: n.get('conv1d') })); // 32x8 (tfjs has no causal padding)
  m.add(L.conv1d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', name: n.get('conv1d') }));   // 15x8
  m.add(L.conv1d({ filters: 6, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'tanh', name: n.get('conv1d') })); // 15x6
  m.add(L.maxPooling1d({ poolSize: 2, name: n.get('max_pooling1d') }));                  // 7x6
  m.add(L.averagePooling1d({ poolSize: 2, padding: 'same', name: n.get('average_pooling1d') })); // 4x6
  m.add(L.conv1d({ filters: 5, kernelSize: 2, padding: 'valid', name: n.get('conv1d') })); // 3x5
  m.add(L.globalMaxPooling1d({ name: n.get('global_max_pooling1d') }));
  m.add(L.dense({ units: 3, name: n.get('dense') }));
  return m;
}

function rnnSeq() {
  const n = new Namer();
  n.get('input');
  const m = tf.sequential({ name: 'sequential' });
  m.add(L.embedding({ inputDim: 20, outputDim: 8, inputLength: 10, inputShape: [10], name: n.get('embedding') }));
  m.add(L.lstm({ units: 8, returnSequences: true, recurrentActivation: 'sigmoid', name: n.get('lstm') }));
  m.add(L.gru({ units: 8, returnSequences: true, resetAfter: false, recurrentActivation: 'sigmoid', name: n.get('gru') }));
  m.add(L.gru({ units: 6, returnSequences: true, resetAfter: false, goBackwards: true, recurrentActivation: 'sigmoid', name: n.get('gru') }));
  m.add(L.simpleRNN({ units: 6, returnSequences: true, name: n.get('simple_rnn') }));
  const innerL = L.lstm({ units: 5, returnSequences: true, recurrentActivation: 'sigmoid', name: n.get('lstm') });
  m.add(L.bidirectional({ layer: innerL, mergeMode: 'concat', name: n.get('bidirectional') }));
  const innerG = L.gru({ units: 4, returnSequences: true, resetAfter: false, recurrentActivation: 'sigmoid', name: n.get('gru') });
  m.add(L.bidirectional({ layer: innerG, mergeMode: 'sum', name: n.get('bidirectional') }));
  const innerD = L.dense({ units: 6, activation: 'relu', name: n.get('dense') });
  m.add(L.timeDistributed({ layer: innerD, name: n.get('time_distributed') }));
  m.add(L.simpleRNN({ units: 4, returnSequences: false, activation: 'relu', name: n.get('simple_rnn') }));
  m.add(L.dense({ units: 2, name: n.get('dense') }));
  return m;
}

function lstmGru() {
  const n = new Namer();
  n.get('input');
  const m = tf.sequential({ name: 'sequential' });
  m.add(L.masking({ maskValue: 0.0, inputShape: [10, 6], name: n.get('masking') }));
  m.add(L.lstm({ units: 7, returnSequences: true, goBackwards: true, recurrentActivation: 'sigmoid', name: n.get('lstm') }));
  const inner = L.simpleRNN({ units: 4, returnSequences: true, name: n.get('simple_rnn') });
  m.add(L.bidirectional({ layer: inner, mergeMode: 'ave', name: n.get('bidirectional') }));
  const innerM = L.lstm({ units: 3, returnSequences: true, recurrentActivation: 'sigmoid', name: n.get('lstm') });
  m.add(L.bidirectional({ layer: innerM, mergeMode: 'mul', name: n.get('bidirectional') }));
  m.add(L.gru({ units: 5, resetAfter: false, recurrentActivation: 'sigmoid', name: n.get('gru') }));
  m.add(L.dense({ units: 3, name: n.get('dense') }));
  return m;
}

// ---------------------------------------------------------------- main
async function main() {
  await tf.setBackend('cpu');
  fs.mkdirSync(DATA, { recursive: true });

  await emit('jet_tagger', jetTagger(), { seed: 101 });

  const act = activationsModel();
  await emit('activations', act.model, {
    seed: 102,
    // Keras 3 redefined hard_sigmoid as relu6(x + 3) / 6 (Keras 2 and tfjs:
    // clip(0.2 x + 0.5, 0, 1)). Write the reference for the .keras file too.
    extra: ({ dir, model, tIn, outs }) => {
      const idx = ACTS.indexOf('hard_sigmoid');
      const hsLayer = model.getLayer(act.branchNames[idx]);
      const h = tf.model({ inputs: model.inputs, outputs: model.getLayer('dense').output }).predict(tIn[0]);
      const [k, bias] = hsLayer.getWeights();
      const pre = tf.add(tf.matMul(h, k), bias);
      const k3 = tf.div(tf.clipByValue(tf.add(pre, 3), 0, 6), 6).dataSync();
      const o = outs[0];
      const width = o.shape[1];
      const data = Float32Array.from(o.data);
      for (let r = 0; r < o.shape[0]; r++) for (let j = 0; j < 4; j++) data[r * width + idx * 4 + j] = k3[r * 4 + j];
      fs.writeFileSync(path.join(dir, 'output_0.keras3.npy'), npyBytes(data, o.shape));
    },
  });
  await emit('thresholded_relu', thresholdedRelu(), { seed: 103, keras2Only: true });
  await emit('merge_multi_io', mergeMultiIo(), { seed: 104 });
  await emit('cnn2d', cnn2d(), { seed: 105 });
  await emit('cnn2d_global_max', cnn2dGlobalMax(), { seed: 106 });
  await emit('cnn1d', cnn1d(), { seed: 107 });
  await emit('rnn_seq', rnnSeq(), { seed: 108, inputKinds: [{ int: 20 }] });
  await emit('lstm_gru', lstmGru(), {
    seed: 109,
    // keep the Masking layer a no-op: no timestep is all zeros
    fixInput: (i, d) => d.map((v) => (v === 0 ? 0.25 : v)),
  });
}

main().catch((e) => { console.error(e); process.exit(1); });
