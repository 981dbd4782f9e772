// Suite: which adapter this browser gives acquireDevice(), with the device's limits and features, as JSON.
import { acquireDevice, describeAdapter } from '../../../src/engine/gpu/device.ts';
import { limitsJson, realm } from './context.ts';

export default async function adapter() {
  const ctx = await acquireDevice();
  try {
    return {
      realm: realm(),
      description: describeAdapter(ctx),
      info: ctx.adapterInfo,
      features: ctx.features,
      deviceFeatures: [...ctx.device.features].sort(),
      limits: limitsJson(ctx.device.limits),
    };
  } finally {
    ctx.device.destroy();
  }
}
