// Loads a diffusers pipeline folder (model_index.json, per-component config.json, tokenizer files, safetensors
// weights) from any FileSource into host memory, choosing fp16 or fp32 weight files, and maps the legacy VAE
// attention names as diffusers does. Typed config parsing lives in models/configs.ts; this file hands raw JSON.
import type { WeightData } from '../ops/ops.ts';
import { bf16BitsToF32 } from './f16.ts';
import { SafetensorsFile, type HostTensor, type StDType } from './safetensors.ts';
import type { FileSource } from './sources.ts';
import { KNOWN_EXTRAS, type WeightSource } from './var_builder.ts';

export { fileListSource, nodeFolderSource, urlSource, SourceError } from './sources.ts';
export type { FileSource, PickedFile } from './sources.ts';

export class LoadError extends Error {
  override name = 'LoadError';
}

export type Variant = 'fp16' | 'fp32' | 'auto';
export type Component = 'unet' | 'vae' | 'text_encoder';
export const COMPONENTS: readonly Component[] = ['unet', 'vae', 'text_encoder'];
type Json = Record<string, unknown>;

/** Weight file stem per component; the file is STEM.safetensors or STEM.fp16.safetensors. */
export const WEIGHT_STEMS: Record<Component, string> = {
  unet: 'unet/diffusion_pytorch_model',
  vae: 'vae/diffusion_pytorch_model',
  text_encoder: 'text_encoder/model',
};

export interface ModelIndex extends Json {
  _class_name: string;
  _diffusers_version?: string;
}

export interface TokenizerFiles {
  vocab: Record<string, number>;
  /** merges.txt lines WITHOUT the '#version' header line and without empty lines, all of them (CLIPTokenizer
   * itself uses only the first 49152 - 256 - 2 = 48894). */
  merges: string[];
  /** tokenizer_config.json ({} when the folder has none); AddedToken objects are left as they are. */
  config: Json;
  specialTokensMap?: Json;
}

export interface WeightFileInfo {
  component: Component;
  path: string;
  bytes: number;
  tensors: number;
  /** Elements over all tensors, float or not. */
  params: number;
  dtypes: Partial<Record<StDType, number>>;
  /** Keys checkpoints carry that the models ignore (var_builder's KNOWN_EXTRAS). */
  extras: string[];
}

/** Everything but the tensor data: the headers of the chosen weight files are read, nothing more. */
export interface PipelineFolderInfo {
  source: string;
  modelIndex: ModelIndex;
  configs: { unet: Json; vae: Json; text_encoder: Json; scheduler: Json };
  tokenizer: TokenizerFiles;
  weightFiles: Record<Component, SafetensorsFile>;
  files: WeightFileInfo[];
}

export interface PipelineFolder extends Omit<PipelineFolderInfo, 'weightFiles'> {
  weights: Record<Component, HostWeightSource>;
}

export interface LoadOptions {
  /** 'auto' (default): the fp16 file where the folder has one, else fp32. */
  variant?: Variant;
  /** Bytes of weights read so far, over all components. */
  onProgress?: (p: { path: string; loadedBytes: number; totalBytes: number }) => void;
}

/** Host tensors by key, already read: the WeightSource that VarBuilder reads. */
export class HostWeightSource implements WeightSource {
  constructor(
    readonly name: string,
    private readonly tensors: Map<string, HostTensor>,
  ) {}

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  shape(key: string): readonly number[] | undefined {
    return this.tensors.get(key)?.shape;
  }

  tensor(key: string): HostTensor {
    const t = this.tensors.get(key);
    if (!t) throw new LoadError(`${this.name}: no tensor "${key}"`);
    return t;
  }

  /** F32 and F16 as stored; BF16 converted to f32 (once); integer tensors are not weights and throw. */
  data(key: string): WeightData {
    const t = this.tensor(key);
    if (t.dtype === 'F32') return { dtype: 'f32', data: t.data as Float32Array };
    if (t.dtype === 'F16') return { dtype: 'f16', data: t.data as Uint16Array };
    if (t.dtype === 'BF16') {
      const f = bf16BitsToF32(t.data as Uint16Array);
      this.tensors.set(key, { dtype: 'F32', shape: t.shape, data: f });
      return { dtype: 'f32', data: f };
    }
    throw new LoadError(`${this.name}: tensor "${key}" is ${t.dtype}, not a float weight`);
  }
}

