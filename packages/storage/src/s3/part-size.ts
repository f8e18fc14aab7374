/** S3's smallest part (except the last), in bytes: 5 MiB. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's largest part, in bytes: 5 GiB. */
export const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
/** S3's most parts in one multipart upload. */
export const MAX_PARTS = 10_000;
/** For streams of unknown size, the part size doubles after every this many parts. */
export const PARTS_PER_SIZE_STEP = 1_000;

const MiB = 1024 * 1024;

/**
 * Chooses the part size for an upload of `sizeBytes` (undefined when unknown): the configured
 * size, raised so that the object fits in {@link MAX_PARTS} parts, rounded up to whole MiB.
 */
export function choosePartSize(sizeBytes: number | undefined, configuredBytes: number): number {
  const base = Math.max(MIN_PART_BYTES, configuredBytes);
  if (sizeBytes === undefined) return base;
  const needed = Math.ceil(sizeBytes / MAX_PARTS / MiB) * MiB;
  return Math.min(MAX_PART_BYTES, Math.max(base, needed));
}

/**
 * The size of part `partNumber` (1-based). With a known size every part but the last has the
 * same size. With an unknown size the size doubles every {@link PARTS_PER_SIZE_STEP} parts, so a
 * stream never hits the 10,000-part limit before about `partSize × 1,023,000` bytes (about 8 TiB
 * at 8 MiB parts), while small streams still use small parts.
 */
export function partSizeFor(partNumber: number, basePartBytes: number, sizeKnown: boolean): number {
  if (sizeKnown) return basePartBytes;
  const step = Math.floor((partNumber - 1) / PARTS_PER_SIZE_STEP);
  return Math.min(MAX_PART_BYTES, basePartBytes * 2 ** step);
}

/** The largest stream of unknown size that fits in {@link MAX_PARTS} parts, in bytes. */
export function maxUnknownSizeBytes(basePartBytes: number): number {
  let total = 0;
  for (let part = 1; part <= MAX_PARTS; part += PARTS_PER_SIZE_STEP) {
    total += PARTS_PER_SIZE_STEP * partSizeFor(part, basePartBytes, false);
  }
  return total;
}
