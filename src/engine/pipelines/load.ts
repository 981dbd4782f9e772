// Builds a ready pipeline from a loaded diffusers folder: typed configs, the tokenizer, and the three networks on
// a backend, each checked by VarBuilder.finish() (nothing missing, wrongly shaped or left unused).
import { parseClipTextConfig, parseUNetConfig, parseVaeConfig } from '../models/configs.ts';
import { CLIPTextModel } from '../models/modeling_clip.ts';
import { AutoencoderKL } from '../models/autoencoder_kl.ts';
import { UNet2DConditionModel } from '../models/unet_2d_condition.ts';
import type { Backend } from '../ops/ops.ts';
import { ClipTokenizer } from '../tokenizer/clip_tokenizer.ts';
import type { PipelineFolder } from '../weights/diffusers.ts';
import { VarBuilder } from '../weights/var_builder.ts';
import type { SchedulerConfigJson } from '../schedulers/index.ts';
import { InstructPix2PixPipeline } from './pipeline_instruct_pix2pix.ts';

export function buildPipeline(be: Backend, folder: PipelineFolder): InstructPix2PixPipeline {
  const tokenizer = ClipTokenizer.fromFiles(folder.tokenizer);
  const vbText = VarBuilder.from(be, folder.weights.text_encoder);
  const textEncoder = new CLIPTextModel(vbText, parseClipTextConfig(folder.configs.text_encoder));
  vbText.finish();
  const vaeConfig = parseVaeConfig(folder.configs.vae);
  const vbVae = VarBuilder.from(be, folder.weights.vae);
  const vae = new AutoencoderKL(vbVae, vaeConfig);
  vbVae.finish();
  const vbUnet = VarBuilder.from(be, folder.weights.unet);
  const unet = new UNet2DConditionModel(vbUnet, parseUNetConfig(folder.configs.unet));
  vbUnet.finish();
  return new InstructPix2PixPipeline(be, {
    tokenizer,
    textEncoder,
    vae,
    unet,
    schedulerConfig: folder.configs.scheduler as SchedulerConfigJson,
    scalingFactor: vaeConfig.scaling_factor,
  });
}
