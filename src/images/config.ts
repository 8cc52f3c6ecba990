import { z } from 'zod';
import { env, loadConfig, serviceEnvShape, transactionEnvShape, type Env } from '../platform/config.js';
import { uploadTransactionModes } from '../contracts/transactions.js';

export const imagesConfigSchema = z.object({
  ...serviceEnvShape,
  /** The service's own role (easel_images) on both data nodes; its password comes apart, in DATABASE_PASSWORD. */
  DATABASE_URL: z.string().startsWith('postgres').default('postgres://easel_images@127.0.0.1:5441,127.0.0.1:5442/images?target_session_attrs=primary'),
  DATABASE_PASSWORD: env.secret(),
  /** Largest accepted upload, in bytes (default 10 MiB). */
  MAX_IMAGE_BYTES: env.positiveInt(10 * 1024 * 1024),
  /** Largest accepted width x height (default 40 megapixels); refuses decompression bombs before decoding. */
  MAX_IMAGE_PIXELS: env.positiveInt(40_000_000),
  /** Seconds one decoding pipeline of an upload may take before it is refused (413): a small file can hold a costly image. Whole seconds: libvips (sharp's `timeout`) counts no finer. */
  IMAGE_DECODE_BUDGET_SECONDS: env.positiveInt(10),
  ...transactionEnvShape,
  /** How uploads and deletes stay consistent across users, images and recommendations (docs/transactions.md). */
  UPLOAD_TRANSACTION: z.enum(uploadTransactionModes).default('saga'),
  /** An upload or delete transaction untouched this long is taken over by recovery (its coordinator died or hangs). */
  TRANSACTION_RECOVER_AFTER_MS: env.milliseconds(30_000),
  /** How often each images instance looks for such transactions. */
  TRANSACTION_RECOVERY_INTERVAL_MS: env.milliseconds(5_000),
});

export type ImagesConfig = Readonly<z.infer<typeof imagesConfigSchema>>;

export function loadImagesConfig(environment: Env = process.env): ImagesConfig {
  return loadConfig(imagesConfigSchema, environment);
}