/** Reads a whole safetensors file of `source` into a HostWeightSource (goldens, single components). Files under
 * vae/ get the legacy attention names mapped, as loadPipelineFolder does. */
export async function loadTensorFile(source: FileSource, path: string): Promise<HostWeightSource> {
  const file = await source.openSafetensors(path);
  const tensors = await file.readAll();
  return new HostWeightSource(file.fileName, path.startsWith('vae/') ? mapLegacyVaeNames(tensors, file.fileName) : tensors);
}

async function readJson(source: FileSource, path: string, what: string): Promise<Json> {
  if (!(await source.exists(path))) throw new LoadError(`${source.name}: missing ${path} (${what})`);
  const text = await source.readText(path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LoadError(`${source.name}/${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new LoadError(`${source.name}/${path}: not a JSON object`);
  }
  return json as Json;
}

async function readModelIndex(source: FileSource): Promise<ModelIndex> {
  if (!(await source.exists('model_index.json'))) {
    throw new LoadError(`not a diffusers pipeline folder: ${source.name} has no model_index.json`);
  }
  const index = await readJson(source, 'model_index.json', 'pipeline index');
  const cls = index._class_name;
  if (typeof cls !== 'string' || !/^(StableDiffusion\w*Pipeline|\w*InstructPix2Pix\w*)$/.test(cls)) {
    throw new LoadError(
      `not a diffusers pipeline folder: ${source.name}/model_index.json has _class_name ${JSON.stringify(cls)}, ` +
        'expected a StableDiffusion or InstructPix2Pix pipeline',
    );
  }
  if (/XL|StableDiffusion3/.test(cls)) throw new LoadError(`${source.name}: ${cls} is not supported (SD 1.x/2.x pipelines only)`);
  return index as ModelIndex;
}

async function readTokenizer(source: FileSource): Promise<TokenizerFiles> {
  const vocab = await readJson(source, 'tokenizer/vocab.json', 'CLIP tokenizer vocabulary');
  for (const [tok, id] of Object.entries(vocab)) {
    if (!Number.isSafeInteger(id)) throw new LoadError(`${source.name}/tokenizer/vocab.json: id of ${JSON.stringify(tok)} is not an integer`);
  }
  if (!(await source.exists('tokenizer/merges.txt'))) throw new LoadError(`${source.name}: missing tokenizer/merges.txt (BPE merges)`);
  const lines = (await source.readText('tokenizer/merges.txt')).split(/\r?\n/);
  const merges = lines.filter((l, i) => l !== '' && !(i === 0 && l.startsWith('#version')));
  const config = (await source.exists('tokenizer/tokenizer_config.json'))
    ? await readJson(source, 'tokenizer/tokenizer_config.json', 'tokenizer config')
    : {};
  const specialTokensMap = (await source.exists('tokenizer/special_tokens_map.json'))
    ? await readJson(source, 'tokenizer/special_tokens_map.json', 'special tokens')
    : undefined;
  return { vocab: vocab as Record<string, number>, merges, config, specialTokensMap };
}

/** The weight file of one component for the asked variant. */
async function weightPath(source: FileSource, component: Component, variant: Variant): Promise<string> {
  const stem = WEIGHT_STEMS[component];
  const fp16 = `${stem}.fp16.safetensors`;
  const fp32 = `${stem}.safetensors`;
  const [has16, has32] = await Promise.all([source.exists(fp16), source.exists(fp32)]);
  if (variant === 'fp16') {
    if (has16) return fp16;
    throw new LoadError(`${source.name}: missing ${fp16} (variant fp16 was asked${has32 ? `; ${fp32} exists` : ''})`);
  }
  if (has32 && variant === 'fp32') return fp32;
  if (variant === 'auto' && (has16 || has32)) return has16 ? fp16 : fp32;
  const hint = has16 ? ` (${fp16} exists: use variant fp16 or auto)` : '';
  if (!has16 && (await source.exists(`${stem}.bin`))) {
    throw new LoadError(`${source.name}: only ${stem}.bin (PyTorch pickle) found; convert it to ${fp32}`);
  }
  throw new LoadError(`${source.name}: missing ${fp32}${variant === 'auto' ? ` (and no ${fp16})` : hint}`);
}

function describe(component: Component, path: string, file: SafetensorsFile): WeightFileInfo {
  const dtypes: Partial<Record<StDType, number>> = {};
  let params = 0;
  for (const key of file.keys()) {
    const t = file.info(key);
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    params += t.shape.reduce((a, b) => a * b, 1);
  }
  const extras = file.keys().filter((k) => KNOWN_EXTRAS.some((re) => re.test(k)));
  return { component, path, bytes: file.byteLength, tensors: file.keys().length, params, dtypes, extras };
}

/** model_index.json, the component configs and the tokenizer files (no weights). */
export async function readPipelineConfigs(source: FileSource): Promise<Omit<PipelineFolderInfo, 'weightFiles' | 'files'>> {
  const modelIndex = await readModelIndex(source);
  const configs = {
    unet: await readJson(source, 'unet/config.json', 'UNet config'),
    vae: await readJson(source, 'vae/config.json', 'VAE config'),
    text_encoder: await readJson(source, 'text_encoder/config.json', 'text encoder config'),
    scheduler: await readJson(source, 'scheduler/scheduler_config.json', 'scheduler config'),
  };
  const tokenizer = await readTokenizer(source);
  return { source: source.name, modelIndex, configs, tokenizer };
}

/** The chosen weight file of each component, opened (headers read, no tensor data). */
export async function openWeightFiles(source: FileSource, variant: Variant = 'auto') {
  const weightFiles = {} as Record<Component, SafetensorsFile>;
  const files: WeightFileInfo[] = [];
  for (const c of COMPONENTS) {
    const path = await weightPath(source, c, variant);
    weightFiles[c] = await source.openSafetensors(path);
    files.push(describe(c, path, weightFiles[c]));
  }
  return { weightFiles, files };
}

/** Index, configs, tokenizer files and weight headers; no tensor data is read. */
export async function openPipelineFolder(source: FileSource, opts: LoadOptions = {}): Promise<PipelineFolderInfo> {
  const configs = await readPipelineConfigs(source);
  return { ...configs, ...(await openWeightFiles(source, opts.variant ?? 'auto')) };
}

/** The whole pipeline folder with every weight read into host memory. */
export async function loadPipelineFolder(source: FileSource, opts: LoadOptions = {}): Promise<PipelineFolder> {
  const { weightFiles, ...info } = await openPipelineFolder(source, opts);
  const totalBytes = info.files.reduce((a, f) => a + f.bytes, 0);
  let before = 0;
  const weights = {} as Record<Component, HostWeightSource>;
  for (const f of info.files) {
    const file = weightFiles[f.component];
    const onBytes = (done: number) => opts.onProgress?.({ path: f.path, loadedBytes: before + done, totalBytes });
    let tensors = await file.readAll({ onBytes });
    if (f.component === 'vae') tensors = mapLegacyVaeNames(tensors, file.fileName);
    weights[f.component] = new HostWeightSource(file.fileName, tensors);
    before += f.bytes;
  }
  return { ...info, weights };
}

const LEGACY_ATTENTION = /^(.*\.attentions\.\d+\.)(query|key|value|proj_attn)\.(weight|bias)$/;
const LEGACY_TARGET: Record<string, string> = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' };

/** Old VAE checkpoints name the mid-block attention query/key/value/proj_attn (sometimes as 1x1 convs); diffusers
 * renames them on load to to_q/to_k/to_v/to_out.0. [C, C, 1, 1] weights become [C, C] (same data). */
export function mapLegacyVaeNames(tensors: Map<string, HostTensor>, fileName: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [key, t] of tensors) {
    const m = LEGACY_ATTENTION.exec(key);
    if (!m) {
      out.set(key, t);
      continue;
    }
    const renamed = `${m[1]}${LEGACY_TARGET[m[2]]}.${m[3]}`;
    if (tensors.has(renamed)) throw new LoadError(`${fileName}: has both ${key} and ${renamed}`);
    const [c0, c1, kh, kw] = t.shape;
    const squeeze = m[3] === 'weight' && t.shape.length === 4 && kh === 1 && kw === 1;
    out.set(renamed, squeeze ? { ...t, shape: [c0, c1] } : t);
  }
  return out;
}
