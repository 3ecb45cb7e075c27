/** Binary formats a version may be downloaded as, by extension (the rest are JSON lines). */
const binaryFormats: Record<string, { extension: string }> = {
  parquet: { extension: 'parquet' },
};

/** `<name-slug>-v<id>-<split>.<format>.jsonl` (or `.parquet`): letters, digits, dots, dashes and underscores only. */
export function versionFileName(version: { id: number; name: string }, format: string, split: string): string {
  const slug =
    version.name
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 80)
      .replace(/[-.]+$/, '') || 'dataset';
  const binary = binaryFormats[format];
  return binary ? `${slug}-v${version.id}-${split}.${binary.extension}` : `${slug}-v${version.id}-${split}.${format}.jsonl`;
}
