// Runs once before the Node test files: says which Vulkan driver the GPU tests will use.
export default function setup(): void {
  const icd = process.env.VK_ICD_FILENAMES;
  console.log(`[retouch tests] VK_ICD_FILENAMES=${icd ?? '(unset: GPU tests will fail; run through npm test)'}`);
}
