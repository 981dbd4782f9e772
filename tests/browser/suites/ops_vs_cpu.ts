// Suite: every Backend op on WebGpuBackend (Chromium's WebGPU) against CpuBackend (the TypeScript reference) on
// small shapes that are not multiples of the workgroup sizes, with sentinel guards after every GPU output. Returns
// per-case normalized errors and sentinel results; the Node test holds them to the bar.
import type { Backend, Tensor } from '../../../src/engine/ops/ops.ts';
import { CpuBackend } from '../../../src/engine/ops/cpu/backend.ts';
import { acquireDevice, describeAdapter } from '../../../src/engine/gpu/device.ts';
import type { GpuTensor } from '../../../src/engine/gpu/runtime.ts';
import { WebGpuBackend } from '../../../src/engine/ops/webgpu/backend.ts';
import { normErr } from '../../helpers/errors.ts';
import { rand } from '../../helpers/random.ts';
import { realm } from './context.ts';

/** Tensors made from the same seeded host data on either backend. */
interface Make {
  be: Backend;
  /** activation [shape], uniform in +-scale */
  a(seed: number, shape: number[], scale?: number, offset?: number): Tensor;
  /** f32 weight [shape] */
  w(seed: number, shape: number[], scale?: number, offset?: number): Tensor;
}

type Out = Tensor | Promise<Uint8Array>;
interface Case {
  op: string;
  name: string;
  run(m: Make): Out;
}

const n = (s: number[]) => s.reduce((a, b) => a * b, 1);

