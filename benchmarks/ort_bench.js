// ONNX Runtime's side of the benchmark (npm onnxruntime-node, CPU, all graph optimizations).
//   node ort_bench.js MODEL_PREFIX THREADS latency -> {"p50_us":..,"p90_us":..,"runs":..,
//                                                      "overhead_p50_us":..}
//   node --expose-gc ort_bench.js MODEL_PREFIX THREADS rss -> {"model_rss_kb":..,"peak_rss_kb":..}:
//       what the model's session and one run add to the peak, and the peak
// MODEL_PREFIX.onnx, .input.bin (inputs concatenated, float32) and .json (input names and shapes).
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

// A field of /proc/self/status, in KiB.
function procStatusKb(key) {
  const match = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp('^' + key + ':\\s+(\\d+)', 'm'));
  if (!match) throw new Error('no ' + key + ' in /proc/self/status');
  return Number(match[1]);
}

async function main() {
  const [prefix, threads, mode] = process.argv.slice(2);
  const meta = JSON.parse(fs.readFileSync(prefix + '.json'));
  const raw = fs.readFileSync(prefix + '.input.bin');
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const feeds = {};
  let at = 0;
  for (const input of meta.inputs) {
    const n = input.shape.reduce((a, b) => a * b, 1);
    feeds[input.name] = new ort.Tensor('float32', all.slice(at, at + n), input.shape);
    at += n;
  }
  const options = {intraOpNumThreads: Number(threads), interOpNumThreads: 1, graphOptimizationLevel: 'all',
                   executionMode: 'sequential'};
  const identityPath = path.join(path.dirname(prefix), 'identity');
  const identityFeeds = {input: new ort.Tensor('float32', new Float32Array(1), [1])};
  if (mode === 'rss') {
    // The model's share of the peak, paired in one process: node's own resident memory moves by
    // about 1 MiB from process to process, more than a small model's session, so a difference
    // of two processes' peaks (this harness on the model and on the Identity model) was noise.
    // The runtime is first set up by an Identity session and one run, and node's garbage
    // collected (run with --expose-gc); then the peak is reset (clear_refs 5) and the model's
    // session made and run once.
    if (!global.gc) throw new Error('rss mode needs node --expose-gc');
    const identity = await ort.InferenceSession.create(identityPath + '.onnx', options);
    await identity.run(identityFeeds);
    global.gc();
    fs.writeFileSync('/proc/self/clear_refs', '5');
    const before = procStatusKb('VmRSS');
    const session = await ort.InferenceSession.create(prefix + '.onnx', options);
    await session.run(feeds);
    const peak = procStatusKb('VmHWM');
    console.log(JSON.stringify({model_rss_kb: peak - before, peak_rss_kb: peak}));
    return;
  }
  const session = await ort.InferenceSession.create(prefix + '.onnx', options);
  await session.run(feeds);
  // ORT's call overhead, timed in the same process between the model's calls (the 1-element
  // Identity model beside it): the machine's speed drifts over a run of all the models, and an
  // overhead measured minutes apart once exceeded a small model's whole call.
  const identity = await ort.InferenceSession.create(identityPath + '.onnx', {...options, intraOpNumThreads: 1});
  // Warm up, then time single calls until about 2 s or 20000 calls have been measured.
  for (let i = 0; i < 20; ++i) {
    await session.run(feeds);
    await identity.run(identityFeeds);
  }
  const samples = [], overheads = [];
  const start = process.hrtime.bigint();
  while (samples.length < 20000 && (samples.length < 30 || Number(process.hrtime.bigint() - start) < 2e9)) {
    let t0 = process.hrtime.bigint();
    await session.run(feeds);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
    t0 = process.hrtime.bigint();
    await identity.run(identityFeeds);
    overheads.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  const pick = (v, q) => v[Math.min(v.length - 1, Math.floor(q * v.length))];
  samples.sort((a, b) => a - b);
  overheads.sort((a, b) => a - b);
  console.log(JSON.stringify({p50_us: pick(samples, 0.5), p90_us: pick(samples, 0.9), runs: samples.length,
                              overhead_p50_us: pick(overheads, 0.5)}));
}

main().catch((e) => { console.error(e.message); process.exit(1); });
