// ONNX Runtime's side of the benchmark (npm onnxruntime-node, CPU, all graph optimizations).
//   node ort_bench.js MODEL_PREFIX THREADS latency   -> {"p50_us":..,"p90_us":..,"runs":..}
//   node ort_bench.js MODEL_PREFIX THREADS rss       -> {"peak_rss_kb":..} after one run
// MODEL_PREFIX.onnx, .input.bin (inputs concatenated, float32) and .json (input names and shapes).
const fs = require('fs');
const ort = require('onnxruntime-node');

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
  const session = await ort.InferenceSession.create(prefix + '.onnx', {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential'});
  await session.run(feeds);
  if (mode === 'rss') {
    console.log(JSON.stringify({peak_rss_kb: process.resourceUsage().maxRSS}));
    return;
  }
  // Warm up, then time single calls until about 2 s or 20000 calls have been measured.
  for (let i = 0; i < 20; ++i) await session.run(feeds);
  const samples = [];
  const start = process.hrtime.bigint();
  while (samples.length < 20000 && (samples.length < 30 || Number(process.hrtime.bigint() - start) < 2e9)) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  samples.sort((a, b) => a - b);
  const pick = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  console.log(JSON.stringify({p50_us: pick(0.5), p90_us: pick(0.9), runs: samples.length}));
}

main().catch((e) => { console.error(e.message); process.exit(1); });