function cases(): Case[] {
  const c: Case[] = [];
  const add = (op: string, name: string, run: (m: Make) => Out) => c.push({ op, name, run });

  // ---- conv2d: same padding, stride 2 with [0,1,0,1], 1x1 NLC in/out, upsample-in-conv + channel bias + residual
  add('conv2d', '3x3 [2,5,7,9]->6', (m) => m.be.conv2d(m.a(1, [2, 5, 7, 9]), m.w(2, [6, 5, 3, 3], 0.3), m.w(3, [6])));
  add('conv2d', '3x3 s2 pad[0,1,0,1] [1,4,9,11]->5', (m) =>
    m.be.conv2d(m.a(4, [1, 4, 9, 11]), m.w(5, [5, 4, 3, 3], 0.3), m.w(6, [5]), { stride: 2, pad: [0, 1, 0, 1] }));
  add('conv2d', '1x1 NLC in [2,35,6] 7x5 ->3 NLC out', (m) =>
    m.be.conv2d(m.a(7, [2, 35, 6]), m.w(8, [3, 6, 1, 1], 0.4), m.w(9, [3]), { inputTokens: [7, 5], outputTokens: true }));
  add('conv2d', '3x3 upsample 5x3->10x6, channelBias, residual', (m) =>
    m.be.conv2d(m.a(10, [2, 3, 5, 3]), m.w(11, [4, 3, 3, 3], 0.3), m.w(12, [4]), {
      upsample: [10, 6],
      channelBias: { table: m.a(13, [2, 9]), offset: 2 },
      residual: m.a(14, [2, 4, 10, 6]),
    }));

  // ---- norms
  add('groupNorm', '[2,6,5,7] g3', (m) => m.be.groupNorm(m.a(15, [2, 6, 5, 7], 2, 0.5), m.w(16, [6], 1, 1), m.w(17, [6]), { groups: 3, eps: 1e-5 }));
  add('groupNorm+silu', '[1,10,9,3] g5 silu', (m) =>
    m.be.groupNorm(m.a(18, [1, 10, 9, 3], 3), m.w(19, [10], 1, 1), m.w(20, [10]), { groups: 5, eps: 1e-6, silu: true }));
  add('layerNorm', '[2,13,24]', (m) => m.be.layerNorm(m.a(21, [2, 13, 24], 2, 1), m.w(22, [24], 1, 1), m.w(23, [24]), 1e-5));
  add('layerNorm', '[3,37]', (m) => m.be.layerNorm(m.a(24, [3, 37], 3), m.w(25, [37], 1, 1), m.w(26, [37]), 1e-5));

  // ---- matrix products, linear with its fused options
  add('linear', '[2,13,20]x[17,20]', (m) => m.be.linear(m.a(27, [2, 13, 20]), m.w(28, [17, 20], 0.3), m.w(29, [17])));
  add('linear', '[7,33]x[9,33] no bias', (m) => m.be.linear(m.a(30, [7, 33]), m.w(31, [9, 33], 0.3), null));
  add('linear+layerNorm', '[2,11,24]x[19,24]', (m) =>
    m.be.linear(m.a(32, [2, 11, 24], 2, 1), m.w(33, [19, 24], 0.3), m.w(34, [19]), {
      layerNorm: { gamma: m.w(35, [24], 1, 1), beta: m.w(36, [24]), eps: 1e-5 },
    }));
  add('linear+geglu', '[2,9,16]x[2*13,16]', (m) =>
    m.be.linear(m.a(37, [2, 9, 16]), m.w(38, [26, 16], 0.4), m.w(39, [26]), { geglu: true }));
  add('linear+residual', '[3,7,18]x[15,18]', (m) =>
    m.be.linear(m.a(40, [3, 7, 18]), m.w(41, [15, 18], 0.3), m.w(42, [15]), { residual: m.a(43, [3, 7, 15]) }));
  add('linear+layerNorm+geglu+residual', '[1,10,12]x[2*7,12]', (m) =>
    m.be.linear(m.a(44, [1, 10, 12], 2), m.w(45, [14, 12], 0.4), m.w(46, [14]), {
      layerNorm: { gamma: m.w(47, [12], 1, 1), beta: m.w(48, [12]), eps: 1e-5 },
      geglu: true,
      residual: m.a(49, [1, 10, 7]),
    }));
  add('matmul', '[2,13,17]x[2,17,11]', (m) => m.be.matmul(m.a(50, [2, 13, 17]), m.a(51, [2, 17, 11])));
  add('matmul', '[1,5,70]x[1,70,3]', (m) => m.be.matmul(m.a(52, [1, 5, 70]), m.a(53, [1, 70, 3])));

  // ---- attention: self, cross, causal, packed qkv and kv
  add('attention', 'self [2,13,2x8]', (m) => m.be.attention(m.a(54, [2, 13, 16]), m.a(55, [2, 13, 16]), m.a(56, [2, 13, 16]), { heads: 2 }));
  add('attention', 'cross q[1,19,3x5] kv[1,7,15]', (m) =>
    m.be.attention(m.a(57, [1, 19, 15], 2), m.a(58, [1, 7, 15], 2), m.a(59, [1, 7, 15]), { heads: 3 }));
  add('attention', 'causal [2,11,2x6] scale 0.3', (m) =>
    m.be.attention(m.a(60, [2, 11, 12], 2), m.a(61, [2, 11, 12], 2), m.a(62, [2, 11, 12]), { heads: 2, causal: true, scale: 0.3 }));
  add('attention', "packed 'qkv' [2,13,3x16] h2", (m) => {
    const qkv = m.a(63, [2, 13, 48], 2);
    return m.be.attention(qkv, qkv, qkv, { heads: 2, packed: 'qkv' });
  });
  add('attention', "packed 'kv' q[1,9,12] kv[1,7,24] h3", (m) => {
    const kv = m.a(64, [1, 7, 24], 2);
    return m.be.attention(m.a(65, [1, 9, 12], 2), kv, kv, { heads: 3, packed: 'kv' });
  });
  add('softmax', '[3,5,37]', (m) => m.be.softmax(m.a(66, [3, 5, 37], 4)));
  add('softmax', '[2,300]', (m) => m.be.softmax(m.a(67, [2, 300], 6)));

  // ---- element-wise
  const SH1 = [2, 3, 7, 5];
  const SH2 = [1, 517];
  for (const [i, sh] of [SH1, SH2].entries()) {
    const tag = `[${sh.join(',')}]`;
    const s = 100 + i * 40;
    add('silu', tag, (m) => m.be.silu(m.a(s, sh, 4)));
    add('gelu', tag, (m) => m.be.gelu(m.a(s + 1, sh, 4)));
    add('quickGelu', tag, (m) => m.be.quickGelu(m.a(s + 2, sh, 4)));
    add('geglu', `${tag.slice(0, -1)}x2]`, (m) => m.be.geglu(m.a(s + 3, [...sh.slice(0, -1), sh.at(-1)! * 2], 3)));
    add('exp', tag, (m) => m.be.exp(m.a(s + 4, sh, 3)));
    add('clamp', tag, (m) => m.be.clamp(m.a(s + 5, sh, 3), -1.25, 0.5));
    add('add', tag, (m) => m.be.add(m.a(s + 6, sh), m.a(s + 7, sh)));
    add('mul', tag, (m) => m.be.mul(m.a(s + 8, sh), m.a(s + 9, sh)));
    add('scale', tag, (m) => m.be.scale(m.a(s + 10, sh), 0.18215, -0.3));
    add('lincomb', `2 terms ${tag}`, (m) => m.be.lincomb([{ t: m.a(s + 11, sh), coef: 0.7 }, { t: m.a(s + 12, sh), coef: -1.3 }]));
  }
  add('addPerChannel', '[2,5,7,3]+[2,5]', (m) => m.be.addPerChannel(m.a(180, [2, 5, 7, 3]), m.a(181, [2, 5])));
  add('addPerChannel', '[1,9,11]+[1,9]', (m) => m.be.addPerChannel(m.a(182, [1, 9, 11]), m.a(183, [1, 9])));
  add('lincomb', 'guidance: 4 terms with batch [3,4,5,7]', (m) => {
    const b = m.a(184, [3, 4, 5, 7]);
    return m.be.lincomb([
      { t: b, coef: 1, batch: 2 },
      { t: b, coef: 7.5, batch: 0 },
      { t: b, coef: -6, batch: 1 },
      { t: m.a(185, [1, 4, 5, 7]), coef: 0.25 },
    ]);
  });
  add('concatWeights', '[5,7]+[3,7]+[6,7]', (m) => m.be.concatWeights([m.w(186, [5, 7]), m.w(187, [3, 7]), m.w(188, [6, 7])]));

  // ---- layout
  add('upsampleNearest', '[2,3,5,7]->10x14', (m) => m.be.upsampleNearest(m.a(189, [2, 3, 5, 7]), 10, 14));
  add('upsampleNearest', '[1,2,7,5]->9x11', (m) => m.be.upsampleNearest(m.a(190, [1, 2, 7, 5]), 9, 11));
  add('concat', 'axis 1 [2,3,5,7]+[2,4,5,7]', (m) => m.be.concat([m.a(191, [2, 3, 5, 7]), m.a(192, [2, 4, 5, 7])], 1));
  add('concat', 'axis 0 [1,3,5]x3', (m) => m.be.concat([m.a(193, [1, 3, 5]), m.a(194, [1, 3, 5]), m.a(195, [1, 3, 5])], 0));
  add('slice', 'axis 1 [2,9,5] 2:7', (m) => m.be.slice(m.a(196, [2, 9, 5]), 1, 2, 7));
  add('slice', 'axis 2 [2,3,11] 4:11', (m) => m.be.slice(m.a(197, [2, 3, 11]), 2, 4, 11));
  add('nchwToNlc', '[2,5,3,7]', (m) => m.be.nchwToNlc(m.a(198, [2, 5, 3, 7])));
  add('nchwToNlc', '[1,13,9,1]', (m) => m.be.nchwToNlc(m.a(199, [1, 13, 9, 1])));
  add('nlcToNchw', '[2,21,5] 3x7', (m) => m.be.nlcToNchw(m.a(200, [2, 21, 5]), 3, 7));
  add('nlcToNchw', '[1,9,13] 9x1', (m) => m.be.nlcToNchw(m.a(201, [1, 9, 13]), 9, 1));

  // ---- embeddings and images
  add('timestepEmbedding', '[999,749.25,1] dim 32 flip', (m) => m.be.timestepEmbedding(new Float32Array([999, 749.25, 1]), 32, true, 0));
  add('timestepEmbedding', '[499.5] dim 14 shift 1', (m) => m.be.timestepEmbedding(new Float32Array([499.5]), 14, false, 1));
  const ids = (seed: number, len: number, vocab: number) =>
    Int32Array.from(rand(len, seed), (v) => Math.min(vocab - 1, Math.floor((v * 0.5 + 0.5) * vocab)));
  add('embedding', 'B2 L7 vocab 23 D12', (m) => m.be.embedding(ids(202, 14, 23), 2, m.w(203, [23, 12]), m.w(204, [9, 12])));
  add('embedding', 'B1 L13 vocab 5 D33', (m) => m.be.embedding(ids(205, 13, 5), 1, m.w(206, [5, 33]), m.w(207, [13, 33])));
  const rgb = (seed: number, count: number) => Uint8Array.from(rand(count, seed), (v) => Math.floor((v * 0.5 + 0.5) * 256) & 255);
  add('imageToTensor', '7x9', (m) => m.be.imageToTensor(rgb(208, 7 * 9 * 3), 7, 9));
  add('imageToTensor', '13x5', (m) => m.be.imageToTensor(rgb(209, 13 * 5 * 3), 13, 5));
  // Values (k + 0.3) / 255 away from rounding ties, plus some outside [-1, 1] to exercise the clamp.
  const img = (seed: number, shape: number[]) => {
    const r = rand(n(shape), seed);
    return Float32Array.from(r, (v, i) => (i % 17 === 0 ? v * 3 : ((Math.floor((v * 0.5 + 0.5) * 255) + 0.3) / 255 - 0.5) * 2));
  };
  add('tensorToImage', '[1,3,7,9]', (m) => m.be.tensorToImage(m.be.fromArray(img(210, [1, 3, 7, 9]), [1, 3, 7, 9])));
  add('tensorToImage', '[1,3,11,6]', (m) => m.be.tensorToImage(m.be.fromArray(img(211, [1, 3, 11, 6]), [1, 3, 11, 6])));
  return c;
}

