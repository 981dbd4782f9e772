// The one path for a picked, dropped, pasted or example image: decode it in the page, add it to the history
// (it becomes what the next edit starts from), or say why it cannot be used. Nothing else is touched on failure.
import { decodeImage, ImageInputError } from '../../image_io.ts';
import { getState, setState } from '../index.ts';
import { newEntryId } from '../history_slice.ts';

export async function openImage(blob: Blob, name = ''): Promise<boolean> {
  const { notify, dismiss } = getState();
  let decoded;
  try {
    decoded = await decodeImage(blob, name);
  } catch (e) {
    const reason = e instanceof ImageInputError ? e.reason : 'corrupt';
    notify({
      level: 'error',
      topic: 'image',
      code: 'bad-image',
      title: reason === 'not-image' ? 'That file is not an image' : 'That image cannot be used',
      text: e instanceof Error ? e.message : String(e),
    });
    return false;
  }
  const { image, original } = decoded;
  setState((s) => {
    const entries = [...s.entries.slice(0, s.index + 1), { id: newEntryId(), kind: 'input' as const, image, title: name || 'pasted image', parentId: null }];
    return { entries, index: entries.length - 1 };
  });
  if (original) {
    notify({
      level: 'info',
      topic: 'image',
      code: 'scaled',
      title: 'Large photo scaled down',
      text: `${name || 'The image'} is ${original.width}×${original.height}; it was scaled to ${image.width}×${image.height} on opening. Edits run at the Size set under Settings.`,
    });
  } else {
    dismiss('image');
  }
  return true;
}

/** Fetches an example photo shipped with the page and opens it. */
export async function openExample(url: string, name: string): Promise<void> {
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    await openImage(await res.blob(), name);
  } catch (e) {
    getState().notify({
      level: 'error',
      topic: 'image',
      code: 'example',
      title: 'The example photo did not load',
      text: `${name}: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
}