function maker(be: Backend): Make {
  return {
    be,
    a: (seed, shape, scale = 1, offset = 0) => be.fromArray(rand(n(shape), seed, scale, offset), shape),
    w: (seed, shape, scale = 1, offset = 0) => be.weight({ dtype: 'f32', data: rand(n(shape), seed, scale, offset) }, shape),
  };
}

const HOST_COMPUTED = new Set(['timestepEmbedding']);

export interface OpResult {
  op: string;
  name: string;
  shape: number[];
  err: number;
  /** 'ok', or the guard's error; 'n/a' for u8 image outputs, 'host' for outputs uploaded from the host */
  sentinel: string;
}

export default async function opsVsCpu() {
  const ctx = await acquireDevice();
  try {
    const gpu = new WebGpuBackend(ctx);
    gpu.rt.sentinel = true;
    const cpu = new CpuBackend();
    const mg = maker(gpu);
    const mc = maker(cpu);
    const results: OpResult[] = [];
    for (const k of cases()) {
      const yc = k.run(mc);
      const yg = k.run(mg);
      let ref: ArrayLike<number>, ours: ArrayLike<number>, shape: number[];
      let sentinel = 'n/a';
      if (yc instanceof Promise) {
        const [a, b] = await Promise.all([yc, yg as Promise<Uint8Array>]);
        ref = Array.from(a, (v) => v / 255); // levels as a fraction of the range: one level is 3.9e-3
        ours = Array.from(b, (v) => v / 255);
        shape = [a.length];
      } else {
        const g = yg as GpuTensor;
        shape = [...g.shape];
        if (shape.join() !== yc.shape.join()) throw new Error(`${k.op} ${k.name}: gpu shape [${shape}] vs cpu [${yc.shape}]`);
        ref = await cpu.read(yc);
        ours = await gpu.read(g);
        // timestepEmbedding is computed on the host and uploaded (no kernel writes it): its buffer has no guard
        if (HOST_COMPUTED.has(k.op)) sentinel = 'host';
        else {
          try {
            await gpu.rt.checkSentinel(g, `${k.op} ${k.name}`);
            sentinel = 'ok';
          } catch (e) {
            sentinel = (e as Error).message;
          }
        }
      }
      results.push({ op: k.op, name: k.name, shape, err: normErr(ours, ref), sentinel });
    }
    return { realm: realm(), adapter: describeAdapter(ctx), activationDtype: gpu.rt.activationDtype, results };
  } finally {
    ctx.device.destroy();
  }
}
